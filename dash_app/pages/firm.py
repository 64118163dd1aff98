"""One firm: registry card, where it ranks, the applicants resolved to it (with evidence), its group and
neighbourhood graph, its patents."""

from __future__ import annotations

from urllib.parse import unquote

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import dash_cytoscape as cyto
from dash import Dash, Input, Output, dcc, html

from dash_app import data, ids
from dash_app.components import (
    APPLICANT_TYPE_LABELS,
    DATA_ERRORS,
    DECISION_COLOURS,
    card,
    current_workspace,
    data_problem,
    status_badge,
    tier_badge,
)

REGISTRY_FIELDS = [
    ("firm_id", "统一社会信用代码 Credit code"),
    ("english_name", "英文名称 English name"),
    ("legal_representative", "法定代表人 Legal rep."),
    ("established_date", "成立日期 Established"),
    ("deregistered_date", "注销日期 Deregistered"),
    ("registered_capital", "注册资本 Capital (万元)"),
    ("size_band", "规模 Size"),
    ("employees", "员工 Employees"),
    ("industry_code", "行业 Industry code"),
    ("address", "地址 Address"),
]
LINK_LABELS = {
    "direct": "直接 Direct",
    "former_name": "曾用名 Former name",
    "subsidiary": "子公司 Subsidiary",
    "legal_representative": "法定代表人 Legal rep.",
}
DIMENSIONS = [
    ("dim_strength", "实力 Strength"),
    ("dim_quality", "质量 Quality"),
    ("dim_growth", "成长 Growth"),
    ("dim_chain_position", "链位 Chain position"),
    ("dim_soundness", "稳健 Soundness"),
]
GRAPH_STYLESHEET = [
    {"selector": "node", "style": {
        "label": "data(label)", "text-wrap": "wrap", "text-max-width": 160, "font-size": 12, "color": "#0f172a",
        "text-valign": "bottom", "text-margin-y": 4, "width": 22, "height": 22, "background-color": "#60a5fa"}},
    {"selector": "node.centre", "style": {
        "width": 40, "height": 40, "background-color": "#1e3a8a", "font-size": 14, "font-weight": "bold"}},
    {"selector": "node.deregistered, node.revoked", "style": {"background-color": "#dc2626"}},
    {"selector": "node.technode", "style": {"shape": "diamond", "background-color": "#7c3aed"}},
    {"selector": "node.applicant", "style": {"shape": "round-rectangle", "background-color": "#f59e0b",
                                             "width": 18, "height": 14}},
    {"selector": "edge", "style": {
        "curve-style": "straight", "target-arrow-shape": "triangle", "width": 1.2, "arrow-scale": 0.8,
        "line-color": "#94a3b8", "target-arrow-color": "#94a3b8", "label": "data(label)", "font-size": 10,
        "color": "#475569", "text-background-color": "#ffffff", "text-background-opacity": 0.8}},
    {"selector": "edge.group", "style": {"line-color": "#1e3a8a", "target-arrow-color": "#1e3a8a", "width": 1.8}},
    {"selector": "edge.review", "style": {"line-style": "dashed"}},
]  # fmt: skip
PATENT_COLUMNS = [
    {"field": "publication_number", "headerName": "公开号 Publication", "width": 150, "pinned": "left"},
    {"field": "title", "headerName": "标题 Title", "flex": 3, "minWidth": 240, "tooltipField": "title"},
    {"field": "patent_type", "headerName": "类型 Type", "width": 120},
    {"field": "application_date", "headerName": "申请日 Filed", "width": 120},
    {"field": "main_ipc", "headerName": "主分类 IPC", "width": 120},
    {"field": "legal_status", "headerName": "法律状态 Status", "width": 130},
    {"field": "raw_name", "headerName": "申请人 Filed as", "flex": 2, "minWidth": 200},
    {"field": "link_type", "headerName": "关联 Link", "width": 130},
]


def register(app: Dash) -> None:
    dash.register_page(
        __name__, path_template="/firm/<firm_id>", name="企业 Firm", title="企业 Firm · patentgraph", layout=layout
    )

    @app.callback(Output(ids.NAV_LOCATION, "href", allow_duplicate=True), Input(ids.FIRM_GRAPH, "tapNodeData"),
                  prevent_initial_call=True)
    def open_neighbour(node_data):
        if not node_data or not node_data.get("href") or node_data.get("id") == "firm":
            return dash.no_update
        return node_data["href"]


