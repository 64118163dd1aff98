"""run_matching on hand-written fixture tables (tests/fixtures/matching): the hard cases one by one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from fixtures.matching.tables import firms_frame, patents_frame, write_workspace

from graph.contracts import MATCHES
from matching import evaluate_matching, record_decision, run_matching
from matching.scoring import METHOD_VERSION

HUAXING = "91440300HX0000001A"
RUIDA_GUANGZHOU, RUIDA_CHENGDU = "91440100RD0000002B", "91510100RD0000003C"
HENGTAI_RENAMED, HENGTAI_NEW = "91330100HT0000004D", "91330100HT0000005E"
BOYUAN_DEREGISTERED = "91320100BY0000006F"
HONGTU_GROUP, HONGTU_SUB = "91110000HT0000008H", "91110000HT0000009J"
ACLARION = "US00000000AC000000"


@pytest.fixture()
def matched(tmp_path):
    workspace = write_workspace(tmp_path / "ws")
    report = run_matching(workspace, "run-1")
    return workspace, report


def _links(workspace) -> pd.DataFrame:
    applicants = workspace.read_df("applicants")
    matches = workspace.read_df("matches")
    return matches.merge(applicants[["applicant_id", "name", "raw_variants", "applicant_type", "region", "city"]],
                         on="applicant_id")


def _rows_for(workspace, raw_name: str, city: str | None = None) -> pd.DataFrame:
    links = _links(workspace)
    hit = links["raw_variants"].map(lambda variants: raw_name in list(variants))
    if city:
        hit &= links["city"] == city
    return links[hit]


def test_tables_follow_the_contracts_and_every_applicant_has_a_row(matched):
    workspace, report = matched
    applicants = workspace.read_df("applicants")
    filings = workspace.read_df("filings")
    matches = workspace.read_df("matches")
    assert report.patents_read == len(patents_frame()) and report.patents_quarantined == 0
    assert len(filings) == report.filings == sum(len(a) for a in patents_frame()["applicants"])
    assert set(matches["applicant_id"]) == set(applicants["applicant_id"])
    assert matches["method_version"].eq(METHOD_VERSION).all() and report.method_version == METHOD_VERSION
    assert set(matches["decision"]) <= set(MATCHES.enums["decision"])
    # the report's counts are those of the tables it wrote
    assert report.applicants == len(applicants)
    assert report.applicant_types == applicants["applicant_type"].value_counts().to_dict()
    assert report.decisions == matches["decision"].value_counts().to_dict()
    linked = matches[matches["firm_id"].notna()]
    assert report.link_types == linked["link_type"].value_counts().to_dict() and len(report.link_types) > 1
    firm_links = linked[linked["decision"].isin(["auto", "manual"])]
    assert report.linked_applicants == firm_links["applicant_id"].nunique() > 0


def test_spelling_variants_resolve_to_one_firm(matched):
    workspace, _ = matched
    for raw in ("深圳市华兴智能科技有限公司", "華興智能科技（深圳）有限公司",
                "Shenzhen Huaxing Intelligent Technology Co.，Ltd.", "深圳市化兴智能科技有限公司"):
        rows = _rows_for(workspace, raw)
        direct = rows[rows["link_type"] == "direct"]
        assert direct["firm_id"].tolist() == [HUAXING], raw
        assert direct["decision"].tolist() == ["auto"], raw


def test_typo_evidence_names_the_variant_and_the_address(matched):
    workspace, _ = matched
    row = _rows_for(workspace, "深圳市化兴智能科技有限公司").iloc[0]
    evidence = json.loads(row["evidence"])
    assert evidence["matched_variant"] == {"name": "深圳市华兴智能科技有限公司", "variant": "current", "via": "fuzzy"}
    assert evidence["features"]["edits"] == 1 and evidence["features"]["same_address"] is True
    assert evidence["features"]["region"] == "city"
    for field in ("applicant", "firm", "features", "candidates", "excluded", "method", "decision_rule"):
        assert field in evidence
    assert evidence["candidates"][0]["firm_id"] == HUAXING
    assert evidence["firm"]["established"] == "2010-05-12"


def test_same_name_in_two_cities_stays_two_applicants_with_their_own_firm(matched):
    workspace, _ = matched
    guangzhou = _rows_for(workspace, "瑞达通信技术有限公司", city="广州")
    chengdu = _rows_for(workspace, "瑞达通信技术有限公司", city="成都")
    assert guangzhou["applicant_id"].iloc[0] != chengdu["applicant_id"].iloc[0]
    assert guangzhou["firm_id"].tolist() == [RUIDA_GUANGZHOU]
    assert chengdu["firm_id"].tolist() == [RUIDA_CHENGDU]
    assert (guangzhou["decision"].tolist(), chengdu["decision"].tolist()) == (["auto"], ["auto"])


def test_former_name_before_the_new_holder_existed_goes_to_the_renamed_firm(matched):
    workspace, _ = matched
    rows = _rows_for(workspace, "恒泰药业有限公司")
    assert rows[["firm_id", "link_type", "decision"]].values.tolist() == [[HENGTAI_RENAMED, "former_name", "auto"]]
    evidence = json.loads(rows["evidence"].iloc[0])
    assert {"firm_id": HENGTAI_NEW, "reason": "firm established on 2020-06-01, after every filing of this applicant"} \
        in evidence["excluded"]


def test_former_name_after_the_new_holder_exists_goes_to_the_new_holder(tmp_path):
    patents = patents_frame()
    renamed = patents["publication_number"] == "CN110000007A"
    patents.loc[renamed, "application_date"] = pd.Timestamp("2022-01-01").date()
    patents.loc[renamed, "applicant_addresses"] = pd.Series([["浙江省杭州市上城区某路1号"]], index=patents.index[renamed])
    workspace = write_workspace(tmp_path / "ws", patents=patents)
    run_matching(workspace, "run-1")
    rows = _rows_for(workspace, "恒泰药业有限公司")
    assert rows[["firm_id", "link_type", "decision"]].values.tolist() == [[HENGTAI_NEW, "direct", "auto"]]
    excluded = json.loads(rows["evidence"].iloc[0])["excluded"]
    assert excluded[0]["firm_id"] == HENGTAI_RENAMED and "held by 91330100HT0000005E" in excluded[0]["reason"]


def test_firm_deregistered_before_the_filing_is_never_the_applicant(matched):
    workspace, _ = matched
    rows = _rows_for(workspace, "南京博远科技有限公司")
    assert rows["firm_id"].isna().all() and rows["decision"].tolist() == ["rejected"]
    evidence = json.loads(rows["evidence"].iloc[0])
    assert evidence["excluded"][0]["firm_id"] == BOYUAN_DEREGISTERED
    assert "deregistered" in evidence["excluded"][0]["reason"]


def test_deregistered_firm_that_truly_filed_is_linked_and_flagged_with_its_successor(tmp_path):
    patents = patents_frame()
    patents.loc[patents["publication_number"] == "CN110000008A", "application_date"] = pd.Timestamp("2014-03-03").date()
    workspace = write_workspace(tmp_path / "ws", patents=patents)
    run_matching(workspace, "run-1")
    row = _rows_for(workspace, "南京博远科技有限公司").iloc[0]
    assert (row["firm_id"], row["decision"]) == (BOYUAN_DEREGISTERED, "auto")
    firm = json.loads(row["evidence"])["firm"]
    assert firm["status"] == "deregistered" and firm["successor_firm_id"] == "91320100BY0000007G"
    assert "excluded from ranking" in firm["flag"]


def test_group_applicant_gets_its_operating_subsidiary_as_well(matched):
    workspace, _ = matched
    rows = _rows_for(workspace, "鸿图控股集团有限公司").set_index("link_type")
    assert rows.loc["direct", "firm_id"] == HONGTU_GROUP
    assert rows.loc["subsidiary", "firm_id"] == HONGTU_SUB  # the deregistered subsidiary is left out
    assert rows.loc["subsidiary", "decision"] == "auto"
    assert json.loads(rows.loc["subsidiary", "evidence"])["features"]["parent_firm_id"] == HONGTU_GROUP


def test_person_resolves_to_the_firm_they_run_in_their_city(matched):
    workspace, _ = matched
    co_applicant = _rows_for(workspace, "李娜", city="深圳")
    assert co_applicant[["firm_id", "link_type", "decision"]].values.tolist() == [
        [HUAXING, "legal_representative", "auto"]]
    elsewhere = _rows_for(workspace, "李娜", city="成都")
    assert elsewhere["firm_id"].isna().all()
    two_firms = _rows_for(workspace, "王伟", city="深圳")  # runs two firms there and filed alone
    assert set(two_firms["decision"]) == {"review"} and len(two_firms) == 2


def test_universities_and_government_get_no_firm_and_say_why(matched):
    workspace, _ = matched
    for raw, reason in (("清华大学", "university"), ("深圳市人民政府", "government")):
        rows = _rows_for(workspace, raw)
        assert rows["firm_id"].isna().all() and rows["decision"].tolist() == ["rejected"]
        assert reason in json.loads(rows["evidence"].iloc[0])["reason"]


def test_short_lookalike_name_is_not_linked(matched):
    workspace, _ = matched
    rows = _rows_for(workspace, "Clarion Co.，Ltd.")
    assert rows["firm_id"].isna().all(), rows[["firm_id", "score", "decision"]]
    candidates = json.loads(rows["evidence"].iloc[0])["candidates"]
    assert candidates and candidates[0]["firm_id"] == ACLARION  # considered, and refused


def test_decisions_apply_before_matching_and_survive_a_rerun(matched):
    workspace, _ = matched
    typo = _rows_for(workspace, "深圳市化兴智能科技有限公司")["applicant_id"].iloc[0]
    clarion = _rows_for(workspace, "Clarion Co.，Ltd.")["applicant_id"].iloc[0]
    record_decision(workspace, typo, "reject", HUAXING, reviewer="wang", note="different firm, same street")
    record_decision(workspace, clarion, "choose", ACLARION, reviewer="wang")
    for run in ("run-2", "run-3"):
        report = run_matching(workspace, run)
        assert report.review_rows_read == 2 and report.review_rows_quarantined == 0
        rejected = _rows_for(workspace, "深圳市化兴智能科技有限公司")
        assert HUAXING not in set(rejected["firm_id"].dropna())
        chosen = _rows_for(workspace, "Clarion Co.，Ltd.")
        assert chosen[["firm_id", "decision", "score"]].values.tolist() == [[ACLARION, "manual", 1.0]]
        assert json.loads(chosen["evidence"].iloc[0])["review"]["reviewer"] == "wang"


def test_a_reviewer_choosing_the_firm_that_used_to_bear_the_name_gives_a_former_name_link(tmp_path):
    # 恒泰药业有限公司 is HENGTAI_RENAMED's former name and HENGTAI_NEW's current one (two processes: the register
    # comes back from its child)
    workspace = write_workspace(tmp_path / "ws")
    run_matching(workspace, "run-1", workers=2)
    applicant = _rows_for(workspace, "恒泰药业有限公司")["applicant_id"].iloc[0]
    for firm, link in ((HENGTAI_RENAMED, "former_name"), (HENGTAI_NEW, "direct")):
        record_decision(workspace, applicant, "choose", firm, reviewer="wang")
        run_matching(workspace, f"chose-{firm}", workers=2)
        rows = _rows_for(workspace, "恒泰药业有限公司")
        assert rows[["firm_id", "link_type", "decision"]].values.tolist() == [[firm, link, "manual"]]


def test_bad_decision_rows_are_quarantined_and_the_rest_apply(matched):
    workspace, _ = matched
    clarion = _rows_for(workspace, "Clarion Co.，Ltd.")["applicant_id"].iloc[0]
    workspace.decisions_path.parent.mkdir(parents=True, exist_ok=True)
    with open(workspace.decisions_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["applicant_id", "action", "firm_id", "reviewer", "decided_at", "note"])
        writer.writerow([clarion, "approve", ACLARION, "li", "2024-01-01", ""])
        writer.writerow(["A-unknown", "accept", ACLARION, "li", "2024-01-01", ""])
        writer.writerow([clarion, "choose", "NO-SUCH-FIRM", "li", "2024-01-01", ""])
        writer.writerow([clarion, "choose", ACLARION, "li", "2024-01-01", ""])
    report = run_matching(workspace, "run-2")
    assert (report.review_rows_read, report.review_rows_quarantined) == (4, 3)
    quarantine = workspace.read_df("quarantine")
    mine = quarantine[quarantine["stage"] == "matching"].sort_values("position")
    assert mine[["position", "field"]].values.tolist() == [[1, "action"], [2, "applicant_id"], [3, "firm_id"]]
    assert mine["source_file"].eq(str(workspace.decisions_path)).all()
    assert _rows_for(workspace, "Clarion Co.，Ltd.")["decision"].tolist() == ["manual"]


def test_record_decision_refuses_unknown_ids(matched):
    workspace, _ = matched
    with pytest.raises(ValueError, match="not in"):
        record_decision(workspace, "A-nobody", "accept", HUAXING, reviewer="li")
    applicant = workspace.read_df("applicants")["applicant_id"].iloc[0]
    with pytest.raises(ValueError, match="not in"):
        record_decision(workspace, applicant, "choose", "NO-SUCH-FIRM", reviewer="li")
    with pytest.raises(ValueError, match="action"):
        record_decision(workspace, applicant, "maybe", HUAXING, reviewer="li")


def test_patent_without_applicants_is_quarantined(tmp_path):
    patents = patents_frame()
    patents.at[0, "applicants"] = []
    workspace = write_workspace(tmp_path / "ws", patents=patents)
    report = run_matching(workspace, "run-1")
    assert report.patents_quarantined == 1
    row = workspace.read_df("quarantine").iloc[0]
    assert (row["source_file"], row["position"], row["field"]) == ("patents.csv", 1, "applicants")


def test_evaluation_against_a_label_file(matched, tmp_path):
    workspace, _ = matched
    labels = tmp_path / "labels.csv"
    rows = [("深圳市华兴智能科技有限公司", "518000 广东省深圳市南山区科技路8号", HUAXING, "company"),
            ("瑞达通信技术有限公司", "四川省成都市武侯区天府大道9号", RUIDA_CHENGDU, "company"),
            ("Clarion Co.，Ltd.", "", "NONE", "company"),
            ("南京博远科技有限公司", "江苏省南京市江宁区仙林大道2号", BOYUAN_DEREGISTERED, "company"),  # wrong on purpose
            ("清华大学", "北京市海淀区清华园1号", "NONE", "university"),
            ("不存在的公司", "", "NONE", "company")]
    with open(labels, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["applicant_name", "address", "expected_firm_id", "applicant_type"])
        writer.writerows(rows)
    result = evaluate_matching(workspace, labels)
    assert (result.labels_read, result.not_found) == (6, 1)
    company = result.by_type["company"]
    assert (company.links_made, company.correct, company.labelled_links) == (2, 2, 3)
    assert company.precision == 1.0 and company.recall == pytest.approx(2 / 3)
    assert [e["error"] for e in result.errors] == ["missed"]
    assert result.type_accuracy == 1.0


def test_firms_fixture_has_the_contract_columns():
    assert firms_frame()["firm_id"].is_unique


def _workspace_with(tmp_path, firm_rows: list[str], patent_rows: list[str]):
    """The fixture tables plus the given CSV rows (firms.csv / patents.csv columns)."""
    tables = {}
    for name, rows in (("firms", firm_rows), ("patents", patent_rows)):
        path = tmp_path / f"{name}.csv"
        original = (Path(__file__).parent / "fixtures" / "matching" / f"{name}.csv").read_text(encoding="utf-8")
        path.write_text(original.rstrip("\n") + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        tables[name] = path
    workspace = write_workspace(tmp_path / "ws", patents=patents_frame(tables["patents"]),
                                firms=firms_frame(tables["firms"]))
    run_matching(workspace, "run-1")
    return workspace


def test_former_name_is_not_held_by_a_namesake_registered_in_another_city(tmp_path):
    # 准科生物技术（佛山）has existed since 2003; it does not hold the Wuxi firm's former name 准科生物技术（无锡）
    renamed, foshan = "91320200ZK0000001A", "91440600ZK0000002B"
    workspace = _workspace_with(tmp_path, [
        f"{renamed},准科药业（无锡）有限公司,准科生物技术（无锡）有限公司,,operating,2005-01-01,,江苏省,无锡市,"
        "江苏省无锡市新吴区工业园路922号,王芳,,",
        f"{foshan},准科生物技术（佛山）有限公司,,,operating,2003-02-28,,广东省,佛山市,广东省佛山市南海区文化路1号,赵磊,,",
    ], ["CN110000901A,2012-01-01,准科生物技术（无锡）有限公司,江苏省无锡市新吴区工业园路922号"])
    rows = _rows_for(workspace, "准科生物技术（无锡）有限公司")
    assert rows[["firm_id", "link_type", "decision"]].values.tolist() == [[renamed, "former_name", "auto"]]
    assert json.loads(rows["evidence"].iloc[0])["excluded"] == []


def test_filings_on_both_sides_of_a_firms_life_exclude_it_and_say_so(tmp_path):
    # 澜图光电 existed 2010-2012; its name appears on patents of 2008 and 2015, none while it existed (listed once,
    # though its name is found twice: exactly, then by the fuzzy search that runs when no exact candidate is valid)
    ended = "91440300ZK0000005E"
    workspace = _workspace_with(tmp_path, [
        f"{ended},深圳澜图光电有限公司,,,deregistered,2010-01-01,2012-06-30,广东省,深圳市,广东省深圳市南山区科技园1号,"
        "李强,,",
    ], ["CN110000903A,2008-03-03,深圳澜图光电有限公司,广东省深圳市南山区科技园1号",
        "CN110000904A,2015-09-09,深圳澜图光电有限公司,广东省深圳市南山区科技园1号"])
    row = _rows_for(workspace, "深圳澜图光电有限公司").iloc[0]
    assert row["decision"] == "rejected" and row["firm_id"] != ended
    assert json.loads(row["evidence"])["excluded"] == [{
        "firm_id": ended, "reason": "firm existed from 2010-01-01 to 2012-06-30 (deregistered): no filing of this "
                                    "applicant falls in that time"}]


def test_namesake_in_another_city_does_not_stop_the_search_for_a_near_name_at_the_applicants_address(tmp_path):
    # 博科智能制造 exists only in Nanjing (a former name); the Beijing applicant at 北京正科's address is 北京正科
    beijing, nanjing = "91110115ZK0000003C", "91320113ZK0000004D"
    workspace = _workspace_with(tmp_path, [
        f"{beijing},北京正科智能制造有限公司,,,operating,2011-09-30,,北京市,北京市,北京市大兴区创业路338号,孙丽,,",
        f"{nanjing},微越智能装备（南京）有限责任公司,博科智能制造（南京）有限责任公司,,operating,2001-01-01,,江苏省,"
        "南京市,江苏省南京市栖霞区仙林大道1号,钱伟,,",
    ], ["CN110000902A,2013-05-05,北京博科智能制造有限公司,北京市大兴区创业路338号"])
    row = _rows_for(workspace, "北京博科智能制造有限公司").iloc[0]
    assert (row["firm_id"], row["decision"]) == (beijing, "auto")
    evidence = json.loads(row["evidence"])
    assert evidence["matched_variant"]["via"] == "fuzzy" and evidence["features"]["same_address"] is True
    assert nanjing in [c["firm_id"] for c in evidence["candidates"]]


def test_filings_keep_positions_among_named_applicants_and_their_own_addresses(tmp_path):
    patents = patents_frame()
    patents.at[0, "applicants"] = ["", " 深圳市华兴智能科技有限公司 ", None, "李娜"]
    patents.at[0, "applicant_addresses"] = ["", "广东省深圳市南山区科技路8号", None, "  "]
    workspace = write_workspace(tmp_path / "ws", patents=patents)
    run_matching(workspace, "run-1")
    filings = workspace.read_df("filings")
    first = filings[filings["publication_number"] == patents.at[0, "publication_number"]]
    assert first["position"].tolist() == [1, 2]
    assert first["raw_name"].tolist() == ["深圳市华兴智能科技有限公司", "李娜"]
    assert first["address"].iloc[0] == "广东省深圳市南山区科技路8号" and pd.isna(first["address"].iloc[1])


def test_register_finds_names_one_character_apart_and_only_those():
    from matching.normalize import parse_name
    from matching.register import FirmRegister

    register = FirmRegister(firms_frame())
    core = parse_name(register.firms["name"][0]).core  # 华兴智能科技
    typo = core[:-1] + "甲"
    two_typos = "乙" + typo[1:]
    found = register.one_substitutions([typo, two_typos, core[:2], core])

    def firms(entries: set[int]) -> set[int]:
        return {register.entries[e].firm for e in entries}

    assert 0 in firms(found[0])  # one character changed: the firm is found
    assert 0 not in firms(found[1])  # two changed: it is not
    assert found[2] == set()  # under three characters nothing is searched
    assert 0 in firms(found[3]) and found[3] == register.one_substitution(core)  # batch = one by one


def test_register_lookups_answer_as_dicts_of_lists_and_survive_the_trip_between_processes():
    import pickle
    from collections import defaultdict

    from matching.register import FirmRegister, Postings

    keys = ["华兴", "b", "华兴", "", "c", "b", "华兴"]
    postings = Postings(keys, [10, 11, 12, 13, 14, 15, 16])
    expected = defaultdict(list)
    for key, value in zip(keys, [10, 11, 12, 13, 14, 15, 16], strict=True):
        expected[key].append(value)
    for copy in (postings, pickle.loads(pickle.dumps(postings))):
        assert {key: copy[key] for key in copy.keys} == expected
        assert copy.keys == list(expected)  # numbered in order of first appearance
        assert copy.get("absent") == () and "absent" not in copy
        asked = ["b", "absent", "华兴", None, "", "b"]
        counts, ids = copy.gather(asked)
        assert counts.tolist() == [len(copy.get(k)) for k in asked]
        assert ids.tolist() == [i for k in asked for i in copy.get(k)]
    assert Postings([], []).gather(["a"])[0].tolist() == [0]

    register = FirmRegister(firms_frame())
    arrived = FirmRegister.from_portable(pickle.loads(pickle.dumps(register.portable())), register.firms)
    for lookup in ("by_key", "by_core", "by_address", "entries_of", "by_legal_rep", "children"):
        built, sent = getattr(register, lookup), getattr(arrived, lookup)
        assert len(built) > 0, lookup
        assert {k: built[k] for k in built.keys} == {k: sent[k] for k in sent.keys}, lookup
    assert arrived.by_address.number == register.by_address.number
    assert [vars(e) for e in arrived.entries] == [vars(e) for e in register.entries]


def test_a_failed_register_child_or_applicant_build_replaces_no_table_and_leaves_no_child(tmp_path, monkeypatch):
    """With two processes the register child also types the applicant names that are register names: its failure
    there is an error naming it, and a failure in this process stops it."""
    import multiprocessing

    from matching import pipeline

    workspace = write_workspace(tmp_path / "ws")
    run_matching(workspace, "good", workers=1)
    tables = ("applicants", "filings", "matches", "name_parses")

    def broken_classify(name):
        raise ValueError(f"cannot type {name}")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "classify_applicant", broken_classify)  # only the register child's side work
        with pytest.raises(RuntimeError, match=r"worker \(firm register\) failed:(.|\n)*ValueError: cannot type"):
            run_matching(workspace, "failed-child", workers=2)
    assert multiprocessing.active_children() == []

    def broken_build(*args, **kwargs):
        raise MemoryError("applicants ran out of memory")

    monkeypatch.setattr(pipeline, "build_applicants", broken_build)
    with pytest.raises(MemoryError):
        run_matching(workspace, "failed-parent", workers=2)
    assert multiprocessing.active_children() == []
    assert {name: workspace.run_id_of(name) for name in tables} == dict.fromkeys(tables, "good")


@pytest.mark.parametrize("workers", [1, 2])
def test_kept_name_parses_are_what_parsing_and_typing_every_name_afresh_gives(tmp_path, workers):
    """name_parses (read by the next refresh instead of parsing again) is assembled from the parses the register
    and the applicants made, in two processes with workers=2: it holds every register name and applicant spelling
    once, in order of first appearance, as parse_name gives it, and each spelling's classify_applicant type."""
    import pyarrow as pa

    from matching.classify import classify_applicant
    from matching.normalize import parse_name
    from matching.register import KeptNames, entry_names, name_parses_table

    workspace = write_workspace(tmp_path / "ws")
    run_matching(workspace, "run-1", workers=workers)
    firms = workspace.read_df("firms")
    entry_raws = [raw for row in zip(firms["name"], firms["former_names"], firms["english_name"], strict=True)
                  for _, raw in entry_names(*row)]
    spellings = [raw for raws in workspace.read_df("applicants")["raw_variants"] for raw in raws]
    assert len(set(entry_raws)) < len(entry_raws) and set(spellings) - set(entry_raws)  # both sources, repeats
    afresh = name_parses_table(KeptNames({}, {}), pa.array(entry_raws + spellings, pa.string()),
                               pa.array(spellings, pa.string()), parse_name.__wrapped__, classify_applicant)
    written = workspace.read("name_parses")
    assert written.equals(afresh.cast(written.schema))  # the contract's schema: some columns are not null


