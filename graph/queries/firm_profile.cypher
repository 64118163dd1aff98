// name: firm_profile
// description: One firm's register facts, region, parent group and the nodes it is ranked in.
// param firm_id: string = "91440300MA5CHIP001" -- the firm's unified social credit code
MATCH (f:Firm {firm_id: $firm_id})
OPTIONAL MATCH (f)-[:LOCATED_IN]->(region:Region)
OPTIONAL MATCH (f)-[:SUBSIDIARY_OF]->(parent:Firm)
OPTIONAL MATCH (f)-[r:RANKED_IN]->(t:TechNode)
// ranked_in by node key on both backends: sorted before a plain collect() (one RANKED_IN per node, so no DISTINCT,
// which would list in hash order on LadybugDB; SKIP 0 because LadybugDB wants it after ORDER BY)
WITH f, region, parent, t.key AS node, r.rank AS rank
ORDER BY node SKIP 0
RETURN f.firm_id AS firm_id, f.name AS firm, f.status AS status, f.established_date AS established,
       f.size_band AS size_band, region.key AS region, parent.name AS parent,
       collect(node) AS ranked_in, min(rank) AS best_rank
