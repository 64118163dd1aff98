"""A small, hand-built workspace whose graph facts are known (used by the graph tests).

Two chains: `ai` (8 nodes) and `bio` (5 nodes). Ten firms, among them a deregistered shell
(苏州旧芯电子, successor 深圳芯智), a group (华芯控股) with two subsidiaries, a firm whose parent is
not in the register. Twelve applicants: one needs review (杭州视觉智能科技 -> 杭州视觉智能), one
university resolves to no firm, one candidate is rejected, one institute has no match row.
Thirty patents with citations, one of them to a patent outside the table and one duplicated.

Rows that must be left out of the graph are there on purpose, one per kind:
SUPPLIES from an unknown node, IN_NODE of an unknown patent, FILED by an unknown applicant,
a citation of CN9999999A, a duplicated citation, SUBSIDIARY_OF an unregistered parent,
RANKED_IN of an unknown firm, a match to no firm, a rejected match.

`expected_summaries(frames())` works out the load's summaries (ACTIVE_IN, ACTIVE_IN_CHAIN, the
TechNode and Patent counts) with pandas from the contract tables, independently of graph.transform.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from graph.workspace import Workspace

RUN_ID = "20240101T000000Z-fixture-000000"

F_CHIP = "91440300MA5CHIP001"
F_ALGO = "91110108MA0ALGO002"
F_VISION = "91330106MA2VISN003"
F_SHELL = "91320500MA1SHEL004"
F_REAGENT = "91310115MA1REAG005"
F_DRUG = "91510100MA6DRUG006"
F_ROBOT = "91440101MA5ROBT007"
F_CLOUD = "91320100MA1CLOD008"
F_GROUP = "91440300MA5GRUP009"
F_OPTIC = "91420100MA4OPTC010"
F_UNREGISTERED = "91000000MA0MISS999"


def pub(n: int) -> str:
    return f"CN{1000000 + n}A"


_CHAINS = {
    "ai": ("人工智能", "Artificial intelligence", [
        # node_id, parent, zh, en, level, segment, weight
        ("up", None, "基础层", "Foundation", 1, "upstream", 1.0),
        ("chip", "up", "AI芯片", "AI chips", 2, "upstream", 1.5),
        ("data", "up", "数据服务", "Data services", 2, "upstream", 1.0),
        ("mid", None, "技术层", "Technology", 1, "midstream", 1.0),
        ("vision", "mid", "计算机视觉", "Computer vision", 2, "midstream", 1.0),
        ("nlp", "mid", "自然语言处理", "Natural language processing", 2, "midstream", 1.0),
        ("down", None, "应用层", "Applications", 1, "downstream", 1.0),
        ("robot", "down", "智能机器人", "Intelligent robots", 2, "downstream", 1.2),
    ]),
    "bio": ("生物医药", "Biomedicine", [
        ("up", None, "原料", "Raw materials", 1, "upstream", 1.0),
        ("reagent", "up", "试剂", "Reagents", 2, "upstream", 1.3),
        ("mid", None, "研发", "R&D", 1, "midstream", 1.0),
        ("drug", "mid", "创新药", "Innovative drugs", 2, "midstream", 1.1),
        ("down", None, "流通", "Distribution", 1, "downstream", 1.0),
    ]),
}

SUPPLY_LINKS = [
    ("ai", "chip", "vision"), ("ai", "chip", "nlp"), ("ai", "data", "nlp"), ("ai", "vision", "robot"),
    ("ai", "nlp", "robot"), ("bio", "reagent", "drug"),
    ("ai", "quantum", "robot"),  # unknown node: left out
]

# firm_id, name, status, province, city, parent, successor, deregistered
_FIRMS = [
    (F_CHIP, "深圳芯智科技有限公司", "operating", "广东省", "深圳市", F_GROUP, None, None),
    (F_ALGO, "北京深度算法有限公司", "operating", "北京市", None, None, None, None),
    (F_VISION, "杭州视觉智能有限公司", "operating", "浙江省", "杭州市", None, None, None),
    (F_SHELL, "苏州旧芯电子有限公司", "deregistered", "江苏省", "苏州市", None, F_CHIP, dt.date(2021, 6, 30)),
    (F_REAGENT, "上海生物试剂有限公司", "operating", "上海市", "上海市", None, None, None),
    (F_DRUG, "成都新药研发有限公司", "operating", "四川省", "成都市", None, None, None),
    (F_ROBOT, "广州智造机器人有限公司", "operating", "广东省", "广州市", F_UNREGISTERED, None, None),
    (F_CLOUD, "南京云算科技有限公司", "operating", "江苏省", "南京市", F_GROUP, None, None),
    (F_GROUP, "华芯控股集团有限公司", "operating", "广东省", "深圳市", None, None, None),
    (F_OPTIC, "武汉光电有限公司", "operating", "湖北省", None, None, None, None),
]

# applicant_id, name, type
_APPLICANTS = [
    ("A01", "深圳芯智科技有限公司", "company"),
    ("A02", "北京深度算法有限公司", "company"),
    ("A03", "杭州视觉智能科技", "company"),
    ("A04", "苏州旧芯电子有限公司", "company"),
    ("A05", "上海生物试剂有限公司", "company"),
    ("A06", "成都新药研发有限公司", "company"),
    ("A07", "清华大学", "university"),
    ("A08", "张伟", "individual"),
    ("A09", "华芯控股集团有限公司", "company"),
    ("A10", "南京云算科技有限公司", "company"),
    ("A11", "视觉科技（杭州）", "company"),
    ("A12", "中国科学院自动化研究所", "research_institute"),
]

# applicant_id, firm_id, score, decision, link_type
_MATCHES = [
    ("A01", F_CHIP, 0.98, "auto", "direct"),
    ("A02", F_ALGO, 0.97, "auto", "direct"),
    ("A03", F_VISION, 0.72, "review", "direct"),
    ("A04", F_SHELL, 0.95, "auto", "direct"),
    ("A05", F_REAGENT, 0.99, "auto", "direct"),
    ("A06", F_DRUG, 1.0, "manual", "direct"),
    ("A07", None, 0.0, "auto", "direct"),  # a university: resolves to no firm
    ("A08", F_ROBOT, 0.90, "auto", "legal_representative"),
    ("A09", F_GROUP, 0.99, "auto", "direct"),
    ("A09", F_CHIP, 0.88, "auto", "subsidiary"),
    ("A10", F_CLOUD, 0.96, "auto", "direct"),
    ("A11", F_VISION, 0.35, "rejected", "direct"),
]

# patent number -> (applicant ids in filing order, node keys, cited patent numbers, patent type)
PATENTS: dict[int, tuple[list[str], list[str], list[str], str]] = {
    1: (["A01"], ["ai/chip"], [], "invention"),
    2: (["A01"], ["ai/chip"], [pub(1), "CN9999999A"], "invention"),
    3: (["A01", "A09"], ["ai/chip"], [], "invention"),
    4: (["A09"], ["ai/chip"], [], "invention"),
    5: (["A04"], ["ai/chip"], [], "utility_model"),
    6: (["A04"], ["ai/chip"], [], "utility_model"),
    7: (["A10"], ["ai/data"], [], "invention"),
    8: (["A02"], ["ai/data"], [], "invention"),
    9: (["A03"], ["ai/vision"], [], "invention"),
    10: (["A03"], ["ai/vision"], [], "utility_model"),
    11: (["A01", "A07"], ["ai/vision"], [pub(1), pub(2)], "invention"),
    12: (["A11"], ["ai/vision"], [], "invention"),
    13: (["A02"], ["ai/nlp"], [pub(1)], "invention"),
    14: (["A02"], ["ai/nlp"], [pub(13), pub(13)], "invention"),
    15: (["A02"], ["ai/nlp"], [], "invention"),
    16: (["A07"], ["ai/nlp"], [], "invention"),
    17: (["A08"], ["ai/robot"], [pub(1), pub(9)], "invention"),
    18: (["A08"], ["ai/robot"], [], "utility_model"),
    19: (["A10"], ["ai/robot"], [pub(9), pub(13)], "invention"),
    20: (["A12"], ["ai/robot"], [], "invention"),
    21: (["A05"], ["bio/reagent"], [], "invention"),
    22: (["A05"], ["bio/reagent"], [], "invention"),
    23: (["A05"], ["bio/reagent"], [], "utility_model"),
    24: (["A07"], ["bio/reagent"], [], "invention"),
    25: (["A06"], ["bio/drug"], [pub(21)], "invention"),
    26: (["A06"], ["bio/drug"], [pub(21), pub(22)], "invention"),
    27: (["A06"], ["bio/drug"], [], "invention"),
    28: (["A12"], ["bio/drug"], [], "invention"),
    29: (["A01"], ["ai/chip", "ai/vision"], [], "invention"),
    30: (["A05"], [], [], "invention"),
}

# chain, node, firm, score, rank, tier
_SCORES = [
    ("ai", "chip", F_CHIP, 88.0, 1, "A"), ("ai", "chip", F_GROUP, 61.0, 2, "B"),
    ("ai", "chip", F_SHELL, 40.0, 3, "C"),
    ("ai", "vision", F_CHIP, 70.0, 1, "B"), ("ai", "vision", F_VISION, 52.0, 2, "C"),
    ("ai", "nlp", F_ALGO, 81.0, 1, "A"),
    ("ai", "data", F_CLOUD, 45.0, 1, "C"), ("ai", "data", F_ALGO, 44.0, 2, "C"),
    ("ai", "robot", F_ROBOT, 66.0, 1, "B"), ("ai", "robot", F_CLOUD, 35.0, 2, "D"),
    ("bio", "reagent", F_REAGENT, 77.0, 1, "B"), ("bio", "drug", F_DRUG, 83.0, 1, "A"),
    ("ai", "robot", F_UNREGISTERED, 10.0, 3, "D"),  # not a firm of the register: left out
]


def frames() -> dict[str, pd.DataFrame]:
    """The contract tables of the fixture, as pandas frames."""
    tech_nodes = pd.DataFrame([
        {"chain_id": chain, "chain_name_zh": zh, "chain_name_en": en, "node_id": node, "parent_id": parent,
         "name_zh": name_zh, "name_en": name_en, "level": level, "segment": segment,
         "expression": f"IPC=G06N AND TI=({name_en})", "weight": weight}
        for chain, (zh, en, nodes) in _CHAINS.items()
        for node, parent, name_zh, name_en, level, segment, weight in nodes
    ])
    supply_links = pd.DataFrame(SUPPLY_LINKS, columns=["chain_id", "from_node", "to_node"])
    applicant_names = {a: name for a, name, _ in _APPLICANTS}
    patents, filings, node_patents = [], [], []
    for n, (applicants, nodes, cited, patent_type) in PATENTS.items():
        filed = dt.date(2017 + n % 7, 1 + n % 12, 1 + n % 28)
        patents.append({
            "publication_number": pub(n), "application_number": f"CN{2017 + n % 7}1{n:07d}",
            "kind": "U" if patent_type == "utility_model" else "A", "patent_type": patent_type,
            "title": f"专利{n}", "abstract": None, "application_date": filed,
            "publication_date": filed + dt.timedelta(days=400),
            # some inventions carry a grant date although their kind (A) is not a granted kind
            "grant_date": filed + dt.timedelta(days=900) if patent_type == "invention" and n % 4 == 0 else None,
            "ipc": ["G06N3/08", "G06F17/00"][: 1 + n % 2],
            "cpc": [], "applicants": [applicant_names[a] for a in applicants], "applicant_addresses": [],
            "inventors": [f"发明人{n}"], "cited_publications": cited, "claims_count": 10,
            "legal_status": "granted" if n % 3 else "pending", "source_file": "fixture.csv",
            "source_position": n,
        })
        filings += [{"publication_number": pub(n), "position": i + 1, "applicant_id": a,
                     "raw_name": applicant_names[a], "address": None} for i, a in enumerate(applicants)]
        node_patents += [{"chain_id": key.split("/")[0], "node_id": key.split("/")[1],
                          "publication_number": pub(n), "matched_rule": "IPC=G06N"} for key in nodes]
    filings.append({"publication_number": pub(30), "position": 2, "applicant_id": "A99", "raw_name": "未知",
                    "address": None})  # unknown applicant: left out
    node_patents.append({"chain_id": "ai", "node_id": "chip", "publication_number": "CN9999990A",
                         "matched_rule": "IPC=G06N"})  # unknown patent: left out
    patent_counts = pd.DataFrame(filings).groupby("applicant_id").size()
    applicants = pd.DataFrame([
        {"applicant_id": a, "name": name, "raw_variants": [name], "normalized_name": name, "applicant_type": kind,
         "country": "CN", "region": None, "city": None, "patent_count": int(patent_counts.get(a, 0))}
        for a, name, kind in _APPLICANTS
    ])
    firms = pd.DataFrame([
        {"firm_id": fid, "name": name, "former_names": [], "english_name": None, "status": status,
         "established_date": dt.date(2015, 3, 1), "deregistered_date": dereg, "registered_capital": 1000.0,
         "province": province, "city": city, "address": None, "industry_code": "I65", "size_band": "small",
         "employees": 50, "parent_firm_id": parent, "legal_representative": "张伟" if fid == F_ROBOT else None,
         "successor_firm_id": successor, "source_file": "firms.csv", "source_position": i + 1}
        for i, (fid, name, status, province, city, parent, successor, dereg) in enumerate(_FIRMS)
    ])
    matches = pd.DataFrame([
        {"applicant_id": a, "firm_id": f, "score": s, "decision": d, "link_type": link,
         "evidence": json.dumps({"name": applicant_names[a]}, ensure_ascii=False), "method_version": "test-1"}
        for a, f, s, d, link in _MATCHES
    ])
    firm_scores = pd.DataFrame([
        {"chain_id": c, "node_id": node, "firm_id": f, "score": s, "rank": r, "tier": t, "patents_in_node": 3,
         "inventions_in_node": 2, "granted_in_node": 1, "recent_filings": 1, "forward_citations": 0,
         "node_share": 0.25, "match_confidence": 0.9, "explanation": f"rank {r} in {c}/{node}"}
        for c, node, f, s, r, t in _SCORES
    ])
    return {
        "tech_nodes": tech_nodes, "supply_links": supply_links, "patents": pd.DataFrame(patents),
        "applicants": applicants, "filings": pd.DataFrame(filings), "firms": firms, "matches": matches,
        "node_patents": pd.DataFrame(node_patents), "firm_scores": firm_scores,
    }


def write_fixture_workspace(root: Path, *, without: tuple[str, ...] = ()) -> Workspace:
    """Write the fixture's contract tables (less those named in `without`) into a workspace at `root`."""
    workspace = Workspace(root)
    for name, frame in frames().items():
        if name not in without:
            workspace.write(name, frame, RUN_ID)
    return workspace


