// name: chain_overview
// description: Per node of a chain: patents, firms ranked and the top-ranked firm.
// param chain_id: string = "ai" -- the chain
// TechNode.patent_count is set by the load (the node's IN_NODE patents); a firm has one RANKED_IN per node.
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)
OPTIONAL MATCH (f:Firm)-[r:RANKED_IN]->(t)
WITH t, count(r) AS ranked_firms, min(r.rank) AS best_rank
OPTIONAL MATCH (top:Firm)-[best:RANKED_IN]->(t)
WHERE best.rank = best_rank
RETURN t.key AS node_key, t.name_en AS node, t.segment AS segment, t.patent_count AS patents, ranked_firms,
       top.name AS top_firm
ORDER BY node_key
