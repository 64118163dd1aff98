// name: firms_in_several_nodes
// description: Firms holding patents in at least `min_nodes` technology nodes of a chain (accepted links only).
// param chain_id: string = "ai" -- the chain
// param min_nodes: int = 2 -- the fewest distinct nodes a firm must be present in
// Accepted links first, so that LadybugDB hash-joins them rather than look up the link of every path.
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)
WHERE m.decision IN ['auto', 'manual']
WITH a, f
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)<-[:IN_NODE]-(p:Patent)<-[:FILED]-(a)
WITH f, count(DISTINCT t) AS node_count, collect(DISTINCT t.key) AS nodes, count(DISTINCT p) AS patents
WHERE node_count >= $min_nodes
RETURN f.firm_id AS firm_id, f.name AS firm, node_count, nodes, patents
ORDER BY node_count DESC, patents DESC, firm_id
