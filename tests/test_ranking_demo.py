"""The ranking stage on the demo build (generated data through every stage), checked as a user would."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from graph.export import write_targets
from graph.ranking.features import ACCEPTED_DECISIONS
from graph.workspace import Workspace

pytestmark = pytest.mark.slow
INSTITUTIONS = ("university", "research_institute", "hospital", "government")
PAIR = ["chain_id", "node_id", "firm_id"]


@pytest.fixture(scope="module")
def workspace(demo_build) -> Workspace:
    return Workspace(demo_build[0])


def test_every_firm_node_pair_is_either_ranked_or_excluded_with_a_rule(workspace):
    matches = workspace.read_df("matches").merge(workspace.read_df("applicants"), on="applicant_id")
    accepted = matches[matches["decision"].isin(ACCEPTED_DECISIONS) & matches["firm_id"].notna()]
    assert not accepted["applicant_type"].isin(INSTITUTIONS).any(), "matching linked an institution to a firm"
    held = (workspace.read_df("node_patents").merge(workspace.read_df("filings"), on="publication_number")
            .merge(accepted, on="applicant_id")[PAIR].drop_duplicates())
    scores, exclusions = workspace.read_df("firm_scores"), workspace.read_df("firm_exclusions")
    ranked = set(map(tuple, scores[PAIR].values))
    excluded = set(map(tuple, exclusions[PAIR].values))
    assert ranked | excluded == set(map(tuple, held.values)) and not ranked & excluded
    assert exclusions["detail"].str.len().min() > 0


def test_ranked_firms_are_operating_companies_of_the_allowed_sizes(workspace):
    firms = workspace.read_df("firms").set_index("firm_id")
    ranked = firms.loc[workspace.read_df("firm_scores")["firm_id"].unique()]
    assert set(ranked["status"]) == {"operating"}
    assert set(ranked["size_band"].dropna()) <= {"micro", "small", "medium"}
    assert ranked.index.str[:2].isin(["91", "92", "93"]).all()  # companies by their credit codes
    shells = firms[firms["status"].isin(["deregistered", "revoked"])].index
    exclusions = workspace.read_df("firm_exclusions")
    assert set(exclusions.loc[exclusions["firm_id"].isin(shells), "rule"]) <= {"status", "size_band",
                                                                               "min_confidence", "min_patents"}
    assert (exclusions.loc[exclusions["firm_id"].isin(shells), "rule"] == "status").any()


def test_every_ranking_is_explained_by_its_own_patents_and_link(workspace):
    scores = workspace.read_df("firm_scores")
    assert scores.groupby(["chain_id", "node_id"])["rank"].apply(lambda r: sorted(r) == list(range(1, len(r) + 1))).all()
    for row in scores.itertuples():
        assert row.explanation == "; ".join(row.reasons)
        assert row.top_patents[0] in row.explanation and "linked via applicant '" in row.explanation
    dims = scores[[c for c in scores.columns if c.startswith("dim_")]]
    assert dims.shape[1] == 5 and dims.notna().all().all() and ((dims >= 0) & (dims <= 100)).all().all()


def test_one_sheet_per_ranked_node_reads_back(workspace, tmp_path):
    path, rows = write_targets(workspace, tmp_path / "all.xlsx", sheet_per_node=True)
    book = load_workbook(path, read_only=True)
    scores = workspace.read_df("firm_scores")
    assert len(book.sheetnames) == scores.groupby(["chain_id", "node_id"]).ngroups
    assert rows == len(scores)
    first = book[book.sheetnames[0]]
    header, top = list(first.iter_rows(min_row=1, max_row=2, values_only=True))
    assert dict(zip(header, top, strict=True))["Rank 排名"] == 1
    assert pd.notna(dict(zip(header, top, strict=True))["Run"])
