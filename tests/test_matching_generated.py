"""End to end on the demo generator: generate -> ingest -> match -> evaluate against labels.csv."""

from __future__ import annotations

import json

import pytest

from graph.workspace import Workspace
from matching import evaluate_matching, record_decision, run_matching, scoring

ingest = pytest.importorskip("ingest", reason="ingest package (generator + readers) not available")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    dataset = ingest.generate(out, n_patents=3000, n_firms=800, seed=7)
    workspace = Workspace(out / "ws")
    ingest.ingest_patents(workspace, [out / "patents"], "ingest-patents")
    ingest.ingest_firms(workspace, [out / "firms"], "ingest-firms")
    report = run_matching(workspace, "match-1")
    return workspace, dataset, report


@pytest.mark.slow
def test_company_links_meet_the_targets(generated):
    workspace, dataset, _ = generated
    result = evaluate_matching(workspace, dataset.labels)
    print(result.summary())
    assert result.not_found == 0
    company = result.by_type["company"]
    assert company.labelled_links > 500
    assert company.precision >= 0.99, result.summary()
    assert company.recall >= 0.97, result.summary()
    assert result.type_accuracy >= 0.98


@pytest.mark.slow
def test_non_firms_are_never_linked_and_people_only_with_precision(generated):
    workspace, dataset, _ = generated
    result = evaluate_matching(workspace, dataset.labels)
    for kind in ("university", "research_institute", "hospital", "government"):
        assert result.by_type[kind].links_made == 0, kind
    people = result.by_type["individual"]
    assert people.precision >= 0.95, result.summary()
    assert people.correct + people.in_review >= 0.9 * people.labelled_links, result.summary()


@pytest.mark.slow
def test_every_applicant_row_carries_evidence(generated):
    workspace, _, report = generated
    matches = workspace.read_df("matches")
    assert report.applicants == workspace.read_df("applicants")["applicant_id"].nunique()
    linked = matches[matches["firm_id"].notna()]
    for raw in linked["evidence"].sample(50, random_state=1):
        evidence = json.loads(raw)
        assert {"applicant", "firm", "features", "matched_variant", "method"} <= set(evidence)


def _contribution(features: dict, script_zh: bool) -> float:
    """The log-odds a link's evidence adds up to, recomputed from its features and the documented weights."""
    legal = scoring.LEGAL_FORM if script_zh else scoring.LEGAL_FORM_LATIN
    dates = 0.0 if features["date_share"] is None else scoring.DATES_OUTSIDE * (1.0 - features["date_share"])
    return (scoring.INTERCEPT + features["name"] + scoring.REGION[features["region"]] + legal[features["legal_form"]]
            + (scoring.SAME_ADDRESS if features["same_address"] else 0.0) + scoring.VARIANT[features["variant"]]
            + (scoring.SHORT_FUZZY if features["short_name_fuzzy"] else 0.0) + dates)


@pytest.mark.slow
def test_every_accepted_firm_name_link_is_explained_field_by_field(generated):
    """Name variant, per-feature scores, location and dates are in the evidence, and they add up to the score."""
    workspace, _, _ = generated
    matches = workspace.read_df("matches")
    auto = matches[(matches["decision"] == "auto") & matches["link_type"].isin(["direct", "former_name"])]
    assert len(auto) > 500
    for row in auto.itertuples(index=False):
        evidence = json.loads(row.evidence)
        features, applicant, firm = evidence["features"], evidence["applicant"], evidence["firm"]
        assert evidence["matched_variant"]["name"] and evidence["matched_variant"]["variant"] in (
            "current", "former", "english")
        assert firm["firm_id"] == row.firm_id and {"province", "city", "established", "deregistered"} <= set(firm)
        assert {"province", "city", "first_filing", "last_filing", "filings"} <= set(applicant)
        zh = any("\u4e00" <= c <= "\u9fff" for c in applicant["name"])
        assert _contribution(features, zh) == pytest.approx(features["logit"], abs=0.002), evidence
        best = evidence["candidates"][0]
        assert (best["firm_id"], best["score"]) == (row.firm_id, round(row.score, 4))
        assert (row.link_type == "former_name") == (evidence["matched_variant"]["variant"] == "former")


@pytest.mark.slow
def test_review_decisions_survive_a_full_rerun_from_ingest(generated, tmp_path):
    """Decisions live in the workspace: re-ingesting the sources and re-matching applies them again, first."""
    workspace, dataset, _ = generated
    matches = workspace.read_df("matches")
    firm_links = matches[matches["link_type"] == "direct"]
    rejected = firm_links[firm_links["decision"] == "auto"].iloc[0]
    waiting = firm_links[firm_links["decision"] == "review"].iloc[0]
    other_firm = workspace.read_df("firms")["firm_id"].iloc[0]
    chosen = firm_links[(firm_links["decision"] == "auto") & (firm_links["firm_id"] != other_firm)].iloc[1]
    record_decision(workspace, rejected.applicant_id, "reject", rejected.firm_id, reviewer="li")
    record_decision(workspace, waiting.applicant_id, "accept", waiting.firm_id, reviewer="li")
    record_decision(workspace, chosen.applicant_id, "choose", other_firm, reviewer="li", note="registry error")
    try:
        ingest.ingest_patents(workspace, [dataset.patent_files[0].parent], "ingest-patents-2")
        ingest.ingest_firms(workspace, [dataset.firm_files[0].parent], "ingest-firms-2")
        report = run_matching(workspace, "match-2")
        assert (report.review_rows_read, report.review_rows_quarantined) == (3, 0)
        after = workspace.read_df("matches")
        after = after[after["link_type"] == "direct"]

        def rows(applicant_id):
            return after[after["applicant_id"] == applicant_id]

        assert rejected.firm_id not in set(rows(rejected.applicant_id)["firm_id"].dropna())
        accepted = rows(waiting.applicant_id)
        assert accepted[["firm_id", "decision"]].values.tolist() == [[waiting.firm_id, "manual"]]
        picked = rows(chosen.applicant_id)
        assert picked[["firm_id", "decision"]].values.tolist() == [[other_firm, "manual"]]
        assert json.loads(picked["evidence"].iloc[0])["review"]["note"] == "registry error"
    finally:  # later tests of this module read the automatic links
        workspace.decisions_path.unlink()
        run_matching(workspace, "match-3")


@pytest.mark.slow
def test_evaluation_summary_lists_the_errors(generated):
    workspace, dataset, _ = generated
    result = evaluate_matching(workspace, dataset.labels)
    assert result.errors
    summary = result.summary(max_errors=None)
    for error in result.errors:
        assert f"{error['error']:<11} {error['applicant_name']} [" in summary
    wrong = [e for e in result.errors if e["error"] != "missed"]
    shown = result.summary(max_errors=len(wrong)).splitlines()
    assert [line.split()[0] for line in shown if line.startswith("  ") and "more" not in line] == [
        e["error"] for e in sorted(wrong, key=lambda e: e["error"] != "false_link")]
