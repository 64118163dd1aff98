// name: firms_in_several_nodes
// description: Firms holding patents in at least `min_nodes` technology nodes of a chain (accepted links only).
// param chain_id: string = "ai" -- the chain
// param min_nodes: int = 2 -- the fewest distinct nodes a firm must be present in
// Reads ACTIVE_IN_CHAIN, the load's firm -> chain summary (distinct patents through accepted links, and the
// keys of the nodes they fall in), instead of walking every Firm <- Applicant -> Patent -> TechNode path.
MATCH (c:Chain {chain_id: $chain_id})<-[s:ACTIVE_IN_CHAIN]-(f:Firm)
WHERE s.node_count >= $min_nodes
RETURN f.firm_id AS firm_id, f.name AS firm, s.node_count AS node_count, s.nodes AS nodes, s.patents AS patents
ORDER BY node_count DESC, patents DESC, firm_id
