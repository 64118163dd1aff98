// name: person_applicants_linked
// description: Individual applicants attributed to the firm they run (legal representative links), with their patents.
// param limit: int = 100 -- at most this many rows
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)
WHERE a.applicant_type = 'individual' AND m.link_type = 'legal_representative'
OPTIONAL MATCH (a)-[:FILED]->(p:Patent)
RETURN a.applicant_id AS applicant_id, a.name AS person, f.firm_id AS firm_id, f.name AS firm,
       m.decision AS decision, count(p) AS patents
ORDER BY patents DESC, applicant_id
LIMIT $limit
