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
import pyarrow as pa
import pyarrow.compute as pc

from graph.contracts import FIRM_SCORES
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
_IDS = ("chain_id", "node_id", "firm_id")


@dataclass
class Rankings:
    scores: pa.Table  # firm_scores rows
    exclusions: pa.Table  # firm_exclusions rows, in key order
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
    scores, exclusions = rankings.scores, rankings.exclusions
    nodes = scores.select(NODE).group_by(NODE).aggregate([])
    excluded_pairs = exclusions.select(_IDS).group_by(list(_IDS)).aggregate([]).num_rows
    rules = exclusions["rule"].value_counts().to_pylist()
    return RankReport(
        nodes_ranked=nodes.num_rows,
        firm_rows=scores.num_rows,
        pairs_considered=scores.num_rows + excluded_pairs,
        excluded_pairs=excluded_pairs,
        links_ignored_by_type=rankings.links_ignored_by_type,
        pagerank_seconds=rankings.pagerank_seconds,
        seconds=time.perf_counter() - start,
        excluded_by_rule={str(r["values"]): int(r["counts"]) for r in sorted(rules, key=lambda r: r["values"])},
    )


def compute_rankings(inputs: ft.RankInputs, card: Scorecard) -> Rankings:
    """The whole ranking over already-read tables (sensitivity runs reuse it with other weights)."""
    started = time.perf_counter()
    patents = inputs.patents
    citing, cited = ft.citation_edges(inputs.publication_numbers, inputs.cited)
    pagerank = ft.pagerank(len(patents), citing, cited, card.pagerank.alpha)
    pagerank_seconds = time.perf_counter() - started
    forward = np.bincount(cited, minlength=len(patents))
    facts, newest_year = ft.patent_facts(patents, card, forward, pagerank)
    links, ignored = ft.accepted_links(inputs, card)
    held = ft.held_patents(inputs, links, facts, card)
    pairs = ft.pair_features(held, inputs)
    firms = ft.firm_features(inputs.firms, card, newest_year)
    exclusions = ft.eligibility(held, pairs, firms, card)
    pair_code, failed = (frame["node"].to_numpy() * len(inputs.firm_ids) + frame["firm"].to_numpy()
                         for frame in (pairs, exclusions))
    pairs = pairs[~np.isin(pair_code, failed)]
    pairs = pairs.merge(firms, on="firm", how="left")
    scored = score_pairs(pairs, card)
    scores = _scores_table(scored, held[held["confident"]], inputs, card)
    exclusions = exclusions.sort_values([*ft.KEY, "rule"]).reset_index(drop=True)  # codes sort as the ids do
    return Rankings(scores, _with_ids(pa.table({"rule": exclusions["rule"], "detail": exclusions["detail"]}),
                                      exclusions, inputs), ignored, pagerank_seconds)


def _with_ids(table: pa.Table, coded: pd.DataFrame, inputs: ft.RankInputs) -> pa.Table:
    """`table` with chain_id, node_id and firm_id in front, decoded from `coded`'s node and firm codes."""
    nodes = pa.array(coded["node"].to_numpy())
    ids = [pa.array(inputs.nodes["chain_id"].to_numpy(), pa.string()).take(nodes),
           pa.array(inputs.nodes["node_id"].to_numpy(), pa.string()).take(nodes),
           inputs.firm_ids.take(pa.array(coded["firm"].to_numpy()))]
    return pa.table([*ids, *table.columns], ["chain_id", "node_id", "firm_id", *table.column_names])


