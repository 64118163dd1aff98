"""Home: pick an industry chain, see its nodes upstream → downstream, click one to open it."""

from __future__ import annotations

from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
import dash_cytoscape as cyto
from dash import Dash, Input, Output, State, ctx, dcc, html

from dash_app import data, ids
from dash_app.components import DATA_ERRORS, current_workspace, data_problem

STYLESHEET = [
    {"selector": "node.tech", "style": {
        "shape": "round-rectangle", "width": 150, "height": 52, "label": "data(label)", "text-wrap": "wrap",
        "text-max-width": 140, "text-valign": "center", "text-halign": "center", "font-size": 10,
        "background-color": "data(colour)", "color": "data(text_colour)", "border-width": 1,
        "border-color": "#1e293b", "border-opacity": 0.25}},
    {"selector": "node.segment", "style": {
        "shape": "round-rectangle", "label": "data(label)", "text-valign": "top", "text-halign": "center",
        "text-wrap": "wrap", "text-max-width": 420,  # narrower than a segment column: titles never collide
        "font-size": 12, "font-weight": "bold", "color": "#1e293b", "background-color": "#f8fafc",
        "background-opacity": 0.9, "border-width": 2, "padding": 18, "text-margin-y": -6}},
    {"selector": "node.upstream", "style": {"border-color": "#0891b2"}},
    {"selector": "node.midstream", "style": {"border-color": "#7c3aed"}},
    {"selector": "node.downstream", "style": {"border-color": "#d97706"}},
    {"selector": "edge.supply", "style": {
        "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "#475569",
        "target-arrow-color": "#475569", "width": 1.6, "arrow-scale": 0.9, "opacity": 0.8}},
    {"selector": "edge.hierarchy", "style": {
        "curve-style": "taxi", "taxi-direction": "vertical", "line-style": "dashed", "line-color": "#94a3b8",
        "width": 1}},
    {"selector": "node:selected", "style": {"border-width": 3, "border-color": "#f97316", "border-opacity": 1}},
]  # fmt: skip


def register(app: Dash) -> None:
    dash.register_page(__name__, path="/", name="产业链 Chains", title="产业链 Chains · patentgraph", layout=layout)

    @app.callback(
        Output(ids.NAV_LOCATION, "href"),
        Input(ids.CHAIN_PICKER, "value"),
        Input(ids.CHAIN_GRAPH, "tapNodeData"),
        State(ids.CHAIN_SHOWN, "data"),
        prevent_initial_call=True,
    )
    def navigate(chain_id, node_data, shown_chain):
        if ctx.triggered_id == ids.CHAIN_GRAPH:
            return node_data["href"] if node_data else dash.no_update
        # another chain is a new page rather than new elements: cytoscape fits only to its first size
        return f"/?chain={quote(chain_id)}" if chain_id and chain_id != shown_chain else dash.no_update


def layout(chain: str | None = None, **_query) -> html.Div:
    try:
        chains = data.list_chains(current_workspace())
    except DATA_ERRORS as exc:
        return html.Div([html.H2("产业链 Industry chains"), data_problem(exc)])
    if not chains:
        return html.Div([html.H2("产业链 Industry chains"), dbc.Alert("No chains in tech_nodes yet.", color="info")])
    known = [c["chain_id"] for c in chains]
    selected = chain if chain in known else known[0]
    options = [{"label": f"{c['chain_name_zh']} {c['chain_name_en']} ({c['nodes']} nodes)", "value": c["chain_id"]}
               for c in chains]  # fmt: skip
    picker = dbc.Row(
        [
            dbc.Col(html.H2("产业链 Industry chains", className="page-title"), md=6),
            dbc.Col(dcc.Dropdown(id=ids.CHAIN_PICKER, options=options, value=selected, clearable=False), md=6),
        ],
        className="align-items-center mb-2",
    )
    workspace = current_workspace()
    try:
        graph = data.chain_elements(workspace, selected)
        rows = data.chain_node_rows(workspace, selected)
    except DATA_ERRORS as exc:
        return html.Div([picker, data_problem(exc)])
    return html.Div(
        [
            picker,
            dcc.Store(id=ids.CHAIN_SHOWN, data=selected),
            html.Div(_header(graph), id=ids.CHAIN_HEADER),
            html.Div(
                cyto.Cytoscape(
                    id=ids.CHAIN_GRAPH,
                    elements=graph.elements,
                    layout={"name": "preset", "fit": True, "padding": 24},
                    stylesheet=STYLESHEET,
                    style=_graph_style(graph),
                    minZoom=0.2,
                    maxZoom=2.5,
                    boxSelectionEnabled=False,
                    autoungrabify=True,
                ),
                className="graph-frame mb-3",
            ),
            html.H4("节点 Nodes", className="section-title"),
            html.Div(_node_table(rows), id=ids.CHAIN_NODE_TABLE),
        ]
    )


def _graph_style(graph: data.ChainGraph) -> dict:
    """Tall enough for the longest segment column at about full size: a long chain (bio: 37 nodes) scrolls
    rather than shrinking its labels below reading size; beyond 1,600 px it is fitted."""
    deepest_row = max((e["position"]["y"] for e in graph.elements if "position" in e), default=0)
    return {"width": "100%", "height": f"{min(1600, max(300, deepest_row + 200))}px"}


def _header(graph: data.ChainGraph) -> html.Div:
    legend = [html.Span("目标企业数 Target firms:", className="legend-title")] + [
        html.Span([html.Span(className="legend-swatch", style={"backgroundColor": colour}), label],
                  className="legend-item")
        for colour, label in graph.legend
    ]  # fmt: skip
    notes = [html.Span("Click a node to open its ranked firms · 点击节点查看企业排名", className="text-muted small")]
    if graph.nodes_shown < graph.nodes_total:
        notes.append(dbc.Badge(
            f"showing levels 1–{graph.deepest_level_shown}: {graph.nodes_shown} of {graph.nodes_total} nodes "
            "(deeper nodes are in the table below)", color="info", className="ms-2"))  # fmt: skip
    return html.Div([html.Div(legend, className="legend"), html.Div(notes)], className="chain-header mb-2")


def _node_table(rows: list[dict]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th("节点 Node"), html.Th("环节 Segment"), html.Th("层级 Level"),
                               html.Th("专利 Patents", className="num"), html.Th("目标企业 Target firms", className="num")]))
    body = html.Tbody([
        html.Tr([
            html.Td(dcc.Link([html.Span(r["name_zh"], className="fw-semibold"), " ", html.Span(r["name_en"],
                    className="text-muted")], href=r["href"]), style={"paddingLeft": f"{0.6 + (r['level'] - 1) * 1.4}rem"}),
            html.Td(data.SEGMENT_LABELS.get(r["segment"], r["segment"])),
            html.Td(r["level"]),
            html.Td(f"{r['patents']:,}", className="num"),
            html.Td(f"{r['firms']:,}" if r["firms"] or not r["firms_below"] else f"({r['firms_below']:,} in sub-nodes)",
                    className="num"),
        ])
        for r in rows
    ])  # fmt: skip
    return dbc.Table([head, body], hover=True, size="sm", className="node-table")
