"""Who may do what in the explorer, checked on the server: users file, login, roles per page and callback, CSRF."""

from __future__ import annotations

import io
import json
import logging
import shutil

import pytest
import ui_fixtures
from openpyxl import load_workbook
from ui_fixtures import FIRMS, HOLDING, PASSWORDS, callback_headers, login_client

from dash_app import auth, create_app, ids
from graph.load import build_embedded_graph
from graph.workspace import Workspace

ui_workspace = ui_fixtures.ui_workspace
CYPHER_RUN_OUTPUT = "..cypher-status.children...cypher-grid.columnDefs...cypher-grid.rowData...cypher-graph.elements.."
PICK_OUTPUT = "..cypher-editor.value...cypher-params.children...cypher-description.children.."
REVIEW_OUTPUT = "..review-status.children...review-count.children.."
EXPORT_OUTPUT = "..node-export-download.data...node-export-status.children.."


@pytest.fixture(scope="module")
def graph_workspace(ui_workspace, tmp_path_factory) -> Workspace:
    """A copy of the UI workspace with its embedded graph built (the Cypher page reads it)."""
    root = tmp_path_factory.mktemp("graph_ws") / "ws"
    shutil.copytree(ui_workspace.root, root)
    workspace = Workspace(root)
    build_embedded_graph(workspace, "20250101T000000Z-load-000000")
    return workspace


@pytest.fixture
def app_for(tmp_path):
    """create_app over a private copy of a workspace, so decisions and exports do not leak between tests."""

    def make(workspace: Workspace):
        root = tmp_path / "ws"
        shutil.copytree(workspace.root, root)
        return create_app(root), Workspace(root)

    return make


def _callback(output: str, inputs: list[dict], state: list[dict] = ()) -> dict:
    """The JSON body dash-renderer posts to /_dash-update-component."""
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in output.strip(".").split("...")]  # fmt: skip
    return {"output": output, "outputs": outputs if output.startswith("..") else outputs[0], "inputs": inputs,
            "state": list(state), "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def _run_query_body(name: str, params: dict) -> dict:
    from graph.catalog import get_query

    fields = [{"id": {"type": ids.CYPHER_PARAM, "name": key}, "property": "value", "value": value}
              for key, value in params.items()]  # fmt: skip
    return _callback(CYPHER_RUN_OUTPUT, [{"id": ids.CYPHER_RUN, "property": "n_clicks", "value": 1}], [
        {"id": ids.CYPHER_QUERY_PICKER, "property": "value", "value": name},
        {"id": ids.CYPHER_EDITOR, "property": "value", "value": get_query(name).cypher},
        fields,
        [{"id": field["id"], "property": "id", "value": field["id"]} for field in fields],
    ])  # fmt: skip


def _clicks(clicked: str, *buttons: str) -> list[dict]:
    """Every button input of a callback, the clicked one first-clicked, as the renderer sends them."""
    inputs = [{"id": b, "property": "n_clicks", "value": 1 if b == clicked else None} for b in buttons]
    return sorted(inputs, key=lambda i: i["id"] != clicked)


def _review_body(action_button: str) -> dict:
    buttons = _clicks(action_button, ids.REVIEW_ACCEPT, ids.REVIEW_REJECT, ids.REVIEW_CHOOSE)
    body = _callback(REVIEW_OUTPUT, buttons, [
        {"id": ids.REVIEW_KEY, "property": "data", "value": {"applicant_id": HOLDING[0], "firm_id": FIRMS[0][0]}},
        {"id": ids.REVIEW_FIRM_SEARCH, "property": "value", "value": None},
        {"id": ids.REVIEW_NOTE, "property": "value", "value": "holding files for its chip subsidiary"},
    ])  # fmt: skip
    body["inputs"] = [next(b for b in buttons if b["id"] == i) for i in (ids.REVIEW_ACCEPT, ids.REVIEW_REJECT,
                                                                        ids.REVIEW_CHOOSE)]
    return body


def _export_body(button: str) -> dict:
    buttons = _clicks(button, ids.NODE_EXPORT_BUTTON, ids.NODE_EXPORT_XLSX_BUTTON)
    body = _callback(EXPORT_OUTPUT, buttons,
                     [{"id": ids.NODE_KEY, "property": "data", "value": {"chain_id": "ai", "node_id": "up.chips"}}])
    body["inputs"] = [next(b for b in buttons if b["id"] == i) for i in (ids.NODE_EXPORT_BUTTON,
                                                                        ids.NODE_EXPORT_XLSX_BUTTON)]
    return body


# ---------------------------------------------------------------- users file


def test_users_file_stores_roles_and_hashes_never_passwords(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "wang.li", "marketer", "correct horse battery")
    auth.add_user(path, "zhao", "risk", "another long one")
    text = path.read_text()
    assert "correct horse battery" not in text and "scrypt:" in text
    assert auth.list_users(path) == [auth.User("wang.li", "marketer"), auth.User("zhao", "risk")]
    assert auth.authenticate(path, "wang.li", "correct horse battery") == auth.User("wang.li", "marketer")
    assert auth.authenticate(path, "wang.li", "wrong password!") is None
    assert auth.authenticate(path, "nobody", "correct horse battery") is None
    auth.add_user(path, "wang.li", "admin", "a new password")  # replaces role and password
    assert auth.authenticate(path, "wang.li", "a new password") == auth.User("wang.li", "admin")
    assert path.stat().st_mode & 0o077 == 0  # hashes readable by the owner only


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("ok", "boss", "long enough", "role 'boss' is not one of analyst, marketer, risk, admin"),
    ("ok", "analyst", "short", "too short"),
    ("bad name", "analyst", "long enough", "user name 'bad name'"),
])  # fmt: skip
def test_bad_users_are_refused_with_the_reason(tmp_path, name, role, password, message):
    with pytest.raises(ValueError, match=message):
        auth.add_user(tmp_path / "users.toml", name, role, password)


