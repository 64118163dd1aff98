// name: node_firms_ranked
// description: Firms ranked in one technology node, best first, with score, tier, region and the reason.
// param node_key: string = "ai/chip" -- the node's key, chain_id/node_id
// param limit: int = 20 -- at most this many firms
MATCH (f:Firm)-[r:RANKED_IN]->(t:TechNode {key: $node_key})
OPTIONAL MATCH (f)-[:LOCATED_IN]->(region:Region)
RETURN r.rank AS rank, f.firm_id AS firm_id, f.name AS firm, f.status AS status, r.score AS score,
       r.tier AS tier, region.key AS region, r.explanation AS explanation
ORDER BY rank, firm_id
LIMIT $limit
