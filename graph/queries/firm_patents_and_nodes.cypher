// name: firm_patents_and_nodes
// description: A firm's patents (through every accepted applicant link) and the technology nodes each falls in.
// param firm_id: string = "91440300MA5CHIP001" -- the firm's unified social credit code
MATCH (f:Firm {firm_id: $firm_id})<-[m:RESOLVES_TO]-(a:Applicant)-[:FILED]->(p:Patent)
WHERE m.decision IN ['auto', 'manual']
OPTIONAL MATCH (p)-[:IN_NODE]->(t:TechNode)
RETURN p.publication_number AS publication_number, p.title AS title, p.year AS year,
       p.patent_type AS patent_type, collect(DISTINCT a.name) AS filed_as,
       collect(DISTINCT m.link_type) AS link_types, collect(DISTINCT t.key) AS nodes
ORDER BY publication_number