GRANTED_KINDS = {"B", "B1", "B2", "C", "U", "S", "Y"}
ACCEPTED = {"auto", "manual"}


def expected_summaries(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The load's summaries from contract frames `t`, with pandas: what a path walk over the graph finds.

    Keys: "active_in" (firm, node, patents, inventions, granted, first_year, last_year), "active_in_chain"
    (firm, chain, patents, node_count, nodes), "tech_nodes" (node, patent_count, firm_count, unresolved_count),
    "patents" (publication_number, forward_citations, resolved); each sorted by its key columns.
    """
    patents = t["patents"].drop_duplicates("publication_number")
    pubs = set(patents.publication_number)
    node_keys = set(t["tech_nodes"].chain_id + "/" + t["tech_nodes"].node_id)
    filings = t["filings"][t["filings"].applicant_id.isin(set(t["applicants"].applicant_id))
                           & t["filings"].publication_number.isin(pubs)]
    matches = t["matches"]
    accepted = matches[matches.decision.isin(ACCEPTED) & matches.firm_id.isin(set(t["firms"].firm_id))]
    patent_firm = filings.merge(accepted, on="applicant_id")[["publication_number", "firm_id"]].drop_duplicates()
    in_node = t["node_patents"].assign(node=t["node_patents"].chain_id + "/" + t["node_patents"].node_id)
    in_node = in_node[in_node.publication_number.isin(pubs) & in_node.node.isin(node_keys)]
    in_node = in_node[["publication_number", "node", "chain_id"]].drop_duplicates()
    facts = patents.assign(
        year=pd.to_datetime(patents.application_date).dt.year.fillna(pd.to_datetime(patents.publication_date).dt.year),
        invention=(patents.patent_type == "invention").astype(int),
        granted=(patents.kind.isin(GRANTED_KINDS) | patents.grant_date.notna()).astype(int),
    )[["publication_number", "year", "invention", "granted"]]
    held = patent_firm.merge(in_node, on="publication_number").merge(facts, on="publication_number")
    active_in = (held.groupby(["firm_id", "node"])
                 .agg(patents=("publication_number", "size"), inventions=("invention", "sum"),
                      granted=("granted", "sum"), first_year=("year", "min"), last_year=("year", "max"))
                 .reset_index().rename(columns={"firm_id": "firm"}))
    active_in_chain = (held.groupby(["firm_id", "chain_id"])
                       .agg(patents=("publication_number", "nunique"), node_count=("node", "nunique"),
                            nodes=("node", lambda keys: sorted(set(keys))))
                       .reset_index().rename(columns={"firm_id": "firm", "chain_id": "chain"}))
    resolved = set(patent_firm.publication_number)
    nodes = pd.DataFrame({"node": sorted(node_keys)})
    nodes["patent_count"] = nodes.node.map(in_node.node.value_counts()).fillna(0).astype(int)
    nodes["firm_count"] = nodes.node.map(active_in.node.value_counts()).fillna(0).astype(int)
    unresolved = in_node[~in_node.publication_number.isin(resolved)]
    nodes["unresolved_count"] = nodes.node.map(unresolved.node.value_counts()).fillna(0).astype(int)
    citations = {(row.publication_number, cited) for row in patents.itertuples()
                 for cited in row.cited_publications if cited in pubs}
    cited = pd.Series([cited for _, cited in citations], dtype=object).value_counts()
    patent_rows = pd.DataFrame({"publication_number": sorted(pubs)})
    patent_rows["forward_citations"] = patent_rows.publication_number.map(cited).fillna(0).astype(int)
    patent_rows["resolved"] = patent_rows.publication_number.isin(resolved)
    return {
        "active_in": active_in.sort_values(["firm", "node"], ignore_index=True),
        "active_in_chain": active_in_chain.sort_values(["firm", "chain"], ignore_index=True),
        "tech_nodes": nodes, "patents": patent_rows,
    }
