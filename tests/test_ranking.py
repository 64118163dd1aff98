"""Ranking on a small workspace whose right answers are known by hand.

Node ai.vision holds one firm per eligibility rule; node ai.speech holds three eligible firms that
each lead one dimension (P: strength, chain position, soundness; Q: growth; R: quality), so the
direction of every dimension and the effect of every weight can be checked.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from graph.cli import app
from graph.ranking import ScorecardError, load_scorecard, rank_firms, rank_sensitivity, with_weights
from graph.ranking.features import citation_edges, firm_type, pagerank
from graph.ranking.scoring import _tenths, _whole, percentile
from graph.transform import graph_tables
from graph.workspace import Workspace

RUN = "rank-run"
STRONG, WEAK, SHELL, REVOKED, BIG = "914403000000000001", "914401000000000002", "914403000000000003", \
    "914403000000000004", "914403000000000005"
PUBLIC, LOWCONF, MANUAL = "124403000000000006", "914403000000000007", "914403000000000008"
P, Q, R = "911100000000000011", "913301000000000012", "914403000000000013"
# firm id: name, status, size band, established, capital, employees, province, city
FIRMS = {
    STRONG: ('=HYPERLINK("http://x")强科技有限公司', "operating", "small", 2010, 1000.0, 50, "广东省", "深圳市"),
    WEAK: ("弱科技有限公司", "operating", "micro", 2018, 100.0, 5, "广东省", "广州市"),
    SHELL: ("壳科技有限公司", "deregistered", "small", 2012, 500.0, 0, "广东省", "深圳市"),
    REVOKED: ("吊销科技有限公司", "revoked", "small", 2012, 500.0, 0, "广东省", "深圳市"),
    BIG: ("大集团股份有限公司", "operating", "large", 1998, 900000.0, 9000, "广东省", "深圳市"),
    PUBLIC: ("深圳某研究院", "operating", None, 2001, 3000.0, 300, "广东省", "深圳市"),
    LOWCONF: ("疑似科技有限公司", "operating", "small", 2015, 300.0, 20, "广东省", "深圳市"),
    MANUAL: ("人工确认科技有限公司", "operating", "small", 2016, 300.0, 20, "广东省", "深圳市"),
    P: ("北京老牌科技有限公司", "operating", "small", 2005, 5000.0, 200, "北京市", "北京市"),
    Q: ("杭州新锐科技有限公司", "operating", "micro", 2021, 100.0, 5, "浙江省", "杭州市"),
    R: ("深圳引用科技有限公司", "operating", "small", 2015, 1000.0, 50, "广东省", "深圳市"),
}
# applicant id: (raw name, applicant type, firm id, match score, decision)
APPLICANTS = {
    "A-STRONG": ("强科技", "company", STRONG, 0.99, "auto"),
    "A-WEAK": ("弱科技", "company", WEAK, 0.91, "auto"),
    "A-SHELL": ("壳科技", "company", SHELL, 0.97, "auto"),
    "A-REVOKED": ("吊销科技", "company", REVOKED, 0.95, "auto"),
    "A-BIG": ("大集团", "company", BIG, 0.99, "auto"),
    "A-PUBLIC": ("某研究院", "unknown", PUBLIC, 0.93, "auto"),
    "A-LOWCONF": ("疑似科技", "company", LOWCONF, 0.70, "auto"),
    "A-MANUAL": ("人工确认", "company", MANUAL, 0.60, "manual"),
    "A-UNIV": ("某大学", "university", None, 0.0, "rejected"),
    # A university wrongly linked to a company: ranking must not count it.
    "A-UNIV-LINKED": ("另一大学", "university", WEAK, 0.95, "auto"),
    "A-P": ("老牌科技", "company", P, 0.99, "auto"),
    "A-Q": ("新锐科技", "company", Q, 0.99, "auto"),
    "A-R": ("引用科技", "company", R, 0.99, "auto"),
}
# publication: (type, kind, year, applicant, nodes, cited)
PATENTS = {
    "CN1A": ("invention", "B", 2023, "A-STRONG", ["ai.vision"], []),
    "CN2A": ("invention", "B", 2024, "A-STRONG", ["ai.vision"], []),
    "CN3A": ("invention", "B", 2015, "A-STRONG", ["ai.vision"], []),
    "CN4U": ("utility_model", "U", 2016, "A-WEAK", ["ai.vision"], ["CN1A"]),
    "CN5A": ("invention", "A", 2018, "A-SHELL", ["ai.vision"], ["CN1A", "CN2A"]),
    "CN6A": ("invention", "A", 2019, "A-SHELL", ["ai.vision"], ["CN1A"]),
    "CN7A": ("invention", "A", 2020, "A-UNIV", ["ai.vision"], []),
    "CN8A": ("invention", "A", 2021, "A-REVOKED", ["ai.vision"], []),
    "CN9A": ("invention", "A", 2022, "A-BIG", ["ai.vision"], []),
    "CN10A": ("invention", "A", 2022, "A-PUBLIC", ["ai.vision"], []),
    "CN11A": ("invention", "A", 2022, "A-LOWCONF", ["ai.vision"], []),
    "CN12A": ("invention", "A", 2022, "A-MANUAL", ["ai.vision"], []),
    "CN13A": ("invention", "B", 2022, "A-UNIV-LINKED", ["ai.vision"], []),
    "S1B": ("invention", "B", 2016, "A-P", ["ai.speech"], []),
    "S2B": ("invention", "B", 2016, "A-P", ["ai.speech"], []),
    "S3A": ("invention", "A", 2024, "A-Q", ["ai.speech"], []),
    "S4A": ("invention", "A", 2024, "A-Q", ["ai.speech"], []),
    "S5U": ("utility_model", "U", 2016, "A-R", ["ai.speech"], []),
    "S9B": ("invention", "B", 2016, "A-P", ["ai.chips"], []),
    "T1A": ("invention", "A", 2019, "A-UNIV", [], ["S5U"]),
    "T2A": ("invention", "A", 2019, "A-UNIV", [], ["S5U"]),
    "T3A": ("invention", "A", 2019, "A-UNIV", [], ["S5U"]),
}
NODES = [("ai.vision", "计算机视觉", "Vision", "midstream", 1.0), ("ai.speech", "语音", "Speech", "midstream", 1.0),
         ("ai.chips", "AI芯片", "AI chips", "upstream", 1.5)]


def build_ranking_workspace(root: Path, *, reverse_rows: bool = False) -> Workspace:
    """Write the contract tables above (optionally with every table's rows reversed)."""
    ws = Workspace(root)
    order = (lambda rows: rows[::-1]) if reverse_rows else (lambda rows: rows)
    patents = [{
        "publication_number": pub, "kind": kind, "patent_type": ptype, "title": f"title {pub}",
        "application_date": dt.date(year, 3, 1), "publication_date": dt.date(year + 1, 3, 1), "ipc": ["G06N3/08"],
        "cpc": [], "applicants": [APPLICANTS[applicant][0]], "applicant_addresses": [], "inventors": [],
        "cited_publications": cited, "claims_count": 10, "source_file": "fixture.csv", "source_position": i,
    } for i, (pub, (ptype, kind, year, applicant, _, cited)) in enumerate(PATENTS.items(), start=1)]
    firms = [{
        "firm_id": fid, "name": name, "former_names": [], "status": status, "established_date": dt.date(year, 6, 1),
        "registered_capital": capital, "province": province, "city": city, "address": f"{city}某区某路1号",
        "size_band": size, "employees": staff, "legal_representative": "张伟", "source_file": "registry.xlsx",
        "source_position": i,
    } for i, (fid, (name, status, size, year, capital, staff, province, city)) in enumerate(FIRMS.items(), start=1)]
    applicants = [{"applicant_id": a, "name": raw, "raw_variants": [raw], "normalized_name": raw, "applicant_type": t,
                   "patent_count": 1} for a, (raw, t, *_) in APPLICANTS.items()]
    filings = [{"publication_number": pub, "position": 1, "applicant_id": a, "raw_name": APPLICANTS[a][0]}
               for pub, (_, _, _, a, _, _) in PATENTS.items()]
    matches = [{"applicant_id": a, "firm_id": f, "score": s, "decision": d, "link_type": "direct",
                "evidence": json.dumps({"name": raw}, ensure_ascii=False), "method_version": "t"}
               for a, (raw, _, f, s, d) in APPLICANTS.items()]
    node_patents = [{"chain_id": "ai", "node_id": n, "publication_number": pub, "matched_rule": "ipc:G06N3/*"}
                    for pub, (*_, nodes, _) in PATENTS.items() for n in nodes]
    tech_nodes = [{"chain_id": "ai", "chain_name_zh": "人工智能", "chain_name_en": "AI", "node_id": n, "parent_id": None,
                   "name_zh": zh, "name_en": en, "level": 1, "segment": seg, "expression": "ipc:G06N3/*",
                   "weight": weight} for n, zh, en, seg, weight in NODES]
    for name, rows in (("patents", patents), ("firms", firms), ("applicants", applicants), ("filings", filings),
                       ("matches", matches), ("node_patents", node_patents), ("tech_nodes", tech_nodes)):
        ws.write(name, pd.DataFrame(order(rows)), "fixture")
    return ws


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    ws = build_ranking_workspace(tmp_path_factory.mktemp("ranking"))
    report = rank_firms(ws, RUN)
    return ws, report


def _node(ws: Workspace, node_id: str) -> pd.DataFrame:
    return ws.read_df("firm_scores").query("node_id == @node_id").sort_values("rank").set_index("firm_id")


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_only_eligible_operating_companies_are_ranked(ranked):
    ws, report = ranked
    vision = _node(ws, "ai.vision")
    assert vision.index.tolist() == [STRONG, MANUAL, WEAK]
    strong = vision.loc[STRONG]
    assert (strong.patents_in_node, strong.inventions_in_node, strong.granted_in_node) == (3, 3, 3)
    assert strong.forward_citations == 4  # CN1A cited three times, CN2A once
    assert strong.recent_filings == 2  # 2023 and 2024: the 3 newest filing years end at 2024
    assert strong.node_share == pytest.approx(3 / 13)
    assert strong.tier == "A" and strong.score > vision.loc[WEAK].score
    assert report.firm_rows == len(ws.read_df("firm_scores"))
    assert report.pairs_considered == report.firm_rows + report.excluded_pairs


@pytest.mark.parametrize(("firm_id", "rule", "detail"), [
    (SHELL, "status", "status is deregistered; targets must be operating"),
    (REVOKED, "status", "status is revoked"),
    (BIG, "size_band", "size band large is outside micro, small, medium"),
    (PUBLIC, "firm_type", "public institution by its credit code"),
    (LOWCONF, "min_confidence", "best link confidence 0.70 is below 0.80"),
])
def test_each_exclusion_rule_records_itself(ranked, firm_id, rule, detail):
    ws, report = ranked
    exclusions = ws.read_df("firm_exclusions")
    mine = exclusions[exclusions["firm_id"] == firm_id]
    assert mine[["chain_id", "node_id", "rule"]].values.tolist() == [["ai", "ai.vision", rule]]
    assert detail in mine["detail"].iloc[0]
    assert firm_id not in set(ws.read_df("firm_scores")["firm_id"])
    assert report.excluded_by_rule[rule] >= 1


def test_a_reviewer_confirmed_link_counts_below_the_confidence_threshold(ranked):
    ws, _ = ranked
    manual = _node(ws, "ai.vision").loc[MANUAL]
    assert manual.patents_in_node == 1 and manual.match_confidence == pytest.approx(0.60)
    assert "(manual, confidence 0.60)" in manual.explanation


def test_universities_never_reach_the_rankings(ranked):
    ws, report = ranked
    scores, exclusions = ws.read_df("firm_scores"), ws.read_df("firm_exclusions")
    # CN7A (rejected university link) is held by no firm; CN13A's wrong link to WEAK is ignored.
    assert report.links_ignored_by_type == 1
    held = {pub for pubs in scores["top_patents"] for pub in pubs}
    assert {"CN7A", "CN13A"}.isdisjoint(held)
    assert _node(ws, "ai.vision").loc[WEAK].patents_in_node == 1
    assert len(scores) + exclusions[["chain_id", "node_id", "firm_id"]].drop_duplicates().shape[0] == \
        report.pairs_considered


def test_min_patents_rule_comes_from_the_scorecard_file(tmp_path):
    ws = build_ranking_workspace(tmp_path / "ws")
    card = load_scorecard(write_yaml(tmp_path / "card.yaml", "eligibility:\n  min_patents_in_node: 2\n"))
    report = rank_firms(ws, RUN, card)
    exclusions = ws.read_df("firm_exclusions")
    weak = exclusions[(exclusions["firm_id"] == WEAK) & (exclusions["node_id"] == "ai.vision")]
    assert weak[["rule", "detail"]].values.tolist() == [["min_patents", "1 patent in the node, fewer than 2"]]
    assert _node(ws, "ai.speech").index.tolist() == [P, Q]  # R holds a single patent there
    # Every failed rule is recorded: REVOKED, BIG and PUBLIC fail this one too; SHELL holds two patents.
    assert set(exclusions.loc[exclusions["rule"] == "min_patents", "firm_id"]) == {WEAK, MANUAL, R, P, REVOKED,
                                                                                  BIG, PUBLIC}
    assert report.excluded_by_rule["min_patents"] == 7


@pytest.mark.parametrize(("dimension", "order"), [
    ("dim_strength", [P, Q, R]),  # granted inventions > pending inventions > one utility model
    ("dim_growth", [Q, P]),  # Q filed both in 2024; P and R nothing recent
    ("dim_quality", [R, P]),  # R's utility model is cited three times
    ("dim_chain_position", [P, Q]),  # P is also in the upstream bottleneck node ai.chips
    ("dim_soundness", [P, R, Q]),  # older, more capital, more staff
])
def test_dimensions_point_the_right_way(ranked, dimension, order):
    ws, _ = ranked
    speech = _node(ws, "ai.speech")
    values = speech.loc[order, dimension].tolist()
    assert values == sorted(values, reverse=True) and values[0] > values[-1], speech[dimension]
    assert speech[dimension].between(0, 100).all()


@pytest.mark.parametrize(("yaml_text", "leader"), [
    ("", P),
    ("dimensions: {strength: {weight: 0}, quality: {weight: 0}, chain_position: {weight: 0}, soundness: {weight: 0}}",
     Q),
    ("dimensions: {strength: {weight: 0}, growth: {weight: 0}, chain_position: {weight: 0}, soundness: {weight: 0}}",
     R),
])
def test_weights_from_yaml_change_the_leader(tmp_path, yaml_text, leader):
    ws = build_ranking_workspace(tmp_path / "ws")
    rank_firms(ws, RUN, load_scorecard(write_yaml(tmp_path / "card.yaml", yaml_text)))
    assert _node(ws, "ai.speech").index[0] == leader


def test_tier_cut_offs_come_from_the_scorecard(tmp_path):
    ws = build_ranking_workspace(tmp_path / "ws")
    rank_firms(ws, RUN, load_scorecard(write_yaml(tmp_path / "card.yaml", "tiers: {A: 100, B: 100, C: 0}\n")))
    assert set(ws.read_df("firm_scores")["tier"]) == {"C"}


def test_ranking_is_deterministic_whatever_the_row_order(ranked, tmp_path):
    ws, _ = ranked
    again = build_ranking_workspace(tmp_path / "reversed", reverse_rows=True)
    rank_firms(again, RUN)
    first = ws.read_df("firm_scores").sort_values(["node_id", "rank"]).reset_index(drop=True)
    second = again.read_df("firm_scores").sort_values(["node_id", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(ws.read_df("firm_exclusions"), again.read_df("firm_exclusions"))


def test_explanation_names_strongest_patents_and_match_evidence(ranked):
    ws, _ = ranked
    strong = _node(ws, "ai.vision").loc[STRONG]
    assert list(strong.top_patents) == ["CN1A", "CN2A", "CN3A"]  # granted inventions, most cited first
    assert strong.explanation == "; ".join(strong.reasons)
    assert len(strong.reasons) == 4  # two top dimensions, the patents, the link
    assert strong.reasons[2].startswith("strongest patents: CN1A (granted invention, cited 3×)")
    assert strong.reasons[3] == "linked via applicant '强科技' (auto, confidence 0.99)"
    assert strong.reasons[0].startswith("Technology strength ") and "3 patents in node" in strong.reasons[0]


def test_pagerank_matches_networkx_and_favours_the_much_cited():
    pubs = pd.Series(["A", "B", "C", "D", "E", "F"])
    cited = pd.Series([["C"], ["C", "X-unknown"], ["E"], ["C", "C"], [], ["F"]])  # F cites itself
    citing, cited_rows = citation_edges(pubs, cited)
    assert sorted(zip(citing, cited_rows, strict=True)) == [(0, 2), (1, 2), (2, 4), (3, 2), (3, 2)]
    ours = pagerank(len(pubs), citing, cited_rows)
    graph = nx.DiGraph()
    graph.add_nodes_from(pubs)
    graph.add_edges_from([("A", "C"), ("B", "C"), ("C", "E"), ("D", "C")])
    theirs = nx.pagerank(graph, alpha=0.85, tol=1e-10)
    assert np.allclose(ours / len(pubs), [theirs[p] for p in pubs], atol=1e-6)
    assert ours[2] > ours[0] and ours.mean() == pytest.approx(1.0)


def test_firm_type_reads_the_credit_code():
    assert [firm_type(code) for code in (STRONG, PUBLIC, "111000000000000000", "532000000000000000",
                                         "922000000000000000", "5493001KJTIIGC8Y1R12"[:20])] == [
        "enterprise", "public_institution", "government", "social_organization", "individual_business", "unknown"]


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("dimensions: {growth: {wieght: 0.3}}", "dimensions.growth.wieght: Extra inputs are not permitted"),
    ("dimensions: {quality: {weight: -1}}", "dimensions.quality.weight: Input should be greater than or equal to 0"),
    ("dimensions: {quality: {weight: .inf}}", "dimensions.quality.weight: Input should be a finite number"),
    ("dimensions: {strength: {weight: 0}, quality: {weight: 0}, growth: {weight: 0}, chain_position: {weight: 0},"
     " soundness: {weight: 0}}", "dimension weights must not all be 0"),
    ("dimensions: {growth: {features: {recent_filings: 0, filing_growth: 0, recent_grants: 0, share_momentum: 0}}}",
     "dimensions.growth.features: Value error, feature weights must not all be 0"),
    ("tiers: {A: 20, B: 50}", "tier cut-offs must satisfy A >= B >= C"),
    ("eligibility: {statuses: [trading]}", "eligibility.statuses.0"),
    ("recent_years: [3", "not valid YAML"),
    ("- just a list", "a scorecard is a mapping"),
    ("dimensions: 3", "dimensions: expected a mapping"),
])
def test_invalid_scorecards_are_refused_naming_file_and_key(tmp_path, yaml_text, message):
    path = write_yaml(tmp_path / "bad.yaml", yaml_text)
    with pytest.raises(ScorecardError) as caught:
        load_scorecard(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_with_weights_refuses_unknown_names():
    card = load_scorecard()
    assert with_weights(card, {"growth": 0.9, "quality.pagerank": 0}).dimensions.growth.weight == 0.9
    with pytest.raises(ScorecardError, match="unknown dimension 'luck'"):
        with_weights(card, {"luck": 1})
    with pytest.raises(ScorecardError, match="growth has no feature 'hype'"):
        with_weights(card, {"growth.hype": 1})


def test_sensitivity_shows_who_moves_when_growth_weighs_more(ranked):
    ws, _ = ranked
    moves = rank_sensitivity(ws, "ai", "ai.speech", {"growth": 10.0}, top=1)
    assert moves[["firm_id", "rank_before", "rank_after", "move"]].values.tolist() == [[Q, 2, 1, "in"],
                                                                                        [P, 1, 2, "out"]]
    everyone = rank_sensitivity(ws, "ai", "ai.speech", {"growth": 10.0}, top=3)
    assert everyone["move"].tolist() == ["up 1", "down 1", "same"]
    assert everyone["score_before"].tolist() == _node(ws, "ai.speech").loc[[Q, P, R], "score"].tolist()
    with pytest.raises(ValueError, match="node ai/ai.nothing has no patents"):
        rank_sensitivity(ws, "ai", "ai.nothing", {"growth": 1.0})


def test_cli_rank_with_a_scorecard_and_the_sensitivity_command(tmp_path):
    ws = build_ranking_workspace(tmp_path / "ws")
    runner = CliRunner()
    bad = write_yaml(tmp_path / "bad.yaml", "dimensions: {growth: {wieght: 1}}")
    result = runner.invoke(app, ["--workspace", str(ws.root), "rank", "--scorecard", str(bad)])
    assert result.exit_code == 2 and "wieght" in result.output
    good = write_yaml(tmp_path / "good.yaml", "eligibility: {size_bands: [micro, small, medium, large]}")
    result = runner.invoke(app, ["--workspace", str(ws.root), "rank", "--scorecard", str(good)])
    assert result.exit_code == 0, result.output
    assert BIG in set(ws.read_df("firm_scores")["firm_id"])
    assert ws.runs()[-1]["scorecard"] == str(good)
    result = runner.invoke(app, ["--workspace", str(ws.root), "rank-sensitivity", "--chain", "ai", "--node",
                                 "ai.speech", "--weight", "growth=10", "--top", "1"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "1 firms move into the top 1, 1 move out" in result.output
    scores = ws.read_df("firm_scores")
    leader = scores[(scores["node_id"] == "ai.speech") & (scores["rank"] == 1)].iloc[0]
    # the firm moving out is shown with its whole credit code and its score as the table stores it, in an 80-column terminal
    assert leader["firm_id"] in result.output and f"{leader['score']:.2f}" in result.output
    result = runner.invoke(app, ["--workspace", str(ws.root), "rank-sensitivity", "--chain", "ai", "--node",
                                 "ai.speech", "--weight", "growth"])
    assert result.exit_code == 2 and "expected name=number" in result.output


def test_the_graph_carries_the_new_ranking_columns(ranked):
    ws, _ = ranked
    ranked_in = graph_tables(ws).rels["RANKED_IN"].to_pandas().set_index("from")
    strong = ranked_in.loc[STRONG]
    assert list(strong["top_patents"]) == ["CN1A", "CN2A", "CN3A"] and strong["dim_strength"] > 50
    # the reasons list stays in firm_scores; the graph carries it once, joined, as the explanation
    scored = ws.read_df("firm_scores").set_index("firm_id").loc[STRONG]
    assert "reasons" not in ranked_in.columns and strong["explanation"] == "; ".join(scored["reasons"])


def test_a_scorecard_that_excludes_every_pair_writes_an_empty_ranking(tmp_path):
    ws = build_ranking_workspace(tmp_path / "ws")
    report = rank_firms(ws, RUN, load_scorecard(write_yaml(tmp_path / "card.yaml",
                                                           "eligibility:\n  min_patents_in_node: 100\n")))
    assert ws.read_df("firm_scores").empty and report.firm_rows == 0
    exclusions = ws.read_df("firm_exclusions")
    assert report.excluded_pairs == report.pairs_considered == 12
    assert exclusions[["chain_id", "node_id", "firm_id"]].drop_duplicates().shape[0] == 12


def test_percentiles_are_mid_ranks_within_each_node_with_missing_values_in_the_middle():
    rng = np.random.default_rng(3)
    nodes = rng.integers(0, 40, 5000)
    values = rng.integers(0, 12, 5000).astype("float64")  # many ties
    values[rng.random(5000) < 0.1] = np.nan
    series = pd.Series(values)
    expected = ((series.groupby(nodes).rank(method="average") - 0.5)
                / series.notna().groupby(nodes).transform("sum")).fillna(0.5)
    assert np.array_equal(percentile(values, nodes), expected.to_numpy())  # bit for bit: scores must not drift
    assert percentile(np.array([7.0]), np.array([0]))[0] == 0.5  # alone in its node: the middle


def test_numbers_in_explanations_print_as_python_prints_them():
    values = np.array([0.5, 1.5, 2.5, 49.5, 99.5, 12.345, 0.05, 0.15, -0.3, -0.5, -1.5, 1e6 + 0.5])
    assert _whole(values).to_pylist() == [f"{v:.0f}" for v in values]
    assert _tenths(values).to_pylist() == [f"{v:.1f}" for v in values]