def percentile(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0..1) of each value within its group (integer codes); missing values count as 0.5.

    The ranks are those of pandas' groupby rank(method="average"), computed the same way (the mean of
    a tie's first and last rank is the same double as their running sum over the count), sort-based.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), 0.5)
    rows = np.flatnonzero(~np.isnan(values))
    if len(rows) == 0:
        return out
    by_value = rows[np.argsort(values[rows])]  # the order among equal values does not matter: ties share a rank
    few_groups = groups.max() < 2**16  # then a stable sort by group is a radix sort, twice as fast as lexsort
    rows = by_value[np.argsort(groups[by_value].astype(np.uint16 if few_groups else np.int64), kind="stable")]
    value, group = values[rows], groups[rows]
    count = len(rows)
    new_group = np.r_[True, group[1:] != group[:-1]]
    group_start = np.flatnonzero(new_group)
    group_of = np.cumsum(new_group) - 1
    sizes = np.diff(np.r_[group_start, count])
    rank = np.arange(count) - group_start[group_of] + 1
    new_tie = new_group | np.r_[True, value[1:] != value[:-1]]
    tie_start = np.flatnonzero(new_tie)
    tie_of = np.cumsum(new_tie) - 1
    tie_rank = (rank[tie_start] + rank[np.r_[tie_start[1:], count] - 1]) / 2
    out[rows] = (tie_rank[tie_of] - 0.5) / sizes[group_of]
    return out


def score_pairs(pairs: pd.DataFrame, card: Scorecard) -> pd.DataFrame:
    """Dimension percentiles (dim_*), score, rank and tier for every eligible (node, firm), in rank order."""
    out = pairs.reset_index(drop=True).copy()
    groups = out["node"].to_numpy()
    for name in DIMENSIONS:
        weights = card.dimensions.feature_weights(name)
        total = sum(weights.values())
        composite = sum(
            weight * percentile(out[FEATURE_COLUMNS.get(feature, feature)].to_numpy(np.float64), groups)
            for feature, weight in weights.items()
        ) / total
        out[f"dim_{name}"] = (100.0 * percentile(composite, groups)).round(2)
    weights = card.dimensions.weights()
    out["score"] = (sum(weights[n] * out[f"dim_{n}"] for n in DIMENSIONS) / sum(weights.values())).round(2)
    # Ties: more strength-weighted patents, then more patents, then the credit code (codes sort as ids do).
    order = np.lexsort((out["firm"].to_numpy(), -out["patents_in_node"].to_numpy(),
                        -out["weighted_patents"].to_numpy(), -out["score"].to_numpy(), groups))
    out = out.take(order).reset_index(drop=True)
    out["rank"] = out.groupby("node", sort=False).cumcount() + 1
    cuts = card.tiers
    out["tier"] = np.select([out["score"] >= cuts.A, out["score"] >= cuts.B, out["score"] >= cuts.C],
                            ["A", "B", "C"], "D")
    return out


def _scores_table(scored: pd.DataFrame, counted: pd.DataFrame, inputs: ft.RankInputs, card: Scorecard) -> pa.Table:
    """firm_scores: the scored pairs' contract columns, their ids, and top_patents, reasons and explanation."""
    columns = [f.name for f in FIRM_SCORES.schema if f.name in scored.columns and f.name not in _IDS]
    table = pa.Table.from_pandas(scored[columns], preserve_index=False)
    top_patents, reasons = _reasons(scored, counted, inputs, card)
    table = table.append_column("top_patents", top_patents).append_column("reasons", reasons)
    table = table.append_column("explanation", pc.binary_join(reasons, "; "))
    return _with_ids(table, scored, inputs)


