"""End to end on the demo generator: generate -> ingest -> match -> evaluate against labels.csv."""

from __future__ import annotations

import json

import pytest

from graph.workspace import Workspace
from matching import evaluate_matching, run_matching

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
