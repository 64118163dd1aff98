// name: upstream_suppliers
// description: Nodes that supply a node (up to three steps upstream) and the firms ranked best in each.
// param node_key: string = "ai/robot" -- the downstream node's key
// param max_rank: int = 3 -- list firms ranked this high or better in each supplier node
MATCH (s:TechNode)-[:SUPPLIES*1..3]->(t:TechNode {key: $node_key})
WITH DISTINCT s
OPTIONAL MATCH (f:Firm)-[r:RANKED_IN]->(s)
WHERE r.rank <= $max_rank
RETURN s.key AS supplier_node, s.name_en AS supplier_name, s.segment AS segment, r.rank AS rank,
       f.firm_id AS firm_id, f.name AS firm
ORDER BY supplier_node, rank
