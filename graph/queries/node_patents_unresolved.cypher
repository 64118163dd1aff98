// name: node_patents_unresolved
// description: Patents of a node that no applicant's accepted link attributes to any firm (universities, persons, open review).
// param node_key: string = "ai/vision" -- the node's key
// Patent.resolved is set by the load: some applicant of the patent has an accepted link (auto, manual) to a firm.
MATCH (p:Patent)-[:IN_NODE]->(t:TechNode {key: $node_key})
WHERE NOT p.resolved
OPTIONAL MATCH (a:Applicant)-[filed:FILED]->(p)
// applicants in their order on the patent (sorted before collect(); SKIP 0 because LadybugDB wants it after ORDER BY)
WITH p, a, filed.position AS position
ORDER BY position SKIP 0
RETURN p.publication_number AS publication_number, p.title AS title, p.year AS year,
       collect(a.name) AS applicants, collect(a.applicant_type) AS applicant_types
ORDER BY publication_number
