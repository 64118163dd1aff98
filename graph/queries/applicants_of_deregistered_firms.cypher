// name: applicants_of_deregistered_firms
// description: Applicants attributed to a firm that no longer operates (deregistered, revoked, liquidating), with its successor.
// param limit: int = 100 -- at most this many rows
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)
WHERE f.status IN ['deregistered', 'revoked', 'liquidating']
OPTIONAL MATCH (successor:Firm {firm_id: f.successor_firm_id})
RETURN a.applicant_id AS applicant_id, a.name AS applicant, a.patent_count AS patents, f.firm_id AS firm_id,
       f.name AS firm, f.status AS status, f.deregistered_date AS deregistered_date,
       m.decision AS decision, successor.firm_id AS successor_id, successor.name AS successor
ORDER BY patents DESC, applicant_id
LIMIT $limit
