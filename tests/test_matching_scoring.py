"""Figures the matcher computes in bulk or by a shortcut are the ones the per-value formula gives: the evidence the
UI shows field by field must not change with speed work."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matching import scoring
from matching.matcher import _rounded


@pytest.mark.parametrize("digits", [1, 3, 4, 6])
def test_bulk_rounding_gives_what_round_gives_value_by_value(digits):
    rng = np.random.default_rng(7)
    halves = (np.arange(-20_000, 20_000) + 0.5) / 10 ** digits  # ties of the last digit kept, and their neighbours
    values = np.concatenate([rng.normal(0, 10, 50_000), rng.random(50_000), halves, np.nextafter(halves, np.inf),
                             np.nextafter(halves, -np.inf),
                             [0.0, -0.0, -1e-9, 2.675, 1.0005, 0.0005, 1e12, -1e12, np.inf, -np.inf, np.nan]])
    # repr: -0.0 and NaN compare as text
    assert [repr(v) for v in _rounded(values, digits)] == [repr(round(v, digits)) for v in values.tolist()]


def test_a_single_candidate_scores_as_in_the_general_formula():
    rng = np.random.default_rng(3)
    for z in [*rng.normal(0, 8, 2_000).tolist(), 0.0, 40.0, -40.0]:
        # a firm with log-odds -inf adds nothing to the general formula's sum
        assert scoring.competing_scores([z]) == scoring.competing_scores([z, -math.inf])[:1]
