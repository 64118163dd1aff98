// name: region_node_counts
// description: For one chain, how many firms of each province hold patents in each node (accepted links only).
// param chain_id: string = "ai" -- the chain
// Accepted links first, so that LadybugDB hash-joins them rather than look up the link of every path.
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)-[:LOCATED_IN]->(r:Region)
WHERE m.decision IN ['auto', 'manual']
WITH a, f, r
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)<-[:IN_NODE]-(:Patent)<-[:FILED]-(a)
RETURN r.province AS province, t.key AS node_key, t.name_en AS node, count(DISTINCT f) AS firms
ORDER BY province, node_key
