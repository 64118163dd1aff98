// name: chain_node_tree
// description: A chain's nodes with their parent, level, segment and weight, segment by segment.
// param chain_id: string = "ai" -- the chain
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)
OPTIONAL MATCH (t)-[:CHILD_OF]->(parent:TechNode)
RETURN t.segment AS segment, t.level AS level, t.key AS node_key, t.name_zh AS name_zh, t.name_en AS name_en,
       parent.key AS parent_key, t.weight AS weight
ORDER BY segment, level, node_key
