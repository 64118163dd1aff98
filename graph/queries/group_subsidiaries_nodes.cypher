// name: group_subsidiaries_nodes
// description: Subsidiaries of a group (up to three levels down) and the technology nodes their patents fall in.
// param group_id: string = "91440300MA5GRUP009" -- the parent firm
// Reads ACTIVE_IN, the load's firm -> node summary of patents through accepted links.
MATCH (s:Firm)-[:SUBSIDIARY_OF*1..3]->(g:Firm {firm_id: $group_id})
OPTIONAL MATCH (s)-[:ACTIVE_IN]->(t:TechNode)
RETURN s.firm_id AS firm_id, s.name AS firm, s.status AS status, collect(DISTINCT t.key) AS nodes
ORDER BY firm_id
