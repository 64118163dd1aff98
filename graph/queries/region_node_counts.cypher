// name: region_node_counts
// description: For one chain, how many firms of each province hold patents in each node (accepted links only).
// param chain_id: string = "ai" -- the chain
// Reads ACTIVE_IN, the load's firm -> node summary of patents through accepted links (one per firm and node,
// so count(f) counts distinct firms), and the firm's own province: the one its LOCATED_IN region carries.
MATCH (t:TechNode {chain_id: $chain_id})<-[:ACTIVE_IN]-(f:Firm)
WHERE f.province IS NOT NULL
RETURN f.province AS province, t.key AS node_key, t.name_en AS node, count(f) AS firms
ORDER BY province, node_key
