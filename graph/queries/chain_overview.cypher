// name: chain_overview
// description: Per node of a chain: patents, firms ranked and the top-ranked firm.
// param chain_id: string = "ai" -- the chain
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)
OPTIONAL MATCH (p:Patent)-[:IN_NODE]->(t)
WITH t, count(DISTINCT p) AS patents
OPTIONAL MATCH (f:Firm)-[r:RANKED_IN]->(t)
WITH t, patents, count(DISTINCT f) AS ranked_firms, min(r.rank) AS best_rank
OPTIONAL MATCH (top:Firm)-[best:RANKED_IN]->(t)
WHERE best.rank = best_rank
RETURN t.key AS node_key, t.name_en AS node, t.segment AS segment, patents, ranked_firms, top.name AS top_firm
ORDER BY node_key
