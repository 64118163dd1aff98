"""Review (admins): the uncertain applicant → firm links, side by side with the evidence; accept, reject or choose.

Decisions are appended with `matching.record_decision` to the workspace's decisions file, the
same one `patentgraph review` writes; the next matching run applies them.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html

from dash_app import auth, data, ids
from dash_app.components import (
    APPLICANT_TYPE_LABELS,
    DATA_ERRORS,
    card,
    current_workspace,
    data_problem,
    forbidden,
    status_badge,
)

QUEUE_SHOWN = 300
FIRM_FIELDS = [("firm_id", "统一社会信用代码 Credit code"), ("status", "状态 Status"), ("province", "省份 Province"),
               ("city", "城市 City"), ("address", "地址 Address"), ("legal_representative", "法定代表人 Legal rep."),
               ("established_date", "成立日期 Established"), ("size_band", "规模 Size")]  # fmt: skip
ACTION_LABELS = {"accept": "接受 accepted", "reject": "拒绝 rejected", "choose": "改选 chose another firm"}


def register(app: Dash) -> None:
    dash.register_page(__name__, path="/review", name="复核 Review", title="复核 Review · patentgraph", layout=layout)
    auth.protect(app.server, "review", ids.REVIEW_STATUS, ids.REVIEW_COUNT, ids.REVIEW_FIRM_SEARCH)

    @app.callback(
        Output(ids.REVIEW_FIRM_SEARCH, "options"),
        Input(ids.REVIEW_FIRM_SEARCH, "search_value"),
        State(ids.REVIEW_FIRM_SEARCH, "value"),
        prevent_initial_call=True,
    )
    @auth.requires("review")
    def search(text, chosen):
        options = data.search_firms(current_workspace(), text or "")
        if chosen and chosen not in {o["value"] for o in options}:
            options = data.search_firms(current_workspace(), chosen, limit=1) + options  # keep the choice visible
        return options

    @app.callback(
        Output(ids.REVIEW_STATUS, "children"),
        Output(ids.REVIEW_COUNT, "children"),
        Input(ids.REVIEW_ACCEPT, "n_clicks"),
        Input(ids.REVIEW_REJECT, "n_clicks"),
        Input(ids.REVIEW_CHOOSE, "n_clicks"),
        State(ids.REVIEW_KEY, "data"),
        State(ids.REVIEW_FIRM_SEARCH, "value"),
        State(ids.REVIEW_NOTE, "value"),
        prevent_initial_call=True,
    )
    @auth.requires("review")
    def decide(_accept, _reject, _choose, key, chosen_firm, note):
        action = {ids.REVIEW_ACCEPT: "accept", ids.REVIEW_REJECT: "reject", ids.REVIEW_CHOOSE: "choose"}[ctx.triggered_id]
        return record(action, key["applicant_id"], key["firm_id"], chosen_firm, note)


def record(action: str, applicant_id: str, proposed_firm: str, chosen_firm: str | None, note: str | None):
    """Write one decision as the logged-in reviewer; (status message, new decision count)."""
    from matching import record_decision

    workspace = current_workspace()
    firm_id = chosen_firm if action == "choose" else proposed_firm
    if action == "choose" and not chosen_firm:
        return dbc.Alert("先搜索并选择企业 Search for and pick a firm first.", color="warning"), dash.no_update
    try:
        record_decision(workspace, applicant_id, action, firm_id, auth.current_user().name, note or "")
    except (ValueError, *DATA_ERRORS) as exc:
        return data_problem(exc), dash.no_update
    _, count = data.latest_decisions(workspace)
    message = f"已记录 Recorded: {ACTION_LABELS[action]} {firm_id} for {applicant_id} — applied at the next matching run."
    return dbc.Alert(message, color="success", className="review-recorded"), _count_text(count)


def _count_text(count: int) -> str:
    return f"{count:,} decisions in review/decisions.csv"


def layout(applicant: str | None = None, firm: str | None = None, **_query) -> html.Div:
    title = html.H2(["匹配复核", html.Small("Review uncertain matches", className="title-en")], className="page-title")
    if not auth.allowed("review"):
        return html.Div([title, forbidden("review")])
    workspace = current_workspace()
    try:
        items = data.review_items(workspace)
        _, count = data.latest_decisions(workspace)
        selected = applicant or (items[0]["applicant_id"] if items else None)
        firm = firm if applicant else (items[0]["firm_id"] if items else None)
        detail = data.review_detail(workspace, selected, firm) if selected and firm else None
    except DATA_ERRORS as exc:
        return html.Div([title, data_problem(exc)])
    header = html.Div([title, html.Span(_count_text(count), id=ids.REVIEW_COUNT, className="text-muted")],
                      className="d-flex justify-content-between align-items-center mb-2")
    if not items:
        return html.Div([header, dbc.Alert("没有待复核的匹配 Nothing waits for review.", color="info")])
    return html.Div([
        header,
        dbc.Row([
            dbc.Col(card(f"待复核 Queue ({len(items):,}, weakest first)", _queue(items, selected, firm),
                         class_name="mb-3 queue-card"), lg=4),
            dbc.Col(html.Div(_detail(detail), id=ids.REVIEW_DETAIL), lg=8),
        ], className="g-3"),
    ])  # fmt: skip


def _queue(items: list[dict], applicant: str | None, firm: str | None) -> html.Div:
    rows = []
    for item in items[:QUEUE_SHOWN]:
        decided = item["decided"]
        selected = item["applicant_id"] == applicant and item["firm_id"] == firm
        rows.append(dcc.Link([
            html.Div([html.Span(item["applicant"] or item["applicant_id"], className="fw-semibold"),
                      html.Span(f"{item['score']:.2f}", className="num small")], className="d-flex justify-content-between"),
            html.Div([html.Span(f"→ {item['firm'] or item['firm_id']}", className="small"),
                      dbc.Badge(decided["action"], className="ms-2 decided") if decided else None]),
        ], href=item["href"], className="queue-item" + (" selected" if selected else "")))  # fmt: skip
    if len(items) > QUEUE_SHOWN:
        rows.append(html.Div(f"… {len(items) - QUEUE_SHOWN:,} more (decide these first)", className="text-muted small"))
    return html.Div(rows, id=ids.REVIEW_QUEUE, className="queue-list")


def _detail(detail: dict | None) -> list:
    if detail is None:
        return [dbc.Alert("This link is not in the matches table (was matching rerun?).", color="warning")]
    applicant, firm, match = detail["applicant"], detail["firm"], detail["match"]
    decided = detail["decided"]
    return [
        dcc.Store(id=ids.REVIEW_KEY, data={"applicant_id": match["applicant_id"], "firm_id": match["firm_id"]}),
        dbc.Row([
            dbc.Col(card("申请人 Applicant (as filed)", _applicant(applicant)), md=6),
            dbc.Col(card("候选企业 Proposed firm", _firm(firm)), md=6),
        ], className="g-3"),
        card(f"证据 Evidence · score {match['score']:.2f} · link {match['link_type']}",
             html.Dl([item for key, value in detail["evidence_items"] for item in (html.Dt(key), html.Dd(value))],
                     className="evidence")),
        card("其他候选 Other candidates", _candidates(detail["candidates"], match["firm_id"])),
        card("决定 Decision", [
            html.Div(f"Last decision: {decided['action']} {decided['firm_id']} by {decided['reviewer']} "
                     f"at {decided['decided_at']}", className="text-muted small mb-2") if decided else None,
            dbc.Input(id=ids.REVIEW_NOTE, placeholder="备注 Note (optional)", type="text", className="mb-2"),
            html.Div([
                dbc.Button("接受 Accept", id=ids.REVIEW_ACCEPT, color="success", className="me-2"),
                dbc.Button("拒绝 Reject", id=ids.REVIEW_REJECT, color="danger", outline=True, className="me-2"),
            ], className="mb-2"),
            dbc.Row([
                dbc.Col(dcc.Dropdown(id=ids.REVIEW_FIRM_SEARCH, options=[], placeholder="搜索企业 Search firms by name "
                                     "or credit code…", searchable=True), md=9),
                dbc.Col(dbc.Button("改选 Choose this firm", id=ids.REVIEW_CHOOSE, color="primary", outline=True), md=3),
            ], className="g-3"),
            dcc.Loading(html.Div(id=ids.REVIEW_STATUS, className="mt-2")),
        ]),
    ]  # fmt: skip


def _applicant(applicant: dict) -> html.Dl:
    variants = applicant.get("raw_variants") or []
    rows = [("名称 Name", applicant.get("name")), ("ID", applicant.get("applicant_id")),
            ("类型 Type", APPLICANT_TYPE_LABELS.get(applicant.get("applicant_type"), applicant.get("applicant_type"))),
            ("地区 Region", " ".join(filter(None, [applicant.get("region"), applicant.get("city")]))),
            ("专利 Patents", applicant.get("patent_count")),
            ("写法 Variants", "；".join(variants) if variants else None)]  # fmt: skip
    return html.Dl([item for label, value in rows if value not in (None, "")
                    for item in (html.Dt(label), html.Dd(str(value)))], className="registry")


def _firm(firm: dict | None) -> html.Div:
    if firm is None:
        return html.Div("Firm not in the register.", className="text-muted")
    rows = [(label, firm.get(key)) for key, label in FIRM_FIELDS]
    former = firm.get("former_names") or []
    if former:
        rows.append(("曾用名 Former names", "；".join(former)))
    return html.Div([
        html.Div([dcc.Link(firm["name"], href=data.firm_href(firm["firm_id"]), className="fw-semibold"), " ",
                  status_badge(firm["status"])], className="mb-2"),
        html.Dl([item for label, value in rows if value not in (None, "")
                 for item in (html.Dt(label), html.Dd(str(value)))], className="registry"),
    ])  # fmt: skip


def _candidates(candidates: list[dict], proposed: str) -> html.Div:
    others = [c for c in candidates if c["firm_id"] != proposed]
    if not others:
        return html.Div("The matcher found no other candidate; search below to choose a firm.", className="text-muted")
    return html.Ul([
        html.Li([dcc.Link(c["name"] or c["firm_id"], href=c["href"]),
                 html.Span(f" · {c['firm_id']} · score {c['score']:.2f}" if c["score"] is not None else f" · {c['firm_id']}",
                           className="text-muted small")])
        for c in others
    ])  # fmt: skip
