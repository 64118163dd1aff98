// name: group_subsidiaries_nodes
// description: Subsidiaries of a group (up to three levels down) and, chain by chain, the technology nodes their patents fall in.
// param group_id: string = "91440300MA5GRUP009" -- the parent firm
// One row per subsidiary and chain (one row with no chain when it holds no node's patents), ordered by firm and
// chain. `nodes` is ACTIVE_IN_CHAIN's list of node keys, which the load stores sorted: collect() would list them
// in storage order on LadybugDB, and neither backend has a list sort both accept.
MATCH (s:Firm)-[:SUBSIDIARY_OF*1..3]->(g:Firm {firm_id: $group_id})
WITH DISTINCT s
OPTIONAL MATCH (s)-[a:ACTIVE_IN_CHAIN]->(c:Chain)
RETURN s.firm_id AS firm_id, s.name AS firm, s.status AS status, c.chain_id AS chain_id, a.nodes AS nodes
ORDER BY firm_id, chain_id
