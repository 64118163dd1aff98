"""The explorer app: login, a navbar showing the pages the user's role may open, served from local assets only."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Dash, dcc, html

from dash_app import auth, data, ids
from dash_app.components import SETTINGS_KEY, WORKSPACE_KEY
from dash_app.pages import chains, cypher, firm, node, regions, review, runs
from graph.config import Settings, load_settings
from graph.workspace import Workspace

ASSETS = Path(__file__).parent / "assets"
# (label, path, permission needed to see the link)
NAV_LINKS = [
    ("产业链 Chains", "/", "browse"),
    ("地图 Map", "/map", "browse"),
    ("复核 Review", "/review", "review"),
    ("Cypher", "/cypher", "cypher"),
    ("运行 Runs", "/runs", "browse"),
]


def create_app(workspace: Path, users_file: Path | None = None, settings: Settings | None = None) -> Dash:
    """A Dash app over the workspace at `workspace`; tables are reread when they change.

    Users come from `users_file` (default: `auth.users_path(workspace)`); Cypher runs with the
    backend, timeout and row cap of `settings` (default: `load_settings`), like the CLI.
    """
    workspace = Path(workspace).resolve()
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
    app.server.config[WORKSPACE_KEY] = str(workspace)
    app.server.config[SETTINGS_KEY] = settings or load_settings(workspace=workspace)
    auth.install(app.server, users_file or auth.users_path(workspace))
    for page in (chains, node, firm, regions, review, cypher, runs):
        page.register(app)
    app.layout = _shell
    return app


def _shell() -> html.Div:
    """Built per page load, so the navbar matches the session's role."""
    return html.Div([_navbar(auth.current_user()), dcc.Location(id=ids.NAV_LOCATION, refresh="callback-nav"),
                     dbc.Container(dash.page_container, fluid=True, className="page")])


def _navbar(user: auth.User | None) -> dbc.Navbar:
    links = [dbc.NavItem(dbc.NavLink(label, href=path, active="exact" if path == "/" else "partial"))
             for label, path, permission in NAV_LINKS if user and permission in user.permissions]
    who = []
    if user:
        who = [html.Span([html.Span(user.name, className="user-name"), dbc.Badge(user.role, className="role-badge")],
                         id=ids.NAV_USER),
               html.Form([dcc.Input(type="hidden", name="csrf_token", value=auth.csrf_token()),
                          html.Button("退出 Log out", type="submit", className="logout-button")],
                         method="POST", action="/logout", className="logout-form")]  # fmt: skip
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([html.Span("patentgraph", className="brand-name"),
                                 html.Span("专利图谱 · 科技企业发现", className="brand-sub")], href="/"),
                dbc.Nav(links, navbar=True),
                html.Div(who, className="nav-user"),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="app-navbar",
    )


def serve(workspace: Path, host: str = "127.0.0.1", port: int = 8050, users_file: Path | None = None,
          settings: Settings | None = None) -> None:
    """Serve the explorer on host:port (loopback by default) with waitress, or Flask's server.

    A workspace without a users file gets one account per role with random passwords,
    printed here once (only their hashes are stored).
    """
    users_file = users_file or auth.users_path(Path(workspace))
    if not users_file.exists():
        passwords = auth.create_demo_users(users_file)
        print(f"No users yet: created one account per role in {users_file}. Passwords (shown once):")
        for name, password in passwords.items():
            print(f"  {name:<9} {password}")
    app = create_app(workspace, users_file, settings)
    data.keep_warm(Workspace(Path(workspace).resolve()))  # tables read before, not during, the first visit
    try:
        from waitress import serve as waitress_serve
    except ImportError:
        app.run(host=host, port=port, debug=False)
    else:
        print(f"patentgraph explorer on http://{host}:{port}/  (workspace {Path(workspace).resolve()})")
        waitress_serve(app.server, host=host, port=port, threads=8)
