// name: applicants_needing_review
// description: Applicant-to-firm links waiting for a reviewer, the applicants with most patents first.
// param limit: int = 100 -- at most this many links
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)
WHERE m.decision = 'review'
RETURN a.applicant_id AS applicant_id, a.name AS applicant, a.patent_count AS patents, f.firm_id AS firm_id,
       f.name AS firm, m.score AS score, m.link_type AS link_type, m.evidence AS evidence
ORDER BY patents DESC, score DESC, applicant_id
LIMIT $limit