def _reasons(scored: pd.DataFrame, counted: pd.DataFrame, inputs: ft.RankInputs, card: Scorecard
             ) -> tuple[pa.ListArray, pa.ListArray]:
    """Per scored row: its top patents (strongest first), and its reasons: the top dimensions with what
    they rest on, the strongest patents, and the link behind the strongest one."""
    rows = len(scored)
    weights = card.dimensions.weights()
    dims = np.column_stack([scored[f"dim_{n}"].to_numpy() for n in DIMENSIONS]).reshape(rows, len(DIMENSIONS))
    contribution = dims * np.array([weights[n] for n in DIMENSIONS])
    # Stable sort on the negated contribution: ties keep the DIMENSIONS order.
    top = np.argsort(-contribution, axis=1, kind="stable")[:, : card.explanation.top_dimensions]
    described = []  # descriptions of each dimension, only for the rows where it is a top dimension
    at = np.zeros((rows, len(DIMENSIONS)), dtype=np.int64)  # row, dimension -> its description in `described`
    done = 0
    for d, name in enumerate(DIMENSIONS):
        where = np.flatnonzero((top == d).any(axis=1))
        at[where, d] = done + np.arange(len(where))
        described.append(_describe(scored, where, name, card))
        done += len(where)
    described = pa.concat_arrays(described)
    labels = pa.array([DIMENSION_LABELS[n] for n in DIMENSIONS])
    every = np.arange(rows)
    items = [_join(labels.take(pa.array(picks)), " ", _whole(dims[every, picks]), "/100: ",
                   described.take(pa.array(at[every, picks]))) for picks in top.T]
    top_patents, strongest, link = _strongest_patents(scored, counted, inputs, card.explanation.top_patents)
    items += [_join("strongest patents: ", pc.binary_join(strongest, ", ")), link]
    # Item m of row r sits at m * rows + r of the concatenation: take them row by row.
    order = (np.arange(len(items)) * rows + every[:, None]).ravel()
    flat = pa.concat_arrays([item.cast(pa.string()) for item in items]).take(pa.array(order))
    offsets = pa.array(np.arange(0, len(order) + 1, len(items), dtype=np.int32))
    return top_patents, pa.ListArray.from_arrays(offsets, flat)


def _describe(scored: pd.DataFrame, rows: np.ndarray, name: str, card: Scorecard) -> pa.Array:
    """What a dimension's percentile rests on, in the firm's own numbers, for scored rows `rows`."""

    def col(column: str) -> np.ndarray:
        return scored[column].to_numpy()[rows]

    if name == "strength":
        granted = _decimal(col("granted_in_node"))
        return _join(_count(col("patents_in_node"), "patent"), " in node (",
                     _count(col("inventions_in_node"), "invention"), ", ", granted, " granted), ",
                     _whole(col("node_share") * 100), "% of the node")
    if name == "quality":
        claims = col("claims_mean")
        known = ~np.isnan(claims)
        claims_text = pc.if_else(pa.array(known), _join(", ", _whole(np.where(known, claims, 0)), " claims on average"),
                                 "")
        return _join(_count(col("forward_citations"), "forward citation"), ", citation PageRank ",
                     _tenths(col("pagerank")), "× an average patent", claims_text)
    if name == "growth":
        years = str(card.recent_years)
        return _join(_decimal(col("recent_filings")), f" filed in the last {years} years against ",
                     _decimal(col("earlier_filings")), f" in the {years} before, ",
                     _count(col("recent_grants"), "recent grant"))
    if name == "chain_position":
        return _join("present in ", _count(col("nodes_in_chain"), "node"), " of the chain (",
                     _decimal(col("upstream_nodes")), " upstream), bottleneck weight ",
                     _tenths(col("weighted_presence")))
    return pa.array([", ".join(part for part in (
        f"{age:.0f} years in business" if age == age else "",
        f"{size} firm" if isinstance(size, str) else "",
        f"registered capital {capital:,.0f}万元" if capital == capital else "",
    ) if part) or "no registry details" for age, size, capital in zip(
        col("firm_age").tolist(), col("size_band").tolist(), col("registered_capital").tolist(), strict=True)],
        pa.string())


def _join(*parts) -> pa.Array:
    """Texts and arrays of texts, concatenated row by row."""
    return pc.binary_join_element_wise(*parts, "")


def _decimal(values: np.ndarray) -> pa.Array:
    """Each value as f"{value}" prints it."""
    if np.issubdtype(values.dtype, np.integer):
        return pc.cast(pa.array(values), pa.string())
    return pa.array([str(value) for value in values.tolist()], pa.string())


def _count(values: np.ndarray, word: str) -> pa.Array:
    """ "1 patent", "3 patents" """
    return _join(_decimal(values), f" {word}", pc.if_else(pa.array(values == 1), "", "s"))