def layout(firm_id: str = "", **_query) -> html.Div:
    firm_id = unquote(firm_id)
    try:
        profile = data.firm_profile(current_workspace(), firm_id)
    except DATA_ERRORS as exc:
        return html.Div([_crumbs(firm_id), data_problem(exc)])
    if profile is None:
        return html.Div([_crumbs(firm_id), dbc.Alert(f"企业不存在 No firm {firm_id!r} in the register.",
                                                     color="warning")])
    firm = profile["firm"]
    return html.Div(
        [
            _crumbs(firm["name"]),
            html.Div(
                [
                    html.H2([html.Span(firm["name"], id=ids.FIRM_NAME), status_badge(firm["status"])],
                            className="page-title firm-title"),
                    html.Div([html.Span(firm["firm_id"], className="mono"),
                              html.Span(f" · {firm['province'] or ''} {firm['city'] or ''}", className="text-muted")]),
                ],
                className="mb-3",
            ),  # fmt: skip
            dbc.Row(
                [
                    dbc.Col(card("工商登记 Registry", _registry(firm)), lg=5),
                    dbc.Col(card("节点评分 Scores per node", html.Div(_scorecard(profile["scores"]),
                                                                     id=ids.FIRM_SCORECARD)), lg=7),
                ],
                className="g-3",
            ),  # fmt: skip
            dbc.Row(
                [
                    dbc.Col(card("专利穿透 Applicants resolved to this firm",
                                 html.Div(_evidence_table(profile["evidence"]), id=ids.FIRM_EVIDENCE_TABLE)), lg=8),
                    dbc.Col(card("企业关系 Group", html.Div(_group(profile), id=ids.FIRM_GROUP)), lg=4),
                ],
                className="g-3",
            ),  # fmt: skip
            card("关系图 Neighbourhood", _neighbourhood(data.firm_neighbourhood(profile))),
            card(
                f"专利 Patents ({profile['patent_total']:,}"
                + (f", newest {len(profile['patents']):,} shown)" if profile["patent_total"] > len(profile["patents"])
                   else ")"),
                dag.AgGrid(
                    id=ids.FIRM_PATENTS_GRID, rowData=profile["patents"], columnDefs=PATENT_COLUMNS,
                    defaultColDef={"sortable": True, "resizable": True, "filter": True},
                    dashGridOptions={"pagination": True, "paginationPageSize": 20, "rowHeight": 32,
                                     "tooltipShowDelay": 300},
                    style={"height": "420px", "width": "100%"},
                ),
            ),  # fmt: skip
        ]
    )


def _neighbourhood(graph: data.Neighbourhood) -> list:
    note = "Group (navy links), nodes it ranks in (diamonds), applicants filed under it (dashed: under review). " \
           "Click a firm or node to open it."
    if graph.neighbours_shown < graph.neighbours_total:
        note += f" Showing {graph.neighbours_shown} of {graph.neighbours_total} neighbours; the lists above are complete."
    return [
        html.Div(note, className="text-muted small mb-2"),
        html.Div(cyto.Cytoscape(id=ids.FIRM_GRAPH, elements=graph.elements, stylesheet=GRAPH_STYLESHEET,
                                layout={"name": "preset", "fit": True, "padding": 30},
                                style={"width": "100%", "height": "440px"}, minZoom=0.2, maxZoom=2.5,
                                autoungrabify=True, boxSelectionEnabled=False), className="graph-frame"),
    ]  # fmt: skip


def _crumbs(label: str) -> dbc.Breadcrumb:
    return dbc.Breadcrumb(items=[{"label": "产业链 Chains", "href": "/"}, {"label": label, "active": True}],
                          className="crumbs")


def _registry(firm: dict) -> html.Dl:
    rows = []
    if firm["former_names"]:
        rows.append(("曾用名 Former names", "；".join(firm["former_names"])))
    for key, label in REGISTRY_FIELDS:
        value = firm.get(key)
        if value not in (None, ""):
            rows.append((label, f"{value:,.0f}" if key == "registered_capital" else str(value)))
    return html.Dl([item for label, value in rows for item in (html.Dt(label), html.Dd(value))], className="registry")