def test_a_glued_assignment_clause_links_the_longest_register_name_it_starts_with(tmp_path):
    # OCR'd pre-1976 US full text: the assignee clause glued into one word, head slips and all. The register says
    # where the name ends: EASTMAN KODAK COMPANY, not the shorter EASTMAN INC it also starts with
    kodak, eastman, hughes_ca, hughes_tx = "US0000000000KODAK1", "US00000000EASTMAN1", "US000000HUGHESCA01", "US000000HUGHESTX01"
    workspace = _workspace_with(tmp_path, [
        f"{kodak},Eastman Kodak Company,,,operating,1901-10-24,,,,,,,",
        f"{eastman},Eastman Inc.,,,operating,1950-01-01,,,,,,,",
        f"{hughes_ca},Hughes Aircraft Co.,,,operating,1932-01-01,,,,,,,",
        f"{hughes_tx},HUGHES AIRCRAFT CO,,,operating,1932-01-01,,,,,,,",
    ], ["US2900001A,1955-06-19,ASSIGNORSTOEASTMANKODAKCOMPANYROCHESTERNYACORPORATIONOFNEWJERSEYFILEDJUNE191955,",
        "US2900002A,1956-02-01,ASSIGIIORTOEASTMANKODAKROCHESTERNYFILEDFEB11956NO,",
        "US2900003A,1957-03-03,ASSIGNORTOHUGHESAIRCRAFTCOCULVERCITYCALIFFILEDMAR31957,",
        "US2900004A,1958-04-04,ASSIGNORTOZENITHRADIOCHICAGOILLFILEDAPRIL41958NO,",
        "US2900005A,1959-05-05,EASTMANKODAKCOMPANYROCHESTERNEWYORK,"])
    first = _rows_for(workspace, "ASSIGNORSTOEASTMANKODAKCOMPANYROCHESTERNYACORPORATIONOFNEWJERSEYFILEDJUNE191955")
    assert first[["firm_id", "decision", "link_type"]].values.tolist() == [[kodak, "auto", "direct"]]
    evidence = json.loads(first["evidence"].iloc[0])
    assert evidence["matched_variant"] == {"name": "Eastman Kodak Company", "variant": "current", "via": "glued_prefix"}
    assert evidence["features"]["variant"] == "glued_prefix"
    assert evidence["applicant"]["glued_clause_text"].startswith("EASTMANKODAKCOMPANYROCHESTER")
    # a slip in the head; the name without its legal form (the register's key)
    second = _rows_for(workspace, "ASSIGIIORTOEASTMANKODAKROCHESTERNYFILEDFEB11956NO")
    assert second[["firm_id", "decision"]].values.tolist() == [[kodak, "auto"]]
    # two register firms of one name: neither is linked, both are shown, equally scored
    hughes = _rows_for(workspace, "ASSIGNORTOHUGHESAIRCRAFTCOCULVERCITYCALIFFILEDMAR31957")
    assert hughes["decision"].tolist() == ["rejected"] and hughes["firm_id"].isna().all()
    shown = json.loads(hughes["evidence"].iloc[0])["candidates"]
    assert {c["firm_id"] for c in shown} == {hughes_ca, hughes_tx} and shown[0]["score"] == shown[1]["score"]
    # no register name at the start of the text; and a glued name without a clause head is not a clause
    for raw in ("ASSIGNORTOZENITHRADIOCHICAGOILLFILEDAPRIL41958NO", "EASTMANKODAKCOMPANYROCHESTERNEWYORK"):
        row = _rows_for(workspace, raw).iloc[0]
        assert row["decision"] == "rejected" and pd.isna(row["firm_id"]), raw
