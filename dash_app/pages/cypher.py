"""Cypher console (risk team): saved catalog queries or your own, read-only, with the CLI's timeout and row cap."""

from __future__ import annotations

import json

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import dash_cytoscape as cyto
from dash import ALL, Dash, Input, Output, State, dcc, html

from dash_app import auth, cypher_view, ids
from dash_app.components import current_settings, current_workspace, forbidden
from graph.catalog import get_query, list_queries
from graph.cypher import CypherError, CypherResult, run_cypher

CUSTOM = "__custom__"
GRAPH_STYLESHEET = [
    {"selector": "node", "style": {"label": "data(label)", "font-size": 9, "text-wrap": "ellipsis",
                                   "text-max-width": 110, "width": 18, "height": 18, "background-color": "#2563eb",
                                   "color": "#0f172a", "text-valign": "bottom", "text-margin-y": 3}},
    {"selector": "node.Applicant", "style": {"background-color": "#f59e0b"}},
    {"selector": "node.Patent", "style": {"background-color": "#64748b", "shape": "round-rectangle"}},
    {"selector": "node.TechNode", "style": {"background-color": "#7c3aed", "shape": "diamond"}},
    {"selector": "edge", "style": {"curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.2,
                                   "line-color": "#94a3b8", "target-arrow-color": "#94a3b8", "label": "data(label)",
                                   "font-size": 7, "color": "#64748b"}},
]  # fmt: skip


def register(app: Dash) -> None:
    dash.register_page(__name__, path="/cypher", name="Cypher", title="Cypher · patentgraph", layout=layout)
    auth.protect(app.server, "cypher", ids.CYPHER_EDITOR, ids.CYPHER_PARAMS, ids.CYPHER_DESCRIPTION,
                 ids.CYPHER_STATUS, ids.CYPHER_GRID, ids.CYPHER_GRAPH)

    @app.callback(
        Output(ids.CYPHER_EDITOR, "value"),
        Output(ids.CYPHER_PARAMS, "children"),
        Output(ids.CYPHER_DESCRIPTION, "children"),
        Input(ids.CYPHER_QUERY_PICKER, "value"),
    )
    @auth.requires("cypher")
    def pick(name):
        if not name or name == CUSTOM:
            return dash.no_update, _param_fields(None), "Your own read-only query; parameters as $name, given as JSON."
        saved = get_query(name)
        return saved.cypher, _param_fields(saved), saved.description

    @app.callback(
        Output(ids.CYPHER_STATUS, "children"),
        Output(ids.CYPHER_GRID, "columnDefs"),
        Output(ids.CYPHER_GRID, "rowData"),
        Output(ids.CYPHER_GRAPH, "elements"),
        Input(ids.CYPHER_RUN, "n_clicks"),
        State(ids.CYPHER_QUERY_PICKER, "value"),
        State(ids.CYPHER_EDITOR, "value"),
        State({"type": ids.CYPHER_PARAM, "name": ALL}, "value"),
        State({"type": ids.CYPHER_PARAM, "name": ALL}, "id"),
        prevent_initial_call=True,
    )
    @auth.requires("cypher")
    def run(_clicks, name, query, values, field_ids):
        try:
            params = bind_params(name, {field["name"]: value for field, value in zip(field_ids, values, strict=True)})
            result = execute(query or "", params)
        except (CypherError, ValueError, FileNotFoundError) as exc:
            return dbc.Alert(str(exc), color="danger", className="cypher-error"), [], [], []
        columns, rows = cypher_view.grid(result)
        return _summary(result), columns, rows, cypher_view.graph_elements(result)


def bind_params(name: str | None, fields: dict[str, object]) -> dict:
    """The parameters to run with: typed by the saved query's declarations, or a JSON object for your own query."""
    if name and name != CUSTOM:
        return get_query(name).bind({key: value for key, value in fields.items() if value not in (None, "")})
    text = fields.get("json") or "{}"
    try:
        params = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        raise ValueError(f"parameters must be a JSON object: {exc}") from None
    if not isinstance(params, dict):
        raise ValueError("parameters must be a JSON object, e.g. {\"firm_id\": \"91440300…\"}")
    return params