def _scorecard(scores: list[dict]) -> list:
    if not scores:
        return [html.Div("Not ranked in any node. 未进入任何节点排名", className="text-muted")]
    return [
        html.Div([
            html.Div([
                dcc.Link([html.Span(f"{s['chain_name_zh'] or s['chain_id']} › ", className="text-muted small"),
                          html.Span(s["name_zh"] or s["node_id"], className="fw-semibold"), " ",
                          html.Span(s["name_en"] or "", className="text-muted small")], href=s["href"]),
                html.Span([tier_badge(s["tier"]), html.Span(f" #{s['rank']} / {s['firms_in_node']}",
                                                             className="small text-muted")]),
            ], className="score-head"),
            html.Div([html.Div(className="score-fill", style={"width": f"{max(0.0, min(100.0, s['score'])):.0f}%"}),
                      html.Span(f"{s['score']:.1f}", className="score-value")], className="score-track"),
            html.Div(f"{_count(s['patents_in_node'], 'patent')} · {_count(s['inventions_in_node'], 'invention')} · match "
                     f"{s['match_confidence']:.0%}" + ("" if s.get("reasons") else f" — {s['explanation']}"),
                     className="score-why"),  # the explanation is the reasons joined: shown once, as the list
            _dimensions(s, reasons_open=index == 0),
        ], className="score-row")
        for index, s in enumerate(scores)
    ]  # fmt: skip


def _dimensions(score: dict, reasons_open: bool = True) -> html.Div | None:
    """The ranking's dimension scores (0–100) and reasons, when the ranking stage wrote them.

    The reasons fold away below the best node (`reasons_open`): a firm ranked in many nodes stays one screen of bars.
    """
    dims = [(label, score.get(key)) for key, label in DIMENSIONS if score.get(key) is not None]
    reasons = [r for r in score.get("reasons") or [] if r]
    if not dims and not reasons:
        return None
    bars = [
        html.Div([html.Span(label, className="dim-label"),
                  html.Div(html.Div(className="dim-fill", style={"width": f"{max(0.0, min(100.0, value)):.0f}%"}),
                           className="dim-track"),
                  html.Span(f"{value:.0f}", className="dim-value num")], className="dim-row")
        for label, value in dims
    ]  # fmt: skip
    why = html.Details([html.Summary("推荐理由 Why", className="small text-muted"),
                        html.Ul([html.Li(r) for r in reasons], className="reasons small")],
                       open=reasons_open) if reasons else None
    return html.Div([html.Div(bars, className="dims"), why], className="score-dims")


def _evidence_table(evidence: list[dict]) -> dbc.Table | html.Div:
    if not evidence:
        return html.Div("No applicant is linked to this firm.", className="text-muted")
    head = html.Thead(html.Tr([html.Th(t) for t in ("申请人 Applicant", "关联 Link", "决定 Decision", "分数 Score",
                                                      "证据 Evidence")]))  # fmt: skip
    body = html.Tbody([
        html.Tr([
            html.Td([html.Div(e["name"] or e["applicant_id"], className="fw-semibold"),
                     html.Div(f"{APPLICANT_TYPE_LABELS.get(e['applicant_type'], e['applicant_type'] or '?')}"
                              f" · {_count(e['patent_count'] or 0, 'patent')}", className="small text-muted")]),
            html.Td(LINK_LABELS.get(e["link_type"], e["link_type"])),
            html.Td(dbc.Badge(e["decision"], color=DECISION_COLOURS.get(e["decision"], "secondary"))),
            html.Td(f"{e['score']:.2f}", className="num"),
            html.Td(html.Dl([item for key, value in e["evidence_items"]
                             for item in (html.Dt(key), html.Dd(value))], className="evidence")),
        ], className=f"decision-{e['decision']}")
        for e in evidence
    ])  # fmt: skip
    return dbc.Table([head, body], size="sm", hover=True, className="evidence-table")


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _group(profile: dict) -> list:
    def firm_link(f: dict) -> html.Div:
        return html.Div([dcc.Link(f["name"], href=f["href"]), " ", status_badge(f["status"])], className="mb-1")

    sections = [
        ("母公司 Parent", [profile["parent"]] if profile["parent"] else []),
        ("子公司 Subsidiaries", profile["subsidiaries"]),
        ("承继企业 Successor", [profile["successor"]] if profile["successor"] else []),
        ("前身 Predecessors", profile["predecessors"]),
    ]
    out = []
    for title, firms in sections:
        out.append(html.Div(title, className="context-title"))
        out += [firm_link(f) for f in firms] or [html.Div("—", className="text-muted mb-1")]
    return out
