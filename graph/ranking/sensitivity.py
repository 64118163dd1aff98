"""How a node's top firms move when a scorecard weight changes, so weights are tuned without surprises."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from graph.ranking import features as ft
from graph.ranking.scorecard import Scorecard, load_scorecard, with_weights
from graph.ranking.scoring import compute_rankings
from graph.workspace import Workspace


def rank_sensitivity(
    workspace: Workspace,
    chain_id: str,
    node_id: str,
    changes: dict[str, float],
    scorecard: Scorecard | None = None,
    top: int = 20,
) -> pd.DataFrame:
    """The node's top `top` before and after `changes` (see `with_weights`), one row per firm in either.

    Columns: firm_id, rank_before, rank_after (the full ranks, also outside the top), score_before,
    score_after, move ("in", "out", "up 3", "down 2", "same"); ordered by the new rank.
    """
    before_card = scorecard or load_scorecard()
    after_card = with_weights(before_card, changes)
    inputs = ft.read_inputs(workspace)
    nodes = inputs.nodes
    in_chain = inputs.node_patents["node"].isin(np.flatnonzero(nodes["chain_id"] == chain_id))
    wanted = np.flatnonzero((nodes["chain_id"] == chain_id) & (nodes["node_id"] == node_id))
    if not inputs.node_patents["node"].isin(wanted).any():
        raise ValueError(f"node {chain_id}/{node_id} has no patents in node_patents; check the chain and node ids")
    # Only this chain's pairs matter (chain position is counted within the chain).
    inputs = replace(inputs, node_patents=inputs.node_patents[in_chain])
    ranks = []
    for card, when in ((before_card, "before"), (after_card, "after")):
        scores = compute_rankings(inputs, card).scores.select(["node_id", "firm_id", "rank", "score"]).to_pandas()
        node = scores[scores["node_id"] == node_id]
        ranks.append(node.set_index("firm_id")[["rank", "score"]].add_suffix(f"_{when}"))
    table = ranks[0].join(ranks[1], how="outer").reset_index()
    table = table[(table["rank_before"] <= top) | (table["rank_after"] <= top)]
    table["move"] = [_move(b, a, top) for b, a in zip(table["rank_before"], table["rank_after"], strict=True)]
    table = table.sort_values(["rank_after", "rank_before"], na_position="last", kind="stable")
    return table.reset_index(drop=True)[["firm_id", "rank_before", "rank_after", "score_before", "score_after",
                                         "move"]]


def _move(before: float, after: float, top: int) -> str:
    """in / out of the top, else up N / down N / same (a firm can only miss from one side when weights change)."""
    if pd.isna(before) or before > top:
        return "in"
    if pd.isna(after) or after > top:
        return "out"
    if before == after:
        return "same"
    return f"up {int(before - after)}" if after < before else f"down {int(after - before)}"