def test_demo_users_get_random_passwords_and_an_existing_file_is_never_overwritten(tmp_path):
    first = auth.create_demo_users(tmp_path / "a.toml")
    second = auth.create_demo_users(tmp_path / "b.toml")
    assert set(first) == set(auth.ROLES) and first != second
    assert all(len(password) >= 12 for password in first.values())
    assert auth.authenticate(tmp_path / "a.toml", "risk", first["risk"]) == auth.User("risk", "risk")
    with pytest.raises(FileExistsError):
        auth.create_demo_users(tmp_path / "a.toml")


def test_a_users_file_with_an_unknown_role_names_the_user(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text('[users.li]\nrole = "superuser"\npassword_hash = "x"\n')
    with pytest.raises(ValueError, match=r"\[users.li\] needs role"):
        auth.authenticate(path, "li", "whatever1")


# ---------------------------------------------------------------- login and session


def test_anonymous_visitors_get_the_login_page_and_dash_endpoints_refuse_them(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    for path in ("/", "/node/ai/up.chips", "/cypher", "/review"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    assert client.post("/_dash-update-component", json=_run_query_body("chain_overview", {"chain_id": "ai"}),
                       headers={"Origin": "http://localhost"}).status_code == 401
    login = client.get("/login").get_data(as_text=True)
    assert 'id="login-username"' in login and 'type="password"' in login
    assert client.get("/assets/patentgraph.css").status_code == 200  # the login page's own stylesheet


def test_session_cookie_is_httponly_and_samesite_and_login_goes_where_asked(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    token = client.get("/login") and client.get_cookie("_csrf_token").value
    response = client.post("/login", data={"csrf_token": token, "username": "analyst", "password": PASSWORDS["analyst"],
                                           "next": "/map"}, headers={"Origin": "http://localhost"})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/map"
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    session = cookies["patentgraph_session"]
    assert "HttpOnly" in session and "SameSite=Lax" in session
    assert "SameSite=Strict" in cookies["_csrf_token"]  # the renderer must read it: not HttpOnly, but Strict


def test_login_never_redirects_off_site_and_refuses_a_forged_form(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    client.get("/login")
    token = client.get_cookie("_csrf_token").value
    form = {"csrf_token": token, "username": "analyst", "password": PASSWORDS["analyst"]}
    assert client.post("/login", data=form | {"csrf_token": "forged"},
                       headers={"Origin": "http://localhost"}).status_code == 403
    assert client.post("/login", data=form, headers={"Origin": "http://evil.example"}).status_code == 403
    response = client.post("/login", data=form | {"next": "//evil.example/x"}, headers={"Origin": "http://localhost"})
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_and_no_password_reaches_pages_or_logs(ui_workspace, caplog):
    caplog.set_level(logging.DEBUG)
    client = create_app(ui_workspace.root).server.test_client()
    client.get("/login")
    token = client.get_cookie("_csrf_token").value
    wrong = "not-the-" + PASSWORDS["risk"]
    refused = client.post("/login", data={"csrf_token": token, "username": "risk", "password": wrong},
                          headers={"Origin": "http://localhost"})
    assert refused.status_code == 401 and "Wrong user name or password" in refused.get_data(as_text=True)
    login_client(client, "risk")
    pages = [refused.get_data(as_text=True)] + [client.get(p).get_data(as_text=True)
                                                for p in ("/", "/cypher", "/_dash-layout", "/login")]
    logs = caplog.text
    assert "failed login for user 'risk'" in logs and "user risk (risk) logged in" in logs
    for secret in (wrong, *PASSWORDS.values()):
        assert all(secret not in page for page in pages) and secret not in logs
    assert all("scrypt:" not in page for page in pages)


def test_removing_a_user_ends_their_session(ui_workspace, tmp_path):
    users = tmp_path / "users.toml"
    auth.add_user(users, "analyst", "analyst", PASSWORDS["analyst"])
    client = create_app(ui_workspace.root, users_file=users).server.test_client()
    login_client(client, "analyst")
    assert client.get("/_dash-layout").status_code == 200
    auth.add_user(users, "other", "analyst", "someone else's")
    users.write_text(users.read_text().replace("[users.\"analyst\"]", "[users.\"gone\"]"))
    assert client.get("/_dash-layout").status_code == 401


def test_logout_clears_the_session(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    token = login_client(client, "analyst")
    assert client.post("/logout", data={"csrf_token": token}, headers={"Origin": "http://localhost"}).status_code == 302
    assert client.get("/_dash-layout").status_code == 401


# ---------------------------------------------------------------- roles on pages and callbacks


def test_marketer_can_neither_open_the_cypher_page_nor_call_its_callback(graph_workspace, app_for):
    app, _ = app_for(graph_workspace)
    client = app.server.test_client()
    token = login_client(client, "marketer")
    assert "Cypher" not in json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)  # no nav link
    body = _run_query_body("chain_overview", {"chain_id": "ai"})
    response = client.post("/_dash-update-component", json=body, headers=callback_headers(token))
    assert response.status_code == 403 and "risk team" in response.get_data(as_text=True)
    with app.server.test_request_context("/cypher"):
        from flask import session

        session["user"] = "marketer"
        from dash_app.pages import cypher

        assert "Not allowed" in json.dumps(cypher.layout().to_plotly_json(), default=str)


def test_risk_picks_a_saved_query_and_gets_its_text_and_parameter_fields(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    token = login_client(client, "risk")
    body = _callback(PICK_OUTPUT, [{"id": ids.CYPHER_QUERY_PICKER, "property": "value", "value": "node_firms_ranked"}])
    response = client.post("/_dash-update-component", json=body, headers=callback_headers(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()["response"]
    assert "$node_key" in out["cypher-editor"]["value"]
    fields = json.dumps(out["cypher-params"]["children"], ensure_ascii=False)
    assert '"name": "node_key"' in fields and '"name": "limit"' in fields and '"type": "number"' in fields


def test_risk_runs_a_catalog_query_and_gets_rows_and_a_graph(graph_workspace, app_for):
    app, _ = app_for(graph_workspace)
    client = app.server.test_client()
    token = login_client(client, "risk")
    response = client.post("/_dash-update-component", json=_run_query_body("chain_node_tree", {"chain_id": "ai"}),
                           headers=callback_headers(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()["response"]
    headers = [c["headerName"] for c in out["cypher-grid"]["columnDefs"]]
    assert headers[:3] == ["segment", "level", "node_key"]
    keys = {row[f"c{headers.index('node_key')}"] for row in out["cypher-grid"]["rowData"]}
    assert {"ai/up", "ai/up.chips", "ai/down.auto"} <= keys and len(keys) == 9
    edges = {(e["data"]["source"], e["data"]["target"]) for e in out["cypher-graph"]["elements"] if "source" in e["data"]}
    assert ("ai/up.chips.gpu", "ai/up.chips") in edges  # node_key → parent_key


def test_risk_query_that_writes_is_refused_with_the_clause(graph_workspace, app_for):
    app, _ = app_for(graph_workspace)
    client = app.server.test_client()
    token = login_client(client, "risk")
    body = _run_query_body("chain_overview", {"chain_id": "ai"})
    body["state"][0]["value"] = "__custom__"
    body["state"][1]["value"] = "MATCH (f:Firm) DETACH DELETE f"
    body["state"][2] = [{"id": {"type": ids.CYPHER_PARAM, "name": "json"}, "property": "value", "value": "{}"}]
    body["state"][3] = [{"id": body["state"][2][0]["id"], "property": "id", "value": body["state"][2][0]["id"]}]
    out = client.post("/_dash-update-component", json=body, headers=callback_headers(token)).get_json()["response"]
    assert "refused: DETACH" in json.dumps(out["cypher-status"], ensure_ascii=False)


def test_risk_queries_stop_at_the_row_cap_and_time_limit_of_the_settings_like_the_cli(graph_workspace):
    from graph.config import Settings

    client = create_app(graph_workspace.root, settings=Settings(row_cap=4, query_timeout_s=0.3)).server.test_client()
    headers = callback_headers(login_client(client, "risk"))
    response = client.post("/_dash-update-component", json=_run_query_body("chain_node_tree", {"chain_id": "ai"}),
                           headers=headers)  # 9 nodes in the chain
    out = response.get_json()["response"]
    assert len(out["cypher-grid"]["rowData"]) == 4
    assert "stopped at the row cap of 4" in json.dumps(out["cypher-status"], ensure_ascii=False)
    body = _run_query_body("chain_overview", {"chain_id": "ai"})
    body["state"][0]["value"] = "__custom__"
    body["state"][1]["value"] = ("UNWIND range(1, 30000) AS a UNWIND range(1, 30000) AS b "
                                 "WITH a, b WHERE (a * b) % 7 = 3 RETURN count(*)")
    body["state"][2] = [{"id": {"type": ids.CYPHER_PARAM, "name": "json"}, "property": "value", "value": "{}"}]
    body["state"][3] = [{"id": body["state"][2][0]["id"], "property": "id", "value": body["state"][2][0]["id"]}]
    out = client.post("/_dash-update-component", json=body, headers=headers).get_json()["response"]
    assert "time limit" in json.dumps(out["cypher-status"], ensure_ascii=False) and out["cypher-grid"]["rowData"] == []


def test_analyst_cannot_record_review_decisions(ui_workspace, app_for):
    app, workspace = app_for(ui_workspace)
    client = app.server.test_client()
    token = login_client(client, "analyst")
    response = client.post("/_dash-update-component", json=_review_body(ids.REVIEW_ACCEPT), headers=callback_headers(token))
    assert response.status_code == 403 and "admins" in response.get_data(as_text=True)
    assert not workspace.decisions_path.exists()


def test_admin_decision_goes_to_the_cli_decisions_file_with_the_reviewer(ui_workspace, app_for):
    app, workspace = app_for(ui_workspace)
    client = app.server.test_client()
    token = login_client(client, "admin")
    response = client.post("/_dash-update-component", json=_review_body(ids.REVIEW_ACCEPT), headers=callback_headers(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["response"]["review-count"]["children"] == "1 decisions in review/decisions.csv"
    lines = workspace.decisions_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "applicant_id,action,firm_id,reviewer,decided_at,note"
    assert lines[1].startswith(f"{HOLDING[0]},accept,{FIRMS[0][0]},admin,")
    assert lines[1].endswith(",holding files for its chip subsidiary")


def test_admin_chooses_another_firm_only_after_picking_one(ui_workspace, app_for):
    app, workspace = app_for(ui_workspace)
    client = app.server.test_client()
    headers = callback_headers(login_client(client, "admin"))
    body = _review_body(ids.REVIEW_CHOOSE)
    out = client.post("/_dash-update-component", json=body, headers=headers).get_json()["response"]
    assert "pick a firm first" in json.dumps(out, ensure_ascii=False) and not workspace.decisions_path.exists()
    body["state"][1]["value"] = FIRMS[3][0]  # picked in the firm search
    response = client.post("/_dash-update-component", json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    lines = workspace.decisions_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{HOLDING[0]},choose,{FIRMS[3][0]},admin,")


def test_callbacks_without_the_session_token_or_from_another_site_are_refused(ui_workspace, app_for):
    app, workspace = app_for(ui_workspace)
    client = app.server.test_client()
    token = login_client(client, "admin")
    body = _review_body(ids.REVIEW_REJECT)
    assert client.post("/_dash-update-component", json=body, headers={"Origin": "http://localhost"}).status_code == 403
    assert client.post("/_dash-update-component", json=body,
                       headers={"Origin": "http://localhost", "X-CSRFToken": "guess"}).status_code == 403
    assert client.post("/_dash-update-component", json=body,
                       headers={"Origin": "http://evil.example", "X-CSRFToken": token}).status_code == 403
    assert not workspace.decisions_path.exists()


def test_only_roles_that_export_get_the_file_and_it_is_streamed_from_its_own_route(ui_workspace, app_for):
    app, _ = app_for(ui_workspace)
    analyst, marketer = app.server.test_client(), app.server.test_client()
    assert analyst.post("/_dash-update-component", json=_export_body(ids.NODE_EXPORT_BUTTON),
                        headers=callback_headers(login_client(analyst, "analyst"))).status_code == 403
    response = marketer.post("/_dash-update-component", json=_export_body(ids.NODE_EXPORT_XLSX_BUTTON),
                             headers=callback_headers(login_client(marketer, "marketer")))
    url = response.get_json()["response"]["node-export-download"]["data"]
    assert url.startswith("/download/exports/targets_ai_up.chips.xlsx?")  # a link, not the file inside the JSON
    download = marketer.get(url)
    assert download.status_code == 200 and download.is_streamed
    assert download.headers["Content-Disposition"] == "attachment; filename=targets_ai_up.chips.xlsx"
    sheet = load_workbook(io.BytesIO(download.get_data()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 7 and FIRMS[0][1] in rows[1]
    # the route checks the role itself, and serves only export files
    assert analyst.get(url).status_code == 403
    assert app.server.test_client().get(url).status_code == 302  # anonymous: to the login page
    assert marketer.get("/download/exports/users.toml").status_code == 404
    assert "password_hash" not in marketer.get("/download/exports/..%2Fusers.toml").get_data(as_text=True)
    assert marketer.get("/download/exports/targets_ai_nowhere.csv").status_code == 404


def test_page_layouts_refuse_roles_without_the_permission(ui_workspace):
    from flask import session

    from dash_app.pages import cypher, node, review

    app = create_app(ui_workspace.root)

    def text(role: str, render) -> str:
        with app.server.test_request_context("/"):
            session["user"] = role
            return json.dumps(render().to_plotly_json(), default=str, ensure_ascii=False)

    assert "Not allowed" in text("analyst", review.layout) and "Not allowed" not in text("admin", review.layout)
    assert "Not allowed" in text("marketer", cypher.layout) and "Not allowed" in text("analyst", cypher.layout)
    assert "Not allowed" not in text("risk", cypher.layout)
    node_page = lambda: node.layout(chain_id="ai", node_id="up.chips")  # noqa: E731
    assert ids.NODE_EXPORT_BUTTON not in text("analyst", node_page)
    assert ids.NODE_EXPORT_XLSX_BUTTON in text("marketer", node_page)


PAGES = {"/": "browse", "/map": "browse", "/runs": "browse", "/node/ai/up.chips": "browse",
         f"/firm/{FIRMS[0][0]}": "browse", "/cypher": "cypher", "/review": "review"}  # path → permission to use it


def _page_body(path: str) -> dict:
    """What dash-renderer posts when Dash Pages routes to `path`."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}  # fmt: skip


def _grid_body() -> dict:
    request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    state = [{"id": ids.NODE_KEY, "property": "data", "value": {"chain_id": "ai", "node_id": "up.chips"}}] + [
        {"id": component, "property": "value", "value": None} for component in (
            ids.NODE_FILTER_REGION, ids.NODE_FILTER_TIER, ids.NODE_FILTER_SIZE, ids.NODE_FILTER_SCORE,
            ids.NODE_FILTER_CONFIDENCE, ids.NODE_FILTER_NAME)]  # fmt: skip
    return _callback("..node-firms-grid.getRowsResponse...node-firms-count.children..",
                     [{"id": ids.NODE_FIRMS_GRID, "property": "getRowsRequest", "value": request}], state)


def _firm_search_body() -> dict:
    return _callback(f"{ids.REVIEW_FIRM_SEARCH}.options",
                     [{"id": ids.REVIEW_FIRM_SEARCH, "property": "search_value", "value": "深圳"}],
                     [{"id": ids.REVIEW_FIRM_SEARCH, "property": "value", "value": None}])


@pytest.mark.parametrize("role", auth.ROLES)
def test_each_role_gets_exactly_its_pages_callbacks_and_exports(role, graph_workspace, app_for):
    app, workspace = app_for(graph_workspace)
    client = app.server.test_client()
    headers = callback_headers(login_client(client, role))
    permissions = auth.PERMISSIONS[role]
    for path, permission in PAGES.items():
        assert client.get(path).status_code == 200, path
        response = client.post("/_dash-update-component", json=_page_body(path), headers=headers)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        page = json.dumps(response.get_json(), ensure_ascii=False)
        assert ("Not allowed" in page) == (permission not in permissions), path
        assert (ids.NODE_EXPORT_BUTTON in page) == (path.startswith("/node/") and "export" in permissions), path

    callbacks = {
        "browse": [_grid_body()],
        "export": [_export_body(ids.NODE_EXPORT_BUTTON)],
        "cypher": [_callback(PICK_OUTPUT, [{"id": ids.CYPHER_QUERY_PICKER, "property": "value",
                                            "value": "node_firms_ranked"}]),
                   _run_query_body("chain_node_tree", {"chain_id": "ai"})],
        "review": [_firm_search_body(), _review_body(ids.REVIEW_ACCEPT)],
    }  # fmt: skip
    for permission, bodies in callbacks.items():
        for body in bodies:
            response = client.post("/_dash-update-component", json=body, headers=headers)
            expected = 200 if permission in permissions else 403
            assert response.status_code == expected, (body["output"], response.get_data(as_text=True)[:300])
            if permission not in permissions:  # naming harmless outputs does not get the callback run either
                disguised = {**body, "outputs": [{"id": "chain-header", "property": "children"}] * len(
                    body["outputs"] if isinstance(body["outputs"], list) else [body["outputs"]])}
                assert client.post("/_dash-update-component", json=disguised, headers=headers).status_code == 403
    # only the roles allowed to were able to leave a decision or an export behind, or download one
    assert workspace.decisions_path.exists() == ("review" in permissions)
    export = workspace.exports_dir / "targets_ai_up.chips.csv"
    assert export.exists() == ("export" in permissions)
    export.parent.mkdir(exist_ok=True)
    export.touch()
    assert client.get(f"/download/exports/{export.name}").status_code == (200 if "export" in permissions else 403)


def test_password_guessing_is_stopped_for_that_user_while_others_still_log_in(ui_workspace):
    app = create_app(ui_workspace.root)
    throttle = app.server.extensions["patentgraph_login_throttle"]
    now = [1000.0]
    throttle.clock = lambda: now[0]
    client = app.server.test_client()
    client.get("/login")
    token = client.get_cookie("_csrf_token").value

    def attempt(name: str, password: str):
        return client.post("/login", data={"csrf_token": token, "username": name, "password": password},
                           headers={"Origin": "http://localhost"})

    assert [attempt("risk", f"guess-{n}").status_code for n in range(throttle.limit)] == [401] * throttle.limit
    blocked = attempt("risk", PASSWORDS["risk"])  # even the right password, while the brake holds
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed logins" in blocked.get_data(as_text=True)
    assert attempt("RISK", PASSWORDS["risk"]).status_code == 429  # names are not case-dodged
    login_client(app.server.test_client(), "analyst")  # another user from the same address is not locked out
    now[0] += throttle.window + 1
    assert attempt("risk", PASSWORDS["risk"]).status_code == 302
