"""A small, realistic workspace for the explorer's tests: one AI chain, 12 firms, 40 patents.

Written through `Workspace.write`, so every table passes its real contract. Import the fixture
into a test module with `ui_workspace = ui_fixtures.ui_workspace`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from pathlib import Path

import pandas as pd
import pytest

from dash_app.auth import ROLES, add_user
from graph.workspace import Workspace

RUN_ID = "20250101T000000Z-uitest-000000"
CHAIN = ("ai", "人工智能", "Artificial intelligence")

# node_id, parent_id, name_zh, name_en, level, segment
NODES = [
    ("up", None, "基础层", "Foundation", 1, "upstream"),
    ("up.chips", "up", "AI芯片", "AI chips", 2, "upstream"),
    ("up.chips.gpu", "up.chips", "图形处理器", "GPUs", 3, "upstream"),
    ("up.data", "up", "数据服务", "Data services", 2, "upstream"),
    ("mid", None, "技术层", "Technology", 1, "midstream"),
    ("mid.cv", "mid", "计算机视觉", "Computer vision", 2, "midstream"),
    ("mid.nlp", "mid", "自然语言处理", "Natural language processing", 2, "midstream"),
    ("down", None, "应用层", "Applications", 1, "downstream"),
    ("down.auto", "down", "智能驾驶", "Autonomous driving", 2, "downstream"),
]
SUPPLY = [
    ("up.chips", "mid.cv"),
    ("up.chips", "mid.nlp"),
    ("up.chips.gpu", "mid.cv"),
    ("up.data", "mid.nlp"),
    ("mid.cv", "down.auto"),
    ("mid.nlp", "down.auto"),
]

# firm_id, name, status, province, city, size_band, parent, successor, former_names, legal_rep
FIRMS = [
    ("91440300MA5F000011", "深圳云芯智能科技有限公司", "operating", "广东", "深圳", "small",
     "91440300MA5F000101", None, ["深圳旧芯科技有限公司"], "李强"),
    ("91110108MA01000022", "北京视觉未来科技有限公司", "operating", "北京", "北京", "medium", None, None, [], "王芳"),
    ("91330106MA2H000033", "杭州语义智能有限公司", "operating", "浙江", "杭州", "small", None, None, [], "陈静"),
    ("91310115MA1K000044", "上海图芯半导体有限公司", "operating", "上海", "上海", "medium",
     "91440300MA5F000101", None, [], "刘洋"),
    ("91320594MA1M000055", "苏州驾智科技有限公司", "operating", "江苏", "苏州", "micro", None, None, [], "张伟"),
    ("91440101MA59000066", "广州数据港信息技术有限公司", "operating", "广东", "广州", "large", None, None, [], "黄磊"),
    ("91510100MA6C000077", "成都星河视觉技术有限公司", "operating", "四川", "成都", "small", None, None, [], "周敏"),
    ("91420100MA4K000088", "武汉光谷智算科技有限公司", "operating", "湖北", "武汉", "medium", None, None, [], "吴斌"),
    ("91320100MA1N000099", "南京知语信息科技有限公司", "operating", "江苏", "南京", "small", None, None, [], "徐丽"),
    ("91440300MA5F000101", "云芯控股集团有限公司", "operating", "广东", "深圳", "large", None, None, [], "李强"),
    ("91440300MA5E000112", "深圳旧芯科技有限公司", "deregistered", "广东", "深圳", "small",
     None, "91440300MA5F000011", [], "李强"),
    ("91610131MA6T000123", "西安秦智机器人有限公司", "operating", "陕西", "西安", "small", None, None, [], "赵军"),
]  # fmt: skip

# node → (firm index into FIRMS, score, confidence); rank and tier follow from the score
SCORES = {
    "up.chips": [(0, 92.5, 0.97), (3, 85.0, 0.93), (7, 71.2, 0.88), (1, 63.0, 0.75), (5, 48.3, 0.91), (6, 35.0, 0.62)],
    "mid.cv": [(1, 90.1, 0.95), (6, 77.0, 0.81), (0, 58.8, 0.97), (7, 44.0, 0.88), (2, 30.2, 0.90)],
    "mid.nlp": [(2, 88.0, 0.90), (8, 66.0, 0.86), (5, 52.0, 0.91)],
    "down.auto": [(4, 81.0, 0.72), (1, 40.5, 0.95)],
    "up.chips.gpu": [(3, 94.0, 0.93), (0, 70.0, 0.97)],
    "up.data": [(5, 75.0, 0.91)],
}
PATENTS_PER_NODE = {"up.chips": 10, "up.chips.gpu": 4, "up.data": 4, "mid.cv": 10, "mid.nlp": 7, "down.auto": 5}
TOPICS = {
    "up.chips": ("神经网络加速芯片", "G06N3/063"),
    "up.chips.gpu": ("图形处理器并行调度方法", "G06F9/50"),
    "up.data": ("训练数据标注系统", "G06F16/28"),
    "mid.cv": ("目标检测方法及装置", "G06V10/82"),
    "mid.nlp": ("文本语义匹配方法", "G06F40/30"),
    "down.auto": ("自动驾驶路径规划方法", "B60W60/00"),
}
UNIVERSITY = ("A-U01", "清华大学", "university")
PERSON = ("A-P01", "张伟", "individual")
OLD_NAME = ("A-C11", "深圳旧芯科技有限公司", "company")
HOLDING = ("A-C10", "云芯控股集团有限公司", "company")


def _tier(score: float) -> str:
    return "A" if score >= 80 else "B" if score >= 60 else "C" if score >= 40 else "D"


def _evidence(variant: str, similarity: float, city: str, note: str) -> str:
    return json.dumps(
        {"name_variant": variant, "features": {"name_similarity": similarity, "city_match": city}, "note": note},
        ensure_ascii=False,
    )


def _holding_evidence() -> str:
    """The IP-holding parent files the chip patents: its operating subsidiaries are the candidates."""
    evidence = json.loads(_evidence(HOLDING[1], 0.62, "深圳", "IP-holding parent; chip patents"))
    evidence["candidates"] = [
        {"firm_id": FIRMS[0][0], "name": FIRMS[0][1], "score": 0.81, "via": "subsidiary"},
        {"firm_id": FIRMS[3][0], "name": FIRMS[3][1], "score": 0.64, "via": "subsidiary"},
    ]
    return json.dumps(evidence, ensure_ascii=False)


def build_ui_workspace(root: Path) -> Workspace:
    workspace = Workspace(root)
    chain_id, chain_zh, chain_en = CHAIN
    workspace.write("tech_nodes", pd.DataFrame(
        [{"chain_id": chain_id, "chain_name_zh": chain_zh, "chain_name_en": chain_en, "node_id": n, "parent_id": p,
          "name_zh": zh, "name_en": en, "level": lvl, "segment": seg, "expression": f"IPC={TOPICS.get(n, ('', 'G06'))[1]}",
          "weight": 1.2 if n == "up.chips" else 1.0} for n, p, zh, en, lvl, seg in NODES]
    ), RUN_ID)  # fmt: skip
    workspace.write(
        "supply_links", pd.DataFrame([{"chain_id": chain_id, "from_node": a, "to_node": b} for a, b in SUPPLY]), RUN_ID
    )
    workspace.write("firms", pd.DataFrame(
        [{"firm_id": fid, "name": name, "former_names": former, "english_name": None, "status": status,
          "established_date": dt.date(2012 + i % 8, 1 + i, 15),
          "deregistered_date": dt.date(2019, 6, 30) if status == "deregistered" else None,
          "registered_capital": 500.0 * (i + 1), "province": prov, "city": city, "address": f"{city}市高新区科技路{i + 1}号",
          "industry_code": "I6513", "size_band": size, "employees": 20 * (i + 1), "parent_firm_id": parent,
          "legal_representative": rep, "successor_firm_id": successor, "source_file": "registry.csv",
          "source_position": i + 1}
         for i, (fid, name, status, prov, city, size, parent, successor, former, rep) in enumerate(FIRMS)]
    ), RUN_ID)  # fmt: skip

    # Applicants: one per operating firm (direct), plus a former name, a holding, a person, a university.
    applicants = [(f"A-C{i:02d}", FIRMS[i][1], "company") for i in range(10) if i != 9]
    applicants += [OLD_NAME, HOLDING, PERSON, UNIVERSITY]
    region_of = {FIRMS[i][1]: FIRMS[i][3] for i in range(len(FIRMS))}
    matches = [
        {"applicant_id": f"A-C{i:02d}", "firm_id": FIRMS[i][0], "score": 0.97 - i * 0.01, "decision": "auto",
         "link_type": "direct", "evidence": _evidence(FIRMS[i][1], 1.0, FIRMS[i][4], "exact registered name"),
         "method_version": "test-1"} for i in range(10) if i != 9
    ]  # fmt: skip
    matches += [
        {"applicant_id": OLD_NAME[0], "firm_id": FIRMS[0][0], "score": 0.93, "decision": "auto", "link_type": "former_name",
         "evidence": _evidence(OLD_NAME[1], 1.0, "深圳", "former name of the successor; shell deregistered 2019"),
         "method_version": "test-1"},
        {"applicant_id": OLD_NAME[0], "firm_id": FIRMS[10][0], "score": 0.40, "decision": "rejected",
         "link_type": "direct", "evidence": _evidence(OLD_NAME[1], 1.0, "深圳", "deregistered shell, not operating"),
         "method_version": "test-1"},
        {"applicant_id": HOLDING[0], "firm_id": FIRMS[0][0], "score": 0.81, "decision": "review",
         "link_type": "subsidiary", "evidence": _holding_evidence(), "method_version": "test-1"},
        {"applicant_id": PERSON[0], "firm_id": FIRMS[4][0], "score": 0.72, "decision": "auto",
         "link_type": "legal_representative",
         "evidence": _evidence(PERSON[1], 1.0, "苏州", "legal representative; same address"), "method_version": "test-1"},
        {"applicant_id": UNIVERSITY[0], "firm_id": None, "score": 0.0, "decision": "auto", "link_type": "direct",
         "evidence": json.dumps({"reason": "university"}), "method_version": "test-1"},
    ]  # fmt: skip

    patents, filings, node_patents = [], [], []
    number = 114000100
    for node_id, count in PATENTS_PER_NODE.items():
        title, ipc = TOPICS[node_id]
        ranked = [FIRMS[i] for i, _, _ in SCORES[node_id]]
        for k in range(count):
            number += 1
            pub = f"CN{number}A"
            firm = ranked[k % len(ranked)]
            names = [OLD_NAME[1] if (node_id == "up.chips" and k == 9) else firm[1]]
            if k % 4 == 3:
                names.append(UNIVERSITY[1])
            if node_id == "down.auto" and k == 4:
                names = [PERSON[1]]
            applied = dt.date(2018 + k % 6, 3 + k % 9, 1 + k)
            patents.append(
                {"publication_number": pub, "application_number": f"CN2{number}.X", "kind": "A",
                 "patent_type": "invention" if k % 3 else "utility_model", "title": f"一种{title}（{k + 1}）",
                 "abstract": f"本发明公开了一种{title}。", "application_date": applied,
                 "publication_date": applied + dt.timedelta(days=540), "ipc": [ipc], "cpc": [], "applicants": names,
                 "applicant_addresses": [], "inventors": ["王明"], "cited_publications": [], "claims_count": 8 + k,
                 "legal_status": "granted" if k % 2 else "pending", "source_file": "patents.csv",
                 "source_position": len(patents) + 1}
            )  # fmt: skip
            for position, name in enumerate(names, start=1):
                applicant_id = next(a for a, n, _ in applicants if n == name)
                filings.append(
                    {"publication_number": pub, "position": position, "applicant_id": applicant_id, "raw_name": name,
                     "address": None}
                )  # fmt: skip
            node_patents.append({"chain_id": chain_id, "node_id": node_id, "publication_number": pub, "matched_rule": ipc})
            if node_id == "up.chips.gpu":  # a GPU patent is also a chip patent
                node_patents.append(
                    {"chain_id": chain_id, "node_id": "up.chips", "publication_number": pub, "matched_rule": ipc}
                )
    counts = pd.DataFrame(filings).groupby("applicant_id").size()
    workspace.write("applicants", pd.DataFrame(
        [{"applicant_id": a, "name": n, "raw_variants": [n], "normalized_name": n, "applicant_type": t, "country": "CN",
          "region": region_of.get(n), "city": None, "patent_count": int(counts.get(a, 0))} for a, n, t in applicants]
    ), RUN_ID)  # fmt: skip
    workspace.write("patents", pd.DataFrame(patents), RUN_ID)
    workspace.write("filings", pd.DataFrame(filings), RUN_ID)
    workspace.write("node_patents", pd.DataFrame(node_patents), RUN_ID)
    workspace.write("matches", pd.DataFrame(matches), RUN_ID)

    scores = []
    for node_id, entries in SCORES.items():
        ordered = sorted(entries, key=lambda e: -e[1])
        for rank, (i, score, confidence) in enumerate(ordered, start=1):
            scores.append(
                {"chain_id": chain_id, "node_id": node_id, "firm_id": FIRMS[i][0], "score": score, "rank": rank,
                 "tier": _tier(score), "patents_in_node": 12 - rank, "inventions_in_node": 9 - rank,
                 "granted_in_node": 6 - rank // 2, "recent_filings": 4, "forward_citations": 10 * (7 - rank),
                 "node_share": round((12 - rank) / 60, 3), "match_confidence": confidence,
                 "explanation": f"第{rank}名：节点内专利{12 - rank}件，发明占比高"}
            )  # fmt: skip
    workspace.write("firm_scores", pd.DataFrame(scores), RUN_ID)
    _record_runs(workspace)
    add_test_users(workspace.root)
    return workspace


def _record_runs(workspace: Workspace) -> None:
    """A small run ledger: patents ingested twice (the second run adds 12), then ranking."""
    inputs = ["/data/in/cnipa_2024.csv"]
    workspace.record_run("20250101T000000Z-ingest-patents-aaaaaa", "ingest-patents",
                         {"read": 30, "written": 28, "quarantined": 2}, 1.2, inputs=inputs)
    workspace.record_run("20250102T000000Z-ingest-patents-bbbbbb", "ingest-patents",
                         {"read": 42, "written": 40, "quarantined": 2}, 1.4, inputs=[*inputs, "/data/in/cnipa_2025.csv"])
    workspace.record_run("20250102T000100Z-rank-cccccc", "rank", {"nodes_ranked": 6, "firm_rows": 19}, 0.3)


# ---------------------------------------------------------------- users and login

# Random per test session: tests never depend on a fixed password, and can check none leaks.
PASSWORDS = {role: secrets.token_urlsafe(12) for role in ROLES}


def add_test_users(root: Path) -> Path:
    """<root>/users.toml with one user per role, named after the role, password PASSWORDS[role]."""
    path = Path(root) / "users.toml"
    for role, password in PASSWORDS.items():
        add_user(path, role, role, password)
    return path


def start_logged_in(dash_duo, app, role: str, next_path: str = "/") -> None:
    """Serve `app` and log in through the login page as the test user of `role`; the browser lands on `next_path`.

    Starts without dash_duo's own first visit (it would wait for the app on the login page).
    Use `dash_duo.server.url` for the server's address.
    """
    dash_duo.start_server(app, navigate=False)
    login(dash_duo, role, next_path)


def login(dash_duo, role: str, next_path: str = "/") -> None:
    """Log in through the login page in the browser as the test user of `role`, then land on `next_path`."""
    from selenium.webdriver.common.by import By

    dash_duo.driver.get(f"{dash_duo.server.url}/login?next={next_path}")
    dash_duo.wait_for_element("#login-username", timeout=10).send_keys(role)
    dash_duo.find_element("#login-password").send_keys(PASSWORDS[role])
    dash_duo.find_element("#login-button").click()
    dash_duo.wait_for_element_by_id("nav-user", timeout=15)
    assert dash_duo.driver.find_element(By.ID, "nav-user").text.startswith(role)


def login_client(client, role: str) -> str:
    """Log a Flask test client in as the test user of `role`; returns the session's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": role, "password": PASSWORDS[role]},
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get_cookie("_csrf_token").value


def callback_headers(token: str) -> dict:
    """What the browser sends with a Dash callback: same-site Origin and the CSRF header."""
    return {"Origin": "http://localhost", "X-CSRFToken": token}


@pytest.fixture(scope="session")
def ui_workspace(tmp_path_factory) -> Workspace:
    return build_ui_workspace(tmp_path_factory.mktemp("ui_workspace"))
