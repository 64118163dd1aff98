"""Map: target firms per province as a tile grid drawn by the app (no map tiles, no network); click a tile for its firms."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs, urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html

from dash_app import data, ids, tilemap
from dash_app.components import DATA_ERRORS, card, current_workspace, data_problem, tier_badge

ALL_CHAINS = "__all__"


def register(app: Dash) -> None:
    dash.register_page(__name__, path="/map", name="地图 Map", title="地图 Map · patentgraph", layout=layout)

    @app.callback(Output(ids.NAV_LOCATION, "href", allow_duplicate=True), Input(ids.MAP_CHAIN, "value"),
                  State(ids.NAV_LOCATION, "search"), prevent_initial_call=True)
    def pick_chain(chain_id, search):
        chain_id = None if chain_id == ALL_CHAINS else chain_id
        # the picker also fires when the page is redrawn for a tile click: only a new chain navigates
        shown = parse_qs((search or "").lstrip("?")).get("chain", [None])[0]
        return map_href(chain_id, None) if chain_id != shown else dash.no_update


def map_href(chain_id: str | None, province: str | None) -> str:
    query = {key: value for key, value in (("chain", chain_id), ("province", province)) if value}
    return "/map" + (f"?{urlencode(query)}" if query else "")


def layout(chain: str | None = None, province: str | None = None, **_query) -> html.Div:
    title = html.H2(["目标企业地图", html.Small("Target firms by province", className="title-en")],
                    className="page-title")
    workspace = current_workspace()
    try:
        chains = data.list_chains(workspace)
        known = {c["chain_id"] for c in chains}
        chain = chain if chain in known else None
        tiles = data.map_tiles(workspace, chain)
        firms = data.province_firms(workspace, province, chain) if province in tilemap.TILES else []
    except DATA_ERRORS as exc:
        return html.Div([title, data_problem(exc)])
    options = [{"label": "全部产业链 All chains", "value": ALL_CHAINS}] + [
        {"label": f"{c['chain_name_zh']} {c['chain_name_en']}", "value": c["chain_id"]} for c in chains]
    picker = dcc.Dropdown(id=ids.MAP_CHAIN, options=options, value=chain or ALL_CHAINS, clearable=False)
    return html.Div([
        dbc.Row([dbc.Col(title, md=6), dbc.Col(picker, md=6)], className="align-items-center mb-2"),
        dbc.Row([
            dbc.Col(card(f"各省目标企业 Target firms per province ({tiles['total']:,} firms)",
                         [_legend(tiles), _grid(tiles["tiles"], chain, province)]), lg=6),
            dbc.Col(card(_firms_title(province), html.Div(_firm_list(province, firms), id=ids.MAP_FIRMS)), lg=6),
        ], className="g-3"),
    ])  # fmt: skip


def _legend(tiles: dict) -> html.Div:
    items = [html.Span("目标企业数 Target firms:", className="legend-title")] + [
        html.Span([html.Span(className="legend-swatch", style={"backgroundColor": colour}), label],
                  className="legend-item") for colour, label in tiles["legend"]]  # fmt: skip
    if tiles["unplaced"]:
        items.append(html.Span(f"· {tiles['unplaced']} firms without a known province", className="text-muted small"))
    return html.Div(items, className="legend mb-2")


def _grid(tiles: list[dict], chain: str | None, selected: str | None) -> html.Div:
    cells = [
        dcc.Link(
            [html.Span(t["province"], className="tile-name"), html.Span(f"{t['firms']:,}", className="tile-count")],
            href=map_href(chain, t["province"]),
            id=ids.map_tile(t["english"]),
            title=f"{t['province']} {t['english']}: {t['firms']} target firms",
            className="map-tile" + (" selected" if t["province"] == selected else "") + (" empty" if not t["firms"] else ""),
            style={"gridRow": t["row"] + 1, "gridColumn": t["column"] + 1, "backgroundColor": t["colour"],
                   "color": t["text_colour"]},
        )
        for t in tiles
    ]  # fmt: skip
    return html.Div(cells, id=ids.MAP_TILES, className="tile-grid",
                    style={"gridTemplateColumns": f"repeat({tilemap.COLUMNS}, 1fr)"})


def _firms_title(province: str | None) -> str:
    if province not in tilemap.TILES:
        return "企业 Firms"
    return f"{province} {tilemap.TILES[province][2]} · 目标企业 Target firms"


def _firm_list(province: str | None, firms: list[dict]) -> list:
    if province not in tilemap.TILES:
        return [html.Div("点击省份查看企业 Click a province to list its target firms.", className="text-muted")]
    if not firms:
        return [html.Div(f"No target firms in {province}.", className="text-muted")]
    cities = Counter(f["city"] or "—" for f in firms).most_common()
    head = html.Thead(html.Tr([html.Th("企业 Firm"), html.Th("城市 City"), html.Th("最佳节点 Best node"),
                               html.Th("评分 Score", className="num"), html.Th("等级 Tier"),
                               html.Th("节点数 Nodes", className="num")]))
    body = html.Tbody([
        html.Tr([
            html.Td(dcc.Link(f["name"], href=f["href"])),
            html.Td(f["city"] or "—"),
            html.Td(dcc.Link(f["best_node"], href=f["best_node_href"])),
            html.Td(f"{f['best_score']:.1f}", className="num"),
            html.Td(tier_badge(f["best_tier"])),
            html.Td(f["nodes"], className="num"),
        ])
        for f in firms
    ])  # fmt: skip
    return [
        html.Div([html.Span(f"{city} {n}", className="chip") for city, n in cities], className="mb-2"),
        dbc.Table([head, body], size="sm", hover=True, className="map-firm-table"),
    ]
