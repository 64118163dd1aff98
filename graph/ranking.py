"""Rank firms node by node: which operating firms hold a chain node's patents, best first.

A firm's patents in a node are the node's patents filed by applicants that resolve to it
through an accepted link (decision auto or manual). Each dimension is turned into a
percentile within the node and the percentiles are combined with weights into 0..100.
Ties break on patents in node, then firm id, so the same inputs give the same ranking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from graph.workspace import Workspace

ACCEPTED_DECISIONS = ("auto", "manual")
GRANTED_KINDS = ("B", "B1", "B2", "C", "U", "S", "Y")  # CN B/C grants, U/Y utility, S design; US B1/B2
RECENT_YEARS = 3
# Weights of the dimension percentiles; they sum to 1.
WEIGHTS = {"strength": 0.45, "citations": 0.25, "growth": 0.20, "share": 0.10}
TIER_CUTS = ((75.0, "A"), (50.0, "B"), (25.0, "C"))


@dataclass(frozen=True)
class RankReport:
    nodes_ranked: int
    firm_rows: int
    excluded_not_operating: int
    seconds: float


def rank_firms(workspace: Workspace, run_id: str) -> RankReport:
    """Read node_patents, filings, matches, firms and patents; write `firm_scores`."""
    start = time.perf_counter()
    patents = workspace.read_df(
        "patents", ["publication_number", "patent_type", "kind", "application_date", "cited_publications"]
    )
    links = _firm_patents(workspace)
    firms = workspace.read_df("firms", ["firm_id", "status"])
    node_patents = workspace.read_df("node_patents", ["chain_id", "node_id", "publication_number"])

    operating = set(firms.loc[firms["status"] == "operating", "firm_id"])
    excluded = links.loc[~links["firm_id"].isin(operating), "firm_id"].nunique()
    links = links[links["firm_id"].isin(operating)]

    facts = _patent_facts(patents)
    held = node_patents.merge(links, on="publication_number").merge(facts, on="publication_number")
    node_totals = node_patents.groupby(["chain_id", "node_id"]).size().rename("node_total")

    per_firm = (
        held.groupby(["chain_id", "node_id", "firm_id"])
        .agg(
            patents_in_node=("publication_number", "nunique"),
            inventions_in_node=("is_invention", "sum"),
            granted_in_node=("is_granted", "sum"),
            recent_filings=("is_recent", "sum"),
            forward_citations=("forward_citations", "sum"),
            match_confidence=("score", "min"),
            strength=("strength", "sum"),
        )
        .reset_index()
        .join(node_totals, on=["chain_id", "node_id"])
    )
    per_firm["node_share"] = per_firm["patents_in_node"] / per_firm["node_total"]
    scored = _score(per_firm)
    scored["explanation"] = _explanations(scored, held)
    workspace.write("firm_scores", scored, run_id)
    return RankReport(
        nodes_ranked=scored[["chain_id", "node_id"]].drop_duplicates().shape[0],
        firm_rows=len(scored),
        excluded_not_operating=int(excluded),
        seconds=time.perf_counter() - start,
    )


def _firm_patents(workspace: Workspace) -> pd.DataFrame:
    """(publication_number, firm_id, score, raw_name, decision) for every accepted applicant link."""
    filings = workspace.read_df("filings", ["publication_number", "applicant_id", "raw_name"])
    matches = workspace.read_df("matches", ["applicant_id", "firm_id", "score", "decision"])
    accepted = matches[matches["decision"].isin(ACCEPTED_DECISIONS) & matches["firm_id"].notna()]
    linked = filings.merge(accepted, on="applicant_id")
    # One patent can reach the same firm through two applicant names: keep the strongest link.
    linked = linked.sort_values("score", ascending=False).drop_duplicates(["publication_number", "firm_id"])
    return linked[["publication_number", "firm_id", "score", "raw_name", "decision"]]


def _patent_facts(patents: pd.DataFrame) -> pd.DataFrame:
    facts = patents[["publication_number"]].copy()
    facts["is_invention"] = (patents["patent_type"] == "invention").astype(int)
    facts["is_granted"] = patents["kind"].isin(GRANTED_KINDS).astype(int)
    years = pd.to_datetime(patents["application_date"]).dt.year
    # "Recent" is relative to the newest filing in the data, not today's date, so reruns agree.
    newest = years.max()
    facts["is_recent"] = (years > newest - RECENT_YEARS).fillna(False).astype(int)
    cited = patents["cited_publications"].explode().dropna()
    counts = cited.value_counts()
    facts["forward_citations"] = patents["publication_number"].map(counts).fillna(0).astype(int)
    # Inventions weigh more than utility models and designs; a grant adds to either.
    base = np.where(facts["is_invention"] == 1, 1.0, np.where(patents["patent_type"] == "utility_model", 0.4, 0.2))
    facts["strength"] = base * (1.0 + 0.5 * facts["is_granted"])
    return facts


def _percentile(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby(["chain_id", "node_id"])[column].rank(method="average", pct=True)


def _score(per_firm: pd.DataFrame) -> pd.DataFrame:
    per_firm = per_firm.copy()
    per_firm["growth"] = per_firm["recent_filings"] / per_firm["patents_in_node"]
    dims = {
        "strength": _percentile(per_firm, "strength"),
        "citations": _percentile(per_firm, "forward_citations"),
        "growth": _percentile(per_firm, "growth"),
        "share": _percentile(per_firm, "node_share"),
    }
    per_firm["score"] = (100.0 * sum(WEIGHTS[name] * pct for name, pct in dims.items())).round(2)
    per_firm = per_firm.sort_values(
        ["chain_id", "node_id", "score", "patents_in_node", "firm_id"], ascending=[True, True, False, False, True]
    )
    per_firm["rank"] = per_firm.groupby(["chain_id", "node_id"]).cumcount() + 1
    per_firm["tier"] = "D"
    for cut, tier in reversed(TIER_CUTS):
        per_firm.loc[per_firm["score"] >= cut, "tier"] = tier
    return per_firm.reset_index(drop=True)


def _explanations(scored: pd.DataFrame, held: pd.DataFrame) -> list[str]:
    """One sentence a relationship manager can say aloud, plus the link that ties the patents to the firm."""
    names = (
        held.sort_values("score", ascending=False)
        .drop_duplicates(["chain_id", "node_id", "firm_id"])
        .set_index(["chain_id", "node_id", "firm_id"])[["raw_name", "decision", "score"]]
    )
    texts = []
    for row in scored.itertuples(index=False):
        link = names.loc[(row.chain_id, row.node_id, row.firm_id)]
        texts.append(
            f"{row.patents_in_node} patents in node ({row.inventions_in_node} inventions, {row.granted_in_node} granted,"
            f" {row.node_share:.0%} of the node); {row.forward_citations} forward citations;"
            f" {row.recent_filings} filed in the last {RECENT_YEARS} years."
            f" Linked via applicant '{link.raw_name}' ({link.decision}, confidence {link.score:.2f})."
        )
    return texts