def _whole(values: np.ndarray) -> pa.Array:
    """Each value as f"{value:.0f}" prints it: rint rounds half to even on the exact double, as printf does."""
    whole = np.rint(values)
    text = pc.cast(pa.array(whole.astype(np.int64)), pa.string())
    return pc.if_else(pa.array(np.signbit(values) & (whole == 0)), "-0", text)  # printf keeps the sign of -0.3


def _tenths(values: np.ndarray) -> pa.Array:
    """Each value as f"{value:.1f}" prints it (exact decimal rounding has no cheap vector form)."""
    return pa.array([f"{value:.1f}" for value in values.tolist()], pa.string())


def _strongest_patents(scored: pd.DataFrame, counted: pd.DataFrame, inputs: ft.RankInputs, how_many: int
                       ) -> tuple[pa.ListArray, pa.ListArray, pa.Array]:
    """Per scored row: its top patents (by weight, citations, PageRank, then number), their texts, and the
    link behind the first one: raw name, decision, confidence and how many other applicant names link it."""
    firms = len(inputs.firm_ids)
    pair_codes = scored["node"].to_numpy() * firms + scored["firm"].to_numpy()
    by_code = np.argsort(pair_codes)
    held_codes = counted["node"].to_numpy() * firms + counted["firm"].to_numpy()
    found = np.minimum(np.searchsorted(pair_codes[by_code], held_codes), max(len(scored) - 1, 0))
    mine = pair_codes[by_code][found] == held_codes if len(scored) else np.zeros(len(counted), dtype=bool)
    pair = by_code[found[mine]]  # scored row of each of its confident held patents
    rows = np.flatnonzero(mine)  # in counted
    held = {c: counted[c].to_numpy()[rows] for c in (
        "patent", "patent_weight", "forward_citations", "pagerank", "raw_name", "score", "is_granted")}
    pair_names = np.sort(pair * len(inputs.raw_names) + held["raw_name"])
    distinct = np.r_[True, pair_names[1:] != pair_names[:-1]] if len(pair_names) else np.zeros(0, dtype=bool)
    names = np.bincount(pair_names[distinct] // len(inputs.raw_names), minlength=len(scored))
    numbers = inputs.publication_numbers
    number_order = np.empty(len(numbers), dtype=np.int64)
    number_order[pc.sort_indices(numbers).to_numpy()] = np.arange(len(numbers))
    order = np.lexsort((number_order[held["patent"]], -held["pagerank"], -held["forward_citations"],
                        -held["patent_weight"], pair))
    pair = pair[order]
    strongest = np.arange(len(order)) - np.searchsorted(pair, pair) < how_many
    keep = order[strongest]
    bounds = np.searchsorted(pair[strongest], np.arange(len(scored) + 1))
    kept = {c: v[keep] for c, v in held.items()}
    patent = pa.array(kept["patent"])
    patents = numbers.take(patent)
    types = inputs.patent_types.take(patent)
    kind = pc.if_else(pc.equal(types, "design"), "",
                      pc.if_else(pc.equal(pa.array(kept["is_granted"]), 1), "granted ", "pending "))
    citations = pa.array(kept["forward_citations"])
    cited = pc.if_else(pc.greater(citations, 0),
                       pc.binary_join_element_wise(", cited ", pc.cast(citations, pa.string()), "×", ""), "")
    texts = pc.binary_join_element_wise(patents, " (", kind, pc.replace_substring(types, "_", " "), cited, ")", "")
    first = bounds[:-1]
    decisions = pa.array(counted["decision"].iloc[rows[keep[first]]], pa.string())
    others = names - 1
    others_text = pc.if_else(pa.array(others > 0), _join(" and ", _decimal(others), " other applicant name",
                                                         pc.if_else(pa.array(others > 1), "s", "")), "")
    link = _join("linked via applicant '", inputs.raw_names.take(pa.array(kept["raw_name"][first])), "' (", decisions,
                 ", confidence ", pa.array([f"{score:.2f}" for score in kept["score"][first].tolist()], pa.string()),
                 ")", others_text)
    bounds = pa.array(bounds.astype(np.int32))
    return pa.ListArray.from_arrays(bounds, patents), pa.ListArray.from_arrays(bounds, texts), link
