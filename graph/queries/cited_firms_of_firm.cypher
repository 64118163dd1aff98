// name: cited_firms_of_firm
// description: Firms whose patents are cited by a given firm's patents (knowledge it builds on), most cited first.
// param firm_id: string = "91440101MA5ROBT007" -- the citing firm
MATCH (f:Firm {firm_id: $firm_id})<-[m1:RESOLVES_TO]-(:Applicant)-[:FILED]->(p:Patent)-[:CITES]->(q:Patent)<-[:FILED]-(:Applicant)-[m2:RESOLVES_TO]->(g:Firm)
WHERE m1.decision IN ['auto', 'manual'] AND m2.decision IN ['auto', 'manual'] AND g.firm_id <> f.firm_id
// cited in publication-number order: made distinct, sorted, then a plain collect() (collect(DISTINCT ...) would list
// in hash order on LadybugDB; SKIP 0 because LadybugDB wants it after ORDER BY)
WITH DISTINCT g, q.publication_number AS cited_number
ORDER BY cited_number SKIP 0
RETURN g.firm_id AS firm_id, g.name AS firm, count(cited_number) AS cited_patents, collect(cited_number) AS cited
ORDER BY cited_patents DESC, firm_id
