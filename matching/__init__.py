"""Matching: pierce the patent veil - resolve each applicant to the operating firm behind it.

    run_matching(workspace, run_id)        patents + firms + review decisions -> applicants, filings, matches
    evaluate_matching(workspace, labels)   precision / recall / F1 against a label file
    record_decision(workspace, ...)        append a reviewer's decision (applied before anything automatic)
    review_queue(workspace)                the links waiting for a reviewer
    normalize_name(name)                   the matching key of a raw name
    classify_applicant(name)               company / university / research_institute / hospital / ...
"""

from matching.classify import classify_applicant
from matching.decisions import record_decision, review_queue
from matching.evaluate import MatchEvaluation, evaluate_matching
from matching.normalize import normalize_name
from matching.pipeline import MatchReport, run_matching

__all__ = [
    "MatchEvaluation",
    "MatchReport",
    "classify_applicant",
    "evaluate_matching",
    "normalize_name",
    "record_decision",
    "review_queue",
    "run_matching",
]
