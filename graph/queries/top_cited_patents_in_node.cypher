// name: top_cited_patents_in_node
// description: The most cited patents of a node (citations from any patent in the graph).
// param node_key: string = "ai/chip" -- the node's key
// param limit: int = 10 -- at most this many patents
// Patent.forward_citations is set by the load: the CITES relationships the patent receives.
MATCH (p:Patent)-[:IN_NODE]->(t:TechNode {key: $node_key})
RETURN p.publication_number AS publication_number, p.title AS title, p.year AS year,
       p.forward_citations AS forward_citations
ORDER BY forward_citations DESC, publication_number
LIMIT $limit
