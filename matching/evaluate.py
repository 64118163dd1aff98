"""Evaluate the matches in a workspace against a label file.

Labels: CSV `applicant_name,address,expected_firm_id,applicant_type` (expected NONE = the
applicant must not resolve to any firm). Each label is looked up among the workspace's filings
by raw name and address (by raw name alone when the label has no address or the address finds
nothing); labels whose name is not in the workspace are counted as `not_found` and left out of
the figures (they say nothing about this run). The prediction is the applicant's accepted
(auto or manual) direct / former-name / legal-representative link with the highest score;
subsidiary links are attributions on top and are not scored here.

precision = correct links / links made; recall = correct links / labelled links.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from graph.workspace import Workspace

LABEL_COLUMNS = ("applicant_name", "address", "expected_firm_id", "applicant_type")
NONE = "NONE"


@dataclass
class Metrics:
    labels: int = 0
    links_made: int = 0
    correct: int = 0
    labelled_links: int = 0
    in_review: int = 0  # labelled links whose right firm waits in review

    @property
    def precision(self) -> float:
        return self.correct / self.links_made if self.links_made else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.labelled_links if self.labelled_links else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class MatchEvaluation:
    overall: Metrics
    by_type: dict[str, Metrics]
    type_accuracy: float  # applicant type from the classifier vs the label
    type_confusion: dict[str, dict[str, int]]  # label type -> predicted type -> count
    labels_read: int
    not_found: int
    errors: list[dict] = field(default_factory=list)

    def summary(self, max_errors: int | None = 30) -> str:
        """The figures, then the errors one per line (the first `max_errors`; None = all)."""
        lines = [f"labels {self.labels_read}, not in workspace {self.not_found}, "
                 f"applicant-type accuracy {self.type_accuracy:.3f}",
                 f"{'type':<20}{'labels':>8}{'links':>8}{'correct':>9}{'truth':>8}{'review':>8}"
                 f"{'prec':>8}{'recall':>8}{'F1':>8}"]
        for name, m in [("overall", self.overall), *sorted(self.by_type.items())]:
            lines.append(f"{name:<20}{m.labels:>8}{m.links_made:>8}{m.correct:>9}{m.labelled_links:>8}"
                         f"{m.in_review:>8}{m.precision:>8.4f}{m.recall:>8.4f}{m.f1:>8.4f}")
        kinds = Counter(e["error"] for e in self.errors)
        lines.append("errors: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"))
        # wrong links first: they are what a bank must never act on
        order = {"false_link": 0, "wrong_firm": 1, "missed": 2}
        shown = sorted(self.errors, key=lambda e: order[e["error"]])[:max_errors]
        for e in shown:
            review = " (right firm in review)" if e["expected_in_review"] else ""
            lines.append(f"  {e['error']:<11} {e['applicant_name']} [{e['address'] or '-'}] type={e['applicant_type']}"
                         f" expected={e['expected_firm_id']} got={e['predicted_firm_id']} ({e['decision']}, "
                         f"{e['score']:.2f}){review}")
        if len(shown) < len(self.errors):
            lines.append(f"  ... {len(self.errors) - len(shown)} more")
        return "\n".join(lines)


def read_labels(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: label file lacks columns {missing}; expected {', '.join(LABEL_COLUMNS)}")
        rows = []
        for position, row in enumerate(reader, start=1):
            if not (row["applicant_name"] or "").strip() or not (row["expected_firm_id"] or "").strip():
                field_name = "applicant_name" if not (row["applicant_name"] or "").strip() else "expected_firm_id"
                raise ValueError(f"{path}: row {position}: {field_name} is empty")
            rows.append(row)
        return rows


def _predictions(matches: pd.DataFrame) -> tuple[dict[str, tuple[str, str, float]], dict[str, set[str]]]:
    """applicant_id -> (firm_id, decision, score) of its accepted link; applicant_id -> firms in review."""
    links = matches[matches["firm_id"].notna() & (matches["link_type"] != "subsidiary")]
    accepted = links[links["decision"].isin(["auto", "manual"])].sort_values("score", ascending=False)
    best = {aid: (fid, dec, score) for aid, fid, dec, score in
            accepted.drop_duplicates("applicant_id")[["applicant_id", "firm_id", "decision", "score"]]
            .itertuples(index=False)}
    review: dict[str, set[str]] = defaultdict(set)
    for aid, fid in links.loc[links["decision"] == "review", ["applicant_id", "firm_id"]].itertuples(index=False):
        review[aid].add(fid)
    return best, review


def evaluate_matching(workspace: Workspace, labels: Path) -> MatchEvaluation:
    best, review = _predictions(workspace.read_df("matches"))
    return evaluate_links(workspace, labels, best, review)


def evaluate_links(workspace: Workspace, labels: Path, best: dict[str, tuple[str, str, float]],
                   review: dict[str, set[str]] | None = None) -> MatchEvaluation:
    """Score given links (applicant_id -> (firm_id, decision, score)) against a label file, using the
    workspace's filings and applicants to find each label's applicant; baselines use it too."""
    rows = read_labels(Path(labels))
    review = review or {}
    filings = workspace.read_df("filings", columns=["applicant_id", "raw_name", "address"])
    applicants = workspace.read_df("applicants", columns=["applicant_id", "applicant_type"])
    type_of = dict(zip(applicants["applicant_id"], applicants["applicant_type"], strict=True))

    by_name_address: dict[tuple[str, str], Counter] = defaultdict(Counter)
    by_name: dict[str, Counter] = defaultdict(Counter)
    for aid, raw, address in filings.itertuples(index=False):
        by_name_address[(raw, address or "")][aid] += 1
        by_name[raw][aid] += 1

    overall, by_type = Metrics(), defaultdict(Metrics)
    confusion: dict[str, Counter] = defaultdict(Counter)
    errors, not_found, typed_right = [], 0, 0
    for row in rows:
        name, address = row["applicant_name"].strip(), (row["address"] or "").strip()
        hits = by_name_address.get((name, address)) or by_name.get(name)
        if not hits:
            not_found += 1
            continue
        aid = hits.most_common(1)[0][0]
        expected, label_type = row["expected_firm_id"].strip(), (row["applicant_type"] or "unknown").strip()
        predicted, decision, score = best.get(aid, (NONE, "rejected", 0.0))
        confusion[label_type][type_of.get(aid, "unknown")] += 1
        typed_right += type_of.get(aid) == label_type
        for m in (overall, by_type[label_type]):
            m.labels += 1
            m.links_made += predicted != NONE
            m.labelled_links += expected != NONE
            m.correct += predicted != NONE and predicted == expected
            m.in_review += expected != NONE and predicted != expected and expected in review.get(aid, ())
        if predicted != expected:
            kind = "false_link" if expected == NONE else "missed" if predicted == NONE else "wrong_firm"
            errors.append({"error": kind, "applicant_name": name, "address": address, "applicant_type": label_type,
                           "predicted_type": type_of.get(aid), "applicant_id": aid, "expected_firm_id": expected,
                           "predicted_firm_id": predicted, "decision": decision, "score": score,
                           "expected_in_review": expected in review.get(aid, ())})
    found = len(rows) - not_found
    return MatchEvaluation(overall, dict(by_type), typed_right / found if found else 0.0,
                           {k: dict(v) for k, v in confusion.items()}, len(rows), not_found, errors)
