"""Rank firms node by node with a configurable scorecard; explain each rank; record every exclusion."""

from graph.ranking.scorecard import Scorecard, ScorecardError, load_scorecard, with_weights
from graph.ranking.scoring import RankReport, rank_firms
from graph.ranking.sensitivity import rank_sensitivity

__all__ = [
    "RankReport", "Scorecard", "ScorecardError", "load_scorecard", "rank_firms", "rank_sensitivity", "with_weights",
]
