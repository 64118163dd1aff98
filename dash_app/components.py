"""Pieces every page uses: the current workspace, error notices, stat tiles, badges."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import flask
from dash import html

from dash_app import auth
from graph.config import Settings
from graph.workspace import ContractError, Workspace

WORKSPACE_KEY = "PATENTGRAPH_WORKSPACE"
SETTINGS_KEY = "PATENTGRAPH_SETTINGS"
# What a page can meet in a workspace that is not (fully) built yet, shown instead of a traceback.
DATA_ERRORS = (FileNotFoundError, ContractError, KeyError)
TIER_COLOURS = {"A": "success", "B": "primary", "C": "warning", "D": "secondary"}
STATUS_COLOURS = {"operating": "success", "deregistered": "danger", "revoked": "danger", "liquidating": "warning"}
DECISION_COLOURS = {"auto": "success", "manual": "primary", "review": "warning", "rejected": "secondary"}
APPLICANT_TYPE_LABELS = {
    "company": "企业 Company",
    "university": "高校 University",
    "research_institute": "科研院所 Research institute",
    "hospital": "医院 Hospital",
    "individual": "个人 Individual",
    "government": "政府 Government",
    "unknown": "未知 Unknown",
}


def current_workspace() -> Workspace:
    """The workspace of the app serving this request (set by create_app)."""
    return Workspace(flask.current_app.config[WORKSPACE_KEY])


def current_settings() -> Settings:
    """Backend, query timeout and row cap, as the CLI uses them."""
    return flask.current_app.config[SETTINGS_KEY]


def forbidden(permission: str) -> dbc.Alert:
    """What a page says to a role that may not use it (the server refuses its callbacks too)."""
    user = auth.current_user()
    role = f" ({user.role})" if user else ""
    return dbc.Alert(
        [html.Strong("无权限 Not allowed: "),
         html.Span(f"only {auth.PERMISSION_LABELS[permission]} may use this page; your role{role} may not.")],
        color="danger", className="mt-3 forbidden",
    )  # fmt: skip


def data_problem(exc: Exception) -> dbc.Alert:
    """Tell the analyst what is missing and which stage produces it, instead of failing the page."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return dbc.Alert(
        [html.Strong("数据不可用 Data not available: "), html.Span(str(message))],
        color="warning",
        className="mt-3",
    )


def stat_tile(label: str, value: object, hint: str = "") -> dbc.Col:
    return dbc.Col(
        html.Div(
            [html.Div(label, className="stat-label"), html.Div(f"{value:,}" if isinstance(value, int) else value,
                                                                className="stat-value"),
             html.Div(hint, className="stat-hint")],
            className="stat-tile",
        ),
        xs=6,
        md=3,
    )


def tier_badge(tier: str) -> dbc.Badge:
    return dbc.Badge(tier, color=TIER_COLOURS.get(tier, "secondary"), className="tier-badge")


def status_badge(status: str) -> dbc.Badge:
    return dbc.Badge(status, color=STATUS_COLOURS.get(status, "secondary"))


def card(title: str, body, class_name: str = "mb-3", **body_props) -> dbc.Card:
    return dbc.Card([dbc.CardHeader(title), dbc.CardBody(body, **body_props)], className=class_name)
