"""One technology node: its patents and applicants, and the firms ranked in it (paged on the server).

Exports: the button's callback writes the file on the server (a POST, CSRF-checked, marketers and
admins only), then the browser fetches it from `/download/exports/<file>`, streamed from disk by
a route that checks the role again.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html

from dash_app import auth, data, ids
from dash_app.components import (
    APPLICANT_TYPE_LABELS,
    DATA_ERRORS,
    card,
    current_workspace,
    data_problem,
    stat_tile,
)

log = logging.getLogger(__name__)
PAGE_ROWS = 100
DOWNLOAD_PREFIX = "/download/exports/"
_EXPORT_NAME = re.compile(r"^targets_[\w.-]+\.(csv|xlsx)$")  # only what export_targets writes
_PCT = {"function": "params.value == null ? '' : d3.format('.0%')(params.value)"}
_ONE_DECIMAL = {"function": "params.value == null ? '' : d3.format('.1f')(params.value)"}
COLUMNS = [
    {"field": "rank", "headerName": "排名 Rank", "width": 100, "pinned": "left"},
    {"field": "firm", "headerName": "企业 Firm", "cellRenderer": "markdown", "minWidth": 240, "flex": 2,
     "sortable": False},
    {"field": "score", "headerName": "评分 Score", "width": 110, "valueFormatter": _ONE_DECIMAL},
    {"field": "tier", "headerName": "等级 Tier", "width": 95,
     "cellClassRules": {f"tier-cell tier-{t}": f"params.value == '{t}'" for t in "ABCD"}},
    {"field": "province", "headerName": "省份 Province", "width": 120},
    {"field": "city", "headerName": "城市 City", "width": 100},
    {"field": "size_band", "headerName": "规模 Size", "width": 100},
    {"field": "status", "headerName": "状态 Status", "width": 115},
    {"field": "patents_in_node", "headerName": "节点专利 Patents", "width": 130},
    {"field": "inventions_in_node", "headerName": "发明 Inventions", "width": 125},
    {"field": "granted_in_node", "headerName": "授权 Granted", "width": 115},
    {"field": "forward_citations", "headerName": "被引 Cited by", "width": 115},
    {"field": "node_share", "headerName": "份额 Share", "width": 105, "valueFormatter": _PCT},
    {"field": "match_confidence", "headerName": "匹配置信 Match", "width": 125, "valueFormatter": _PCT},
    {"field": "explanation", "headerName": "推荐理由 Why", "minWidth": 260, "flex": 3, "sortable": False,
     "tooltipField": "explanation"},
]  # fmt: skip
FILTERS = [
    Input(ids.NODE_FILTER_REGION, "value"),
    Input(ids.NODE_FILTER_TIER, "value"),
    Input(ids.NODE_FILTER_SIZE, "value"),
    Input(ids.NODE_FILTER_SCORE, "value"),
    Input(ids.NODE_FILTER_CONFIDENCE, "value"),
    Input(ids.NODE_FILTER_NAME, "value"),
]


def register(app: Dash) -> None:
    dash.register_page(
        __name__, path_template="/node/<chain_id>/<node_id>", name="节点 Node", title="节点 Node · patentgraph",
        layout=layout,
    )

    @app.callback(
        Output(ids.NODE_FIRMS_GRID, "getRowsResponse"),
        Output(ids.NODE_FIRMS_COUNT, "children"),
        Input(ids.NODE_FIRMS_GRID, "getRowsRequest"),
        State(ids.NODE_KEY, "data"),
        *[State(f.component_id, f.component_property) for f in FILTERS],
        prevent_initial_call=True,
    )
    def firm_rows(request, key, regions, tiers, sizes, score_range, min_confidence, name):
        if not request:
            return dash.no_update, dash.no_update
        page = data.ranked_firms(
            current_workspace(), key["chain_id"], key["node_id"], start=request["startRow"], end=request["endRow"],
            sort=request.get("sortModel") or None,
            filters=firm_filter(regions, tiers, sizes, score_range, min_confidence, name),
        )
        for row in page.rows:
            row["firm"] = f"[{_markdown_text(row['name'] or row['firm_id'])}]({data.firm_href(row['firm_id'])})"
        return {"rowData": page.rows, "rowCount": page.total}, f"{page.total:,} firms match · 符合条件企业"

    # New filters: drop the grid's cached blocks so it asks the server again from row 0.
    app.clientside_callback(
        """
        function() {
            dash_ag_grid.getApiAsync(arguments[arguments.length - 1]).then(api => api.purgeInfiniteCache());
            return Date.now();
        }
        """,
        Output(ids.NODE_GRID_REFRESHED, "data"),
        *FILTERS,
        State(ids.NODE_FIRMS_GRID, "id"),
        prevent_initial_call=True,
    )

    auth.protect(app.server, "export", ids.NODE_EXPORT_DOWNLOAD, ids.NODE_EXPORT_STATUS)

    @app.callback(
        Output(ids.NODE_EXPORT_DOWNLOAD, "data"),
        Output(ids.NODE_EXPORT_STATUS, "children"),
        Input(ids.NODE_EXPORT_BUTTON, "n_clicks"),
        Input(ids.NODE_EXPORT_XLSX_BUTTON, "n_clicks"),
        State(ids.NODE_KEY, "data"),
        prevent_initial_call=True,
    )
    @auth.requires("export")
    def export(_csv, _xlsx, key):
        fmt = "xlsx" if ctx.triggered_id == ids.NODE_EXPORT_XLSX_BUTTON else "csv"
        try:
            path, rows = export_targets(current_workspace(), key["chain_id"], key["node_id"], fmt)
        except (OSError, ValueError, *DATA_ERRORS) as exc:
            return dash.no_update, data_problem(exc)
        url = f"{DOWNLOAD_PREFIX}{path.name}?v={path.stat().st_mtime_ns}"  # a new URL per export: it downloads again
        return url, html.Span([f"Exported {rows:,} firms to ", html.A(path.name, href=url, download=path.name)])

    # The file is not carried in the callback's JSON: the browser fetches it, and the server streams it.
    app.clientside_callback(
        "function(url) { if (url) { window.location.assign(url); } return url || null; }",
        Output(ids.NODE_EXPORT_STARTED, "data"),
        Input(ids.NODE_EXPORT_DOWNLOAD, "data"),
        prevent_initial_call=True,
    )
    app.server.add_url_rule(DOWNLOAD_PREFIX + "<name>", "download_export", download_export)


def download_export(name: str) -> flask.Response:
    """An export file the export callback wrote, sent in chunks from disk to roles that may export."""
    if not auth.allowed("export"):
        user = auth.current_user()
        log.warning("refused download of %s: user %s lacks 'export'", name, user.name if user else "?")
        return flask.Response(f"only {auth.PERMISSION_LABELS['export']} may download exports", status=403,
                              mimetype="text/plain")
    if not _EXPORT_NAME.match(name):
        flask.abort(404)
    return flask.send_from_directory(current_workspace().exports_dir, name, as_attachment=True, max_age=0)


def export_targets(workspace, chain_id: str, node_id: str, fmt: str):
    """The node's target list written on the server by the export stage's own writer (same file as the CLI's)."""
    from graph.export import write_targets

    out_path = workspace.exports_dir / f"targets_{_safe(chain_id)}_{_safe(node_id)}.{fmt}"
    return write_targets(workspace, out_path, chain_id=chain_id, node_id=node_id, fmt=fmt)


def firm_filter(regions, tiers, sizes, score_range, min_confidence, name) -> data.FirmFilter:
    """The filter panel's values as a FirmFilter (untouched controls do not filter)."""
    low, high = score_range or (None, None)
    return data.FirmFilter(
        regions=tuple(regions or ()),
        tiers=tuple(tiers or ()),
        size_bands=tuple(sizes or ()),
        score_min=low if low not in (None, 0) else None,
        score_max=high if high not in (None, 100) else None,
        min_confidence=min_confidence or None,
        name_contains=name or "",
    )


def _markdown_text(text: str) -> str:
    return re.sub(r"([\[\]\\*_`])", r"\\\1", text)


def _safe(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)


def layout(chain_id: str = "", node_id: str = "", **_query) -> html.Div:
    chain_id, node_id = unquote(chain_id), unquote(node_id)
    try:
        summary = data.node_summary(current_workspace(), chain_id, node_id)
    except DATA_ERRORS as exc:
        return html.Div([_crumbs(chain_id, None), data_problem(exc)])
    tiers = summary["tier_counts"]
    applicants = sum(item["applicants"] for item in summary["applicant_types"])
    return html.Div(
        [
            dcc.Store(id=ids.NODE_KEY, data={"chain_id": chain_id, "node_id": node_id}),
            dcc.Store(id=ids.NODE_GRID_REFRESHED),
            _crumbs(chain_id, summary),
            html.Div(
                [html.H2([summary["name_zh"], html.Small(summary["name_en"], className="title-en")],
                         className="page-title"),
                 html.Div([dbc.Badge(data.SEGMENT_LABELS.get(summary["segment"], summary["segment"]),
                                     className=f"segment-badge {summary['segment']}"),
                           html.Span(f"Level {summary['level']} · weight {summary['weight']:g}",
                                     className="text-muted small ms-2")])],
                className="mb-3",
            ),  # fmt: skip
            dbc.Row(
                [
                    stat_tile("专利 Patents", summary["patent_count"], "matched by the node's expression"),
                    stat_tile("目标企业 Target firms", summary["firm_count"], "ranked operating firms"),
                    stat_tile("A/B 级 Tier A/B", tiers.get("A", 0) + tiers.get("B", 0),
                              " · ".join(f"{t}: {n}" for t, n in tiers.items())),
                    stat_tile("申请人 Applicants", applicants, "distinct, all types"),
                ],
                className="g-3 mb-3",
            ),  # fmt: skip
            dbc.Row(
                [
                    dbc.Col(card("申请趋势 Patents by application year", _years_chart(summary["patents_by_year"])),
                            lg=6),
                    dbc.Col(card("申请人类型 Applicant types", _applicant_mix(summary["applicant_types"])), lg=3),
                    dbc.Col(card("产业链位置 Position in chain", _context(summary)), lg=3),
                ],
                className="g-3",
            ),  # fmt: skip
            html.H4("企业排名 Ranked firms", className="section-title"),
            _filters(summary),
            dag.AgGrid(
                id=ids.NODE_FIRMS_GRID,
                rowModelType="infinite",
                columnDefs=COLUMNS,
                defaultColDef={"sortable": True, "resizable": True, "filter": False},
                dashGridOptions={
                    "cacheBlockSize": PAGE_ROWS,
                    "maxBlocksInCache": 20,
                    "infiniteInitialRowCount": 1,
                    "rowHeight": 34,
                    "tooltipShowDelay": 300,
                },
                style={"height": "520px", "width": "100%"},
                className="firm-grid",
            ),
        ]
    )


def _crumbs(chain_id: str, summary: dict | None) -> dbc.Breadcrumb:
    items = [{"label": "产业链 Chains", "href": "/"}]
    if summary:
        items.append({"label": summary["chain_name_zh"], "href": f"/?chain={chain_id}"})
        items += [{"label": a["name_zh"], "href": a["href"]} for a in summary["ancestors"]]
        items.append({"label": summary["name_zh"], "active": True})
    return dbc.Breadcrumb(items=items, className="crumbs")


def _years_chart(years: list[dict]) -> dcc.Graph | html.Div:
    if not years:
        return html.Div("No dated patents.", className="text-muted")
    figure = go.Figure(
        go.Bar(x=[y["year"] for y in years], y=[y["patents"] for y in years], marker_color="#2563eb",
               hovertemplate="%{x}: %{y} patents<extra></extra>")
    )  # fmt: skip
    figure.update_layout(
        margin={"l": 36, "r": 8, "t": 8, "b": 28}, height=200, plot_bgcolor="#ffffff", paper_bgcolor="#ffffff",
        xaxis={"type": "category", "tickfont": {"size": 11}}, yaxis={"gridcolor": "#e2e8f0", "tickfont": {"size": 11}},
        font={"family": "system-ui, sans-serif"},
    )  # fmt: skip
    return dcc.Graph(id=ids.NODE_YEARS_CHART, figure=figure, config={"displayModeBar": False})


def _applicant_mix(mix: list[dict]) -> html.Div:
    total = sum(item["applicants"] for item in mix) or 1
    return html.Div([
        html.Div([
            html.Div([html.Span(APPLICANT_TYPE_LABELS.get(m["applicant_type"], m["applicant_type"])),
                      html.Span(f"{m['applicants']:,}", className="num")], className="bar-label"),
            html.Div(html.Div(className=f"bar-fill type-{m['applicant_type']}",
                              style={"width": f"{100 * m['applicants'] / total:.0f}%"}), className="bar-track"),
        ], className="bar-row")
        for m in mix
    ] or [html.Div("No applicants.", className="text-muted")])  # fmt: skip


def _context(summary: dict) -> html.Div:
    def links(title: str, nodes: list[dict], via: str | None = None) -> html.Div:
        body = [dcc.Link(n["name_zh"], href=n["href"], className="chip") for n in nodes] or [
            html.Span("—", className="text-muted")]
        heading = [title, html.Span(f" · 经上级 via {via}", className="text-muted")] if via else title
        return html.Div([html.Div(heading, className="context-title"), html.Div(body)], className="mb-2")

    return html.Div([
        links("上游供给 Fed by", summary["suppliers"], summary["suppliers_via"]),
        links("下游应用 Feeds", summary["customers"], summary["customers_via"]),
        links("子节点 Sub-nodes", summary["children"]),
    ])  # fmt: skip


def _filters(summary: dict) -> dbc.Card:
    def labelled(label: str, control, width: int) -> dbc.Col:
        return dbc.Col([dbc.Label(label, className="filter-label"), control], md=width)

    return dbc.Card(dbc.CardBody(dbc.Row([
        labelled("企业名称 Name / code", dbc.Input(id=ids.NODE_FILTER_NAME, placeholder="搜索 Search…",
                                                debounce=True, type="text"), 2),
        labelled("地区 Region", dcc.Dropdown(id=ids.NODE_FILTER_REGION, options=summary["regions"], multi=True,
                                            placeholder="All"), 2),
        labelled("等级 Tier", dbc.Checklist(id=ids.NODE_FILTER_TIER, options=list("ABCD"), value=[], inline=True), 2),
        labelled("规模 Size", dcc.Dropdown(id=ids.NODE_FILTER_SIZE, options=summary["size_bands"], multi=True,
                                          placeholder="All"), 2),
        labelled("评分 Score", dcc.RangeSlider(id=ids.NODE_FILTER_SCORE, min=0, max=100, step=5, value=[0, 100],
                                              marks={0: "0", 50: "50", 100: "100"},
                                              tooltip={"placement": "bottom"}), 2),
        labelled("最低匹配置信 Min. match", dcc.Slider(id=ids.NODE_FILTER_CONFIDENCE, min=0, max=1, step=0.05,
                                                     value=0, marks={0: "0", 0.5: "0.5", 1: "1"},
                                                     tooltip={"placement": "bottom"}), 2),
        dbc.Col([
            html.Span(id=ids.NODE_FIRMS_COUNT, className="firm-count"),
            _export_buttons(),
        ], xs=12, className="d-flex justify-content-between align-items-center mt-2"),
    ], className="g-3")), className="mb-2 filter-card")  # fmt: skip



def _export_buttons() -> html.Div:
    """CSV / XLSX export, shown to roles that may export (the server refuses the others anyway)."""
    if not auth.allowed("export"):
        return html.Div("导出需营销角色 Export: marketers only", className="text-muted small")
    return html.Div([
        html.Span(id=ids.NODE_EXPORT_STATUS, className="text-muted small me-2"),
        dbc.Button("导出 Export CSV", id=ids.NODE_EXPORT_BUTTON, color="primary", outline=True, size="sm",
                   className="me-2"),
        dbc.Button("导出 Export XLSX", id=ids.NODE_EXPORT_XLSX_BUTTON, color="primary", outline=True, size="sm"),
        dcc.Store(id=ids.NODE_EXPORT_DOWNLOAD),  # the written file's download URL
        dcc.Store(id=ids.NODE_EXPORT_STARTED),
    ])  # fmt: skip
