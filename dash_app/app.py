"""The explorer app: a navbar over three pages (chains → node → firm), served from local assets only."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Dash, dcc, html

from dash_app import ids
from dash_app.components import WORKSPACE_KEY
from dash_app.pages import chains, firm, node

ASSETS = Path(__file__).parent / "assets"


def create_app(workspace: Path) -> Dash:
    """A Dash app reading the workspace at `workspace`; tables are reread when they change."""
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        serve_locally=True,  # no CDN: the app must work without network
        title="patentgraph 专利图谱",
        update_title=None,
        suppress_callback_exceptions=True,  # page components come and go with the URL
    )
    app.server.config[WORKSPACE_KEY] = str(Path(workspace).resolve())
    for page in (chains, node, firm):
        page.register(app)
    app.layout = html.Div([_navbar(), dcc.Location(id=ids.NAV_LOCATION, refresh="callback-nav"),
                           dbc.Container(dash.page_container, fluid=True, className="page")])
    return app


def _navbar() -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([html.Span("patentgraph", className="brand-name"),
                                 html.Span("专利图谱 · 科技企业发现", className="brand-sub")], href="/"),
                dbc.Nav([dbc.NavItem(dbc.NavLink("产业链 Chains", href="/", active="exact"))], navbar=True),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="app-navbar",
    )


def serve(workspace: Path, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the explorer on host:port (loopback by default) with waitress, or Flask's server."""
    app = create_app(workspace)
    try:
        from waitress import serve as waitress_serve
    except ImportError:
        app.run(host=host, port=port, debug=False)
    else:
        print(f"patentgraph explorer on http://{host}:{port}/  (workspace {Path(workspace).resolve()})")
        waitress_serve(app.server, host=host, port=port, threads=8)
