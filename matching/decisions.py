"""Review decisions: a CSV a reviewer (or the UI) appends to; applied before anything automatic.

Columns: applicant_id, action (accept | reject | choose), firm_id, reviewer, decided_at, note.
- accept: confirm the link to firm_id (usually the candidate a review row proposed)
- choose: link to firm_id even if the matcher never proposed it
- reject: with firm_id, never link to that firm (the matcher may pick another); without firm_id,
  the applicant resolves to no firm
Rows are applied in file order, so a later decision overrides an earlier one for the same pair.
A malformed row goes to quarantine (file, row, field, reason) and the others still apply.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from graph.workspace import Quarantine, Workspace

COLUMNS = ("applicant_id", "action", "firm_id", "reviewer", "decided_at", "note")
ACTIONS = ("accept", "reject", "choose")


@dataclass
class Review:
    """What reviewers decided for one applicant, after applying their rows in order."""

    chosen: str | None = None  # firm forced by accept/choose
    rejected_firms: set[str] = field(default_factory=set)
    reject_all: bool = False
    last: dict = field(default_factory=dict)  # the row that settled it, for the evidence


def load_reviews(path: Path, known_applicants: set[str], known_firms: set[str],
                 quarantine: Quarantine) -> tuple[dict[str, Review], int]:
    """Read the decisions file; return reviews per applicant and the number of rows read."""
    if not path.exists():
        return {}, 0
    reviews: dict[str, Review] = {}
    read = 0
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: decisions file lacks columns {missing}; expected {', '.join(COLUMNS)}")
        for position, row in enumerate(reader, start=1):
            read += 1
            problem = _check(row, known_applicants, known_firms)
            if problem:
                quarantine.add(str(path), position, problem[0], problem[1], dict(row))
                continue
            _apply(reviews.setdefault(row["applicant_id"], Review()), row)
    return reviews, read


def _check(row: dict, known_applicants: set[str], known_firms: set[str]) -> tuple[str, str] | None:
    action = (row.get("action") or "").strip()
    firm = (row.get("firm_id") or "").strip()
    if action not in ACTIONS:
        return "action", f"action {action!r} is not one of {', '.join(ACTIONS)}"
    if row["applicant_id"] not in known_applicants:
        return "applicant_id", f"applicant {row['applicant_id']!r} is not among this run's applicants"
    if action in ("accept", "choose") and not firm:
        return "firm_id", f"{action} needs a firm_id"
    if firm and firm not in known_firms:
        return "firm_id", f"firm {firm!r} is not in the firm register"
    if not (row.get("reviewer") or "").strip():
        return "reviewer", "reviewer is empty"
    return None


def _apply(review: Review, row: dict) -> None:
    firm = (row.get("firm_id") or "").strip() or None
    if row["action"] in ("accept", "choose"):
        review.chosen, review.reject_all = firm, False
        review.rejected_firms.discard(firm)
    elif firm:
        review.rejected_firms.add(firm)
        if review.chosen == firm:
            review.chosen = None
    else:
        review.chosen, review.reject_all = None, True
    review.last = {k: row.get(k) or "" for k in COLUMNS}


def record_decision(workspace: Workspace, applicant_id: str, action: str, firm_id: str | None, reviewer: str,
                    note: str = "") -> None:
    """Append one decision (validated against the workspace's applicants and firms)."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if action in ("accept", "choose") and not firm_id:
        raise ValueError(f"{action} needs a firm_id")
    if not reviewer.strip():
        raise ValueError("reviewer must be named")
    if workspace.has("applicants"):
        ids = set(workspace.read_df("applicants", columns=["applicant_id"])["applicant_id"])
        if applicant_id not in ids:
            raise ValueError(f"applicant {applicant_id!r} is not in {workspace.table_path('applicants')}")
    if firm_id and workspace.has("firms"):
        firms = set(workspace.read_df("firms", columns=["firm_id"])["firm_id"])
        if firm_id not in firms:
            raise ValueError(f"firm {firm_id!r} is not in {workspace.table_path('firms')}")
    path = workspace.decisions_path
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(COLUMNS)
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        writer.writerow([applicant_id, action, firm_id or "", reviewer, stamp, note])


def review_queue(workspace: Workspace) -> pd.DataFrame:
    """Links waiting for a person: applicant, candidate firm, score, link type; weakest first."""
    matches = workspace.read_df("matches", ["applicant_id", "firm_id", "score", "decision", "link_type"])
    pending = matches[matches["decision"] == "review"]
    applicants = workspace.read_df("applicants", ["applicant_id", "name", "applicant_type", "city"])
    firms = workspace.read_df("firms", ["firm_id", "name", "status", "city"])
    queue = pending.merge(applicants, on="applicant_id", how="left").merge(
        firms, on="firm_id", how="left", suffixes=("", "_firm")
    )
    queue = queue.rename(columns={"name": "applicant", "name_firm": "firm", "city": "applicant_city"})
    columns = ["applicant_id", "applicant", "applicant_type", "applicant_city", "firm_id", "firm", "status",
               "city_firm", "score", "link_type"]
    return queue[columns].sort_values(["score", "applicant_id", "firm_id"]).reset_index(drop=True)