def execute(query: str, params: dict) -> CypherResult:
    """Run like `patentgraph cypher`: the configured backend, read-only, its timeout and row cap."""
    from graph.load import open_reader

    settings = current_settings()
    source = settings if settings.backend == "neo4j" else current_workspace()
    with open_reader(source) as reader:
        return run_cypher(query, params, backend=reader, timeout_s=settings.query_timeout_s, row_cap=settings.row_cap)


def _summary(result: CypherResult) -> dbc.Alert:
    text = f"{len(result.rows):,} rows in {result.elapsed_s * 1000:.0f} ms"
    if result.truncated:
        return dbc.Alert(f"{text} — stopped at the row cap of {len(result.rows):,}; add LIMIT or narrow the query.",
                         color="warning", className="cypher-ok")
    return dbc.Alert(text, color="success", className="cypher-ok")


def _param_fields(saved) -> list:
    if saved is None:
        return [dbc.Label("参数 Parameters (JSON)", className="filter-label"),
                dbc.Input(id={"type": ids.CYPHER_PARAM, "name": "json"}, value="{}", type="text", className="mono")]
    if not saved.params:
        return [html.Div("This query takes no parameters.", className="text-muted small")]
    fields = []
    for param in saved.params:
        example = json.dumps(param.example, ensure_ascii=False) if param.type == "string[]" else param.example
        fields.append(dbc.Col([
            dbc.Label(f"{param.name} ({param.type})", className="filter-label"),
            dbc.Input(id={"type": ids.CYPHER_PARAM, "name": param.name}, value=example,
                      type="number" if param.type in ("int", "float") else "text"),
            html.Div(param.description, className="text-muted small"),
        ], md=4))  # fmt: skip
    return [dbc.Row(fields, className="g-3")]


def layout(**_query) -> html.Div:
    title = html.H2(["Cypher 查询", html.Small("Read-only graph queries", className="title-en")], className="page-title")
    if not auth.allowed("cypher"):
        return html.Div([title, forbidden("cypher")])
    settings = current_settings()
    options = [{"label": f"{q.name} — {q.description}", "value": q.name} for q in list_queries()]
    options.append({"label": "自定义 Your own query", "value": CUSTOM})
    return html.Div([
        html.Div([title, html.Span(f"{settings.backend} · timeout {settings.query_timeout_s:g} s · row cap "
                                   f"{settings.row_cap:,} · writes refused", className="text-muted small")],
                 className="d-flex justify-content-between align-items-center mb-2"),
        dbc.Card(dbc.CardBody([
            dbc.Row([
                dbc.Col([dbc.Label("保存的查询 Saved query", className="filter-label"),
                         dcc.Dropdown(id=ids.CYPHER_QUERY_PICKER, options=options, value=options[0]["value"],
                                      clearable=False)], md=8),
                dbc.Col(html.Div(id=ids.CYPHER_DESCRIPTION, className="text-muted small mt-3"), md=4),
            ], className="g-3 mb-2"),
            dcc.Textarea(id=ids.CYPHER_EDITOR, className="cypher-editor mono", spellCheck=False,
                         style={"width": "100%", "height": "180px"}),
            html.Div(id=ids.CYPHER_PARAMS, className="mb-2"),
            dbc.Button("运行 Run", id=ids.CYPHER_RUN, color="primary"),
        ]), className="mb-3 filter-card"),
        dcc.Loading(html.Div(id=ids.CYPHER_STATUS)),
        dbc.Row([
            dbc.Col(dag.AgGrid(id=ids.CYPHER_GRID, columnDefs=[], rowData=[],
                               defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 110},
                               dashGridOptions={"pagination": True, "paginationPageSize": 50, "rowHeight": 30,
                                                "tooltipShowDelay": 300},
                               style={"height": "460px", "width": "100%"}), lg=8),
            dbc.Col(html.Div(cyto.Cytoscape(id=ids.CYPHER_GRAPH, elements=[], stylesheet=GRAPH_STYLESHEET,
                                            layout={"name": "cose", "animate": False, "fit": True, "padding": 20},
                                            style={"width": "100%", "height": "460px"}, minZoom=0.2, maxZoom=3),
                             className="graph-frame"), lg=4),
        ], className="g-3"),
    ])  # fmt: skip
