// name: firm_patents_and_nodes
// description: A firm's patents (through every accepted applicant link), each with the names it was filed under and how each name links to the firm (filed_as[i] by link_types[i]), and the technology nodes it falls in.
// param firm_id: string = "91440300MA5CHIP001" -- the firm's unified social credit code
// Lists in a fixed order on both backends: (name, link type) pairs by name, nodes by key. Values are made distinct,
// sorted, then collected with a plain collect(): collect(DISTINCT ...) lists in hash order on LadybugDB, and
// LadybugDB wants SKIP after ORDER BY in WITH (SKIP 0 changes nothing).
MATCH (f:Firm {firm_id: $firm_id})<-[m:RESOLVES_TO]-(a:Applicant)-[:FILED]->(p:Patent)
WHERE m.decision IN ['auto', 'manual']
WITH DISTINCT p, a.name AS name, m.link_type AS link_type
ORDER BY name, link_type SKIP 0
WITH p, collect(name) AS filed_as, collect(link_type) AS link_types
OPTIONAL MATCH (p)-[:IN_NODE]->(t:TechNode)
WITH p, filed_as, link_types, t.key AS node
ORDER BY node SKIP 0
RETURN p.publication_number AS publication_number, p.title AS title, p.year AS year,
       p.patent_type AS patent_type, filed_as, link_types, collect(node) AS nodes
ORDER BY publication_number
