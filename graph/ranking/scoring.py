"""Scorecard → score: feature percentiles within the node, dimensions, weighted score, rank, tier, reasons.

A percentile here is the mid-rank one: the share of the node's firms below, plus half of those
tied, so a firm alone in its node sits at 50 and firms with equal values get equal percentiles.
A missing value (no registered capital, say) counts as the node's middle, neither for nor against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graph.ranking import features as ft
from graph.ranking.scorecard import DIMENSIONS, Scorecard, load_scorecard
from graph.workspace import Workspace

NODE = ["chain_id", "node_id"]
DIMENSION_LABELS = {
    "strength": "Technology strength", "quality": "Patent quality", "growth": "Growth",
    "chain_position": "Chain position", "soundness": "Operating soundness",
}
# Columns of the per-pair frame that feed each feature (the rest are named like the feature).
FEATURE_COLUMNS = {"size_band": "size_score", "status": "status_score"}


@dataclass
class Rankings:
    scores: pd.DataFrame  # firm_scores rows
    exclusions: pd.DataFrame  # firm_exclusions rows
    links_ignored_by_type: int
    pagerank_seconds: float


@dataclass(frozen=True)
class RankReport:
    nodes_ranked: int
    firm_rows: int
    pairs_considered: int
    excluded_pairs: int
    links_ignored_by_type: int
    pagerank_seconds: float
    seconds: float
    excluded_by_rule: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict:
        shown = {name: getattr(self, name) for name in (
            "nodes_ranked", "firm_rows", "pairs_considered", "excluded_pairs", "links_ignored_by_type")}
        shown |= {f"excluded_{rule}": n for rule, n in self.excluded_by_rule.items()}
        return shown | {"pagerank_seconds": round(self.pagerank_seconds, 3), "seconds": round(self.seconds, 3)}


def rank_firms(workspace: Workspace, run_id: str, scorecard: Scorecard | None = None) -> RankReport:
    """Read the workspace tables; write `firm_scores` (eligible pairs) and `firm_exclusions` (the rest)."""
    start = time.perf_counter()
    rankings = compute_rankings(ft.read_inputs(workspace), scorecard or load_scorecard())
    workspace.write("firm_scores", rankings.scores, run_id)
    workspace.write("firm_exclusions", rankings.exclusions, run_id)
    excluded = rankings.exclusions[ft.KEY].drop_duplicates()
    return RankReport(
        nodes_ranked=rankings.scores[NODE].drop_duplicates().shape[0],
        firm_rows=len(rankings.scores),
        pairs_considered=len(rankings.scores) + len(excluded),
        excluded_pairs=len(excluded),
        links_ignored_by_type=rankings.links_ignored_by_type,
        pagerank_seconds=rankings.pagerank_seconds,
        seconds=time.perf_counter() - start,
        excluded_by_rule={str(k): int(v) for k, v in rankings.exclusions["rule"].value_counts().sort_index().items()},
    )


def compute_rankings(inputs: ft.RankInputs, card: Scorecard) -> Rankings:
    """The whole ranking over already-read tables (sensitivity runs reuse it with other weights)."""
    started = time.perf_counter()
    patents = inputs.patents
    citing, cited = ft.citation_edges(patents["publication_number"], inputs.cited)
    pagerank = ft.pagerank(len(patents), citing, cited, card.pagerank.alpha)
    pagerank_seconds = time.perf_counter() - started
    forward = np.bincount(cited, minlength=len(patents))
    facts, newest_year = ft.patent_facts(patents, card, forward, pagerank)
    links, ignored = ft.accepted_links(inputs, card)
    held = ft.held_patents(inputs, links, facts, card)
    pairs = ft.pair_features(held, inputs)
    firms = ft.firm_features(inputs.firms, card, newest_year)
    exclusions = ft.eligibility(held, pairs, firms, card)
    failed = pd.MultiIndex.from_frame(exclusions[ft.KEY]) if len(exclusions) else None
    if failed is not None:
        pairs = pairs[~pd.MultiIndex.from_frame(pairs[ft.KEY]).isin(failed)]
    pairs = pairs.merge(firms, on="firm_id", how="left")
    scored = score_pairs(pairs, card)
    scored = _attach_reasons(scored, held[held["confident"]], card)
    exclusions = exclusions.sort_values([*ft.KEY, "rule"]).reset_index(drop=True)
    return Rankings(scored, exclusions, ignored, pagerank_seconds)


def percentile(values: pd.Series, groups: np.ndarray) -> pd.Series:
    """Mid-rank percentile (0..1) of each value within its group (integer codes); missing values count as 0.5."""
    ranks = values.groupby(groups, sort=False).rank(method="average")
    sizes = values.notna().groupby(groups, sort=False).transform("sum")
    return ((ranks - 0.5) / sizes).fillna(0.5)


def score_pairs(pairs: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """Dimension percentiles (dim_*), score, rank and tier for every eligible (chain, node, firm)."""
    out = pairs.reset_index(drop=True).copy()
    groups = out.groupby(NODE, sort=False).ngroup().to_numpy()  # factorised once, not per feature
    for name in DIMENSIONS:
        weights = card.dimensions.feature_weights(name)
        total = sum(weights.values())
        composite = sum(
            weight * percentile(out[FEATURE_COLUMNS.get(feature, feature)].astype("float64"), groups)
            for feature, weight in weights.items()
        ) / total
        out[f"dim_{name}"] = (100.0 * percentile(composite, groups)).round(2)
    weights = card.dimensions.weights()
    out["score"] = (sum(weights[n] * out[f"dim_{n}"] for n in DIMENSIONS) / sum(weights.values())).round(2)
    # Ties: more strength-weighted patents, then more patents, then the credit code.
    out = out.sort_values(
        [*NODE, "score", "weighted_patents", "patents_in_node", "firm_id"],
        ascending=[True, True, False, False, False, True], kind="stable",
    ).reset_index(drop=True)
    out["rank"] = out.groupby(NODE, sort=False).cumcount() + 1
    cuts = card.tiers
    out["tier"] = np.select([out["score"] >= cuts.A, out["score"] >= cuts.B, out["score"] >= cuts.C],
                            ["A", "B", "C"], "D")
    return out


def _describe(frame: pd.DataFrame, name: str, card: Scorecard) -> list[str]:
    """What a dimension's percentile rests on, in the firm's own numbers."""
    if name == "strength":
        return [f"{_n(p, 'patent')} in node ({_n(i, 'invention')}, {g} granted), {s:.0%} of the node"
                for p, i, g, s in zip(frame["patents_in_node"], frame["inventions_in_node"],
                                      frame["granted_in_node"], frame["node_share"], strict=True)]
    if name == "quality":
        return [f"{_n(c, 'forward citation')}, citation PageRank {r:.1f}× an average patent"
                + (f", {m:.0f} claims on average" if m == m else "")
                for c, r, m in zip(frame["forward_citations"], frame["pagerank"], frame["claims_mean"], strict=True)]
    if name == "growth":
        years = card.recent_years
        return [f"{r} filed in the last {years} years against {e} in the {years} before, {_n(g, 'recent grant')}"
                for r, e, g in zip(frame["recent_filings"], frame["earlier_filings"], frame["recent_grants"],
                                   strict=True)]
    if name == "chain_position":
        return [f"present in {_n(n, 'node')} of the chain ({u} upstream), bottleneck weight {w:.1f}"
                for n, u, w in zip(frame["nodes_in_chain"], frame["upstream_nodes"], frame["weighted_presence"],
                                   strict=True)]
    return [", ".join(part for part in (
        f"{age:.0f} years in business" if age == age else "",
        f"{size} firm" if isinstance(size, str) else "",
        f"registered capital {capital:,.0f}万元" if capital == capital else "",
    ) if part) or "no registry details" for age, size, capital in zip(
        frame["firm_age"], frame["size_band"], frame["registered_capital"], strict=True)]


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _attach_reasons(scored: pd.DataFrame, counted: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """reasons (list), explanation (the reasons as one text) and top_patents (strongest first)."""
    if scored.empty:
        return scored.assign(reasons=[], explanation=[], top_patents=[])
    weights = card.dimensions.weights()
    dims = np.column_stack([scored[f"dim_{n}"].to_numpy() for n in DIMENSIONS])
    contribution = dims * np.array([weights[n] for n in DIMENSIONS])
    # Stable sort on the negated contribution: ties keep the DIMENSIONS order.
    top = np.argsort(-contribution, axis=1, kind="stable")[:, : card.explanation.top_dimensions]
    texts = []  # per dimension: row -> description, only for the rows where it is a top dimension
    for d, name in enumerate(DIMENSIONS):
        rows = np.flatnonzero((top == d).any(axis=1))
        texts.append(dict(zip(rows.tolist(), _describe(scored.iloc[rows], name, card), strict=True)))
    labels = [DIMENSION_LABELS[n] for n in DIMENSIONS]
    patents, patent_texts, link = _strongest_patents(scored, counted, card.explanation.top_patents)
    reasons, explanations = [], []
    for row, (picks, values, pubs_text, (raw_name, decision, score, names)) in enumerate(
        zip(top.tolist(), dims.tolist(), patent_texts, link, strict=True)
    ):
        items = [f"{labels[d]} {values[d]:.0f}/100: {texts[d][row]}" for d in picks]
        items.append("strongest patents: " + ", ".join(pubs_text))
        others = names - 1
        items.append(
            f"linked via applicant '{raw_name}' ({decision}, confidence {score:.2f})"
            + (f" and {others} other applicant name{'s' if others > 1 else ''}" if others else "")
        )
        reasons.append(items)
        explanations.append("; ".join(items))
    return scored.assign(reasons=reasons, explanation=explanations, top_patents=patents)


def _strongest_patents(scored: pd.DataFrame, counted: pd.DataFrame, how_many: int) -> tuple[list, list, list]:
    """Per scored row: its top patents (weight, citations, PageRank, number), their texts, and
    (raw name, decision, confidence, distinct applicant names) of the link behind the first one."""
    pair = pd.Series(np.arange(len(scored)), index=pd.MultiIndex.from_frame(scored[ft.KEY]), name="pair")
    held = counted.join(pair, on=ft.KEY, how="inner")
    names = held.groupby("pair", sort=True)["raw_name"].nunique().reindex(range(len(scored)), fill_value=0)
    held = held.sort_values(
        ["pair", "patent_weight", "forward_citations", "pagerank", "publication_number"],
        ascending=[True, False, False, False, True], kind="stable",
    )
    held = held[held.groupby("pair", sort=False).cumcount() < how_many]
    kind = np.where(held["patent_type"] == "design", "", np.where(held["is_granted"] == 1, "granted ", "pending "))
    pubs = held["publication_number"].to_numpy()
    text = [f"{pub} ({k}{t.replace('_', ' ')}{f', cited {c}×' if c else ''})"
            for pub, k, t, c in zip(pubs, kind, held["patent_type"], held["forward_citations"], strict=True)]
    bounds = np.searchsorted(held["pair"].to_numpy(), np.arange(len(scored) + 1))
    first = bounds[:-1]
    link = zip(held["raw_name"].to_numpy()[first], held["decision"].to_numpy()[first],
               held["score"].to_numpy()[first], names.to_numpy(), strict=True)
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    return [pubs[a:b].tolist() for a, b in spans], [text[a:b] for a, b in spans], list(link)
