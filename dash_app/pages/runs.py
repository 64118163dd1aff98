"""Runs: the workspace's run ledger, newest first — when, which stage, on what inputs, counts, what changed."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, html

from dash_app import data, ids
from dash_app.components import DATA_ERRORS, current_workspace, data_problem

RUNS_SHOWN = 500


def register(app: Dash) -> None:
    dash.register_page(__name__, path="/runs", name="运行 Runs", title="运行 Runs · patentgraph", layout=layout)


def layout(**_query) -> html.Div:
    title = html.H2(["运行记录", html.Small("Refresh history", className="title-en")], className="page-title")
    try:
        runs = data.run_history(current_workspace())
    except (ValueError, *DATA_ERRORS) as exc:
        return html.Div([title, data_problem(exc)])
    if not runs:
        return html.Div([title, dbc.Alert("No runs recorded yet (runs.jsonl is empty).", color="info")])
    head = html.Thead(html.Tr([html.Th("完成 Finished (UTC)"), html.Th("阶段 Stage"), html.Th("输入 Inputs"),
                               html.Th("计数 Counts"), html.Th("变化 Changed"), html.Th("秒 Seconds", className="num")]))
    body = html.Tbody([
        html.Tr([
            html.Td([html.Div(r["finished_at"].replace("T", " ").replace("+00:00", "")),
                     html.Div(r["run_id"], className="mono small text-muted")]),
            html.Td(dbc.Badge(r["stage"], className=f"stage-badge stage-{r['stage']}")),
            html.Td([html.Div(name, className="small") for name in r["inputs"]] or "—"),
            html.Td(html.Span(", ".join(f"{k}={v:,}" if isinstance(v, int | float) else f"{k}={v}"
                                        for k, v in r["counts"].items()), className="small")),
            html.Td(_changes(r["changes"])),
            html.Td("" if r["seconds"] is None else f"{r['seconds']:.1f}", className="num"),
        ])
        for r in runs[:RUNS_SHOWN]
    ])  # fmt: skip
    return html.Div([
        html.Div([title, html.Span(f"{len(runs):,} runs", className="text-muted")],
                 className="d-flex justify-content-between align-items-center mb-2"),
        dbc.Table([head, body], size="sm", hover=True, id=ids.RUNS_TABLE, className="runs-table"),
    ])  # fmt: skip


def _changes(changes: list[str] | None):
    if changes is None:
        return html.Span("first run", className="text-muted small")
    if not changes:
        return html.Span("no change", className="text-muted small")
    return [html.Div(change, className="small") for change in changes]
