"""Who may use the explorer, and what for: users and roles in a TOML file, login, and server-side checks.

The users file (`PATENTGRAPH_USERS`, else `<workspace>/users.toml`) holds one table per user::

    [users.wang]
    role = "marketer"
    password_hash = "scrypt:32768:8:1$…"   # werkzeug.security, never the password

Every request goes through `_guard`: anonymous visitors see the login page; Dash's JSON
endpoints answer 401; every POST must come from this site (Origin/Referer host) and carry the
session's CSRF token (Dash's renderer sends the `_csrf_token` cookie back as `X-CSRFToken`);
callbacks whose outputs are protected (see `protect`) are refused with 403 unless the
session's role has the permission. The role is read from the users file on every request,
so a changed or removed user loses access at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import html
import json
import logging
import os
import re
import secrets
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import flask
from dash.exceptions import PreventUpdate
from werkzeug.security import check_password_hash, generate_password_hash

log = logging.getLogger(__name__)

ROLES = ("analyst", "marketer", "risk", "admin")
PERMISSIONS = {
    "analyst": frozenset({"browse"}),
    "marketer": frozenset({"browse", "export"}),
    "risk": frozenset({"browse", "cypher"}),
    "admin": frozenset({"browse", "export", "cypher", "review"}),
}
PERMISSION_LABELS = {"browse": "analysts", "export": "marketers", "cypher": "the risk team", "review": "admins"}
USERS_ENV = "PATENTGRAPH_USERS"
SECRET_ENV = "PATENTGRAPH_SECRET_KEY"
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads and echoes as the X-CSRFToken header
CSRF_HEADER = "X-CSRFToken"
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_USERS_FILE_KEY = "PATENTGRAPH_USERS_FILE"
_PROTECTED_KEY = "PATENTGRAPH_PROTECTED_OUTPUTS"
# Compared against when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))
_PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
_PUBLIC_PATHS = ("/login", "/_favicon.ico", "/favicon.ico")
_THROTTLE_KEY = "patentgraph_login_throttle"


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def permissions(self) -> frozenset[str]:
        return PERMISSIONS[self.role]


def users_path(workspace_root: Path) -> Path:
    """The users file: $PATENTGRAPH_USERS, else users.toml in the workspace."""
    configured = os.environ.get(USERS_ENV)
    return Path(configured) if configured else Path(workspace_root) / "users.toml"


# ---------------------------------------------------------------- the users file

_cache: dict[str, tuple[tuple[int, int], dict[str, dict]]] = {}
_cache_lock = threading.Lock()


def _read_users(path: Path) -> dict[str, dict]:
    """name → {role, password_hash}; reread when the file changes. Missing file: no users."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        hit = _cache.get(str(path))
        if hit and hit[0] == stamp:
            return hit[1]
    with open(path, "rb") as handle:
        try:
            parsed = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
    users = parsed.get("users", {})
    for name, entry in users.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES or not entry.get("password_hash"):
            raise ValueError(f"{path}: [users.{name}] needs role (one of {', '.join(ROLES)}) and password_hash")
    with _cache_lock:
        _cache[str(path)] = (stamp, users)
    return users


def list_users(path: Path) -> list[User]:
    return [User(name, entry["role"]) for name, entry in sorted(_read_users(path).items())]


def add_user(path: Path, name: str, role: str, password: str) -> None:
    """Add `name` with `role` (or replace their role and password) in the users file."""
    if not _NAME.match(name):
        raise ValueError(f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password for {name!r} is too short: at least {MIN_PASSWORD_LENGTH} characters")
    users = dict(_read_users(path))
    users[name] = {"role": role, "password_hash": generate_password_hash(password)}
    _write_users(path, users)


def _write_users(path: Path, users: dict[str, dict]) -> None:
    lines = ["# patentgraph explorer users: role and password hash (werkzeug scrypt), never a password.",
             "# Add or change one with `patentgraph user add NAME --role ROLE`.", ""]
    for name, entry in sorted(users.items()):
        lines += [f"[users.{json.dumps(name)}]", f'role = "{entry["role"]}"', f'password_hash = "{entry["password_hash"]}"', ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # hashes are still worth protecting
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.replace(tmp, path)


def create_demo_users(path: Path) -> dict[str, str]:
    """A users file with one account per role (named after it) and random passwords; returns name → password.

    Only for a workspace without users: refuses to touch an existing file. Show the passwords
    to the person starting the demo once; they are stored only as hashes.
    """
    if path.exists():
        raise FileExistsError(f"{path}: users file already exists; add users with `patentgraph user add`")
    passwords = {role: secrets.token_urlsafe(12) for role in ROLES}
    _write_users(path, {role: {"role": role, "password_hash": generate_password_hash(password)}
                        for role, password in passwords.items()})
    return passwords


def authenticate(path: Path, name: str, password: str) -> User | None:
    entry = _read_users(path).get(name)
    if entry is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return User(name, entry["role"]) if check_password_hash(entry["password_hash"], password) else None


# ---------------------------------------------------------------- the current session


def current_user() -> User | None:
    """The logged-in user of this request, with the role the users file gives them now."""
    if not flask.has_request_context():
        return None
    name = flask.session.get("user")
    if not name:
        return None
    entry = _read_users(Path(flask.current_app.config[_USERS_FILE_KEY])).get(name)
    return User(name, entry["role"]) if entry else None


def allowed(permission: str) -> bool:
    user = current_user()
    return user is not None and permission in user.permissions


def requires(permission: str):
    """Callback decorator: do nothing unless this session's role has `permission` (the guard also refuses)."""

    def wrap(callback):
        @functools.wraps(callback)
        def checked(*args, **kwargs):
            if not allowed(permission):
                raise PreventUpdate
            return callback(*args, **kwargs)

        return checked

    return wrap


def protect(server: flask.Flask, permission: str, *component_ids: str) -> None:
    """Refuse (403) any callback writing to these components unless the session has `permission`."""
    server.config.setdefault(_PROTECTED_KEY, {}).update(dict.fromkeys(component_ids, permission))


def csrf_token() -> str:
    return flask.session.get("csrf", "")


class LoginThrottle:
    """Slows password guessing: after `limit` failed logins for one user name from one address within
    `window` seconds, further attempts for that pair are refused until the oldest failure ages out.
    Kept in memory per server process: a restart forgets it, which is acceptable for a brake on guessing."""

    def __init__(self, limit: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, name: str, address: str) -> int:
        """Seconds until this pair may try again; 0 when it may try now."""
        with self._lock:
            recent = self._recent((name.lower(), address))
            return 0 if len(recent) < self.limit else max(1, int(recent[0] + self.window - self.clock()) + 1)

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            self._recent((name.lower(), address)).append(self.clock())

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= self.clock() - self.window:
            recent.popleft()
        return recent


# ---------------------------------------------------------------- wiring into Flask


def install(server: flask.Flask, users_file: Path) -> None:
    """Session cookie settings, the request guard, /login and /logout on `server`."""
    server.config[_USERS_FILE_KEY] = str(users_file)
    server.secret_key = os.environ.get(SECRET_ENV) or secrets.token_hex(32)  # per process: never printed
    server.config.update(
        SESSION_COOKIE_NAME="patentgraph_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("PATENTGRAPH_COOKIE_SECURE") == "1",  # set when behind TLS
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
    )
    server.extensions[_THROTTLE_KEY] = LoginThrottle()
    server.before_request(_guard)
    server.after_request(_set_csrf_cookie)
    server.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", _logout, methods=["POST"])


def _guard():
    request = flask.request
    path = request.path
    if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
        return None
    user = current_user()
    if user is None:
        if path.startswith("/_") or request.method != "GET":
            return _refuse(401, "login required")
        return flask.redirect(f"/login?next={quote(request.full_path.rstrip('?'), safe='/?=&')}")
    if request.method != "GET":
        if not _same_origin(request):
            return _refuse(403, "cross-site request refused")
        sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, csrf_token()):
            return _refuse(403, "missing or wrong CSRF token; reload the page")
    if path == "/_dash-update-component":
        needed = _permission_for(request.get_json(silent=True) or {})
        if needed and needed not in user.permissions:
            log.warning("refused %s: user %s (%s) lacks %r", path, user.name, user.role, needed)
            return _refuse(403, f"only {PERMISSION_LABELS[needed]} may do this")
    return None


def _permission_for(body: dict) -> str | None:
    """The permission a callback request needs: that of its first protected output, else none beyond login.

    Dash picks the callback to run by the `output` string and only then checks `outputs` against
    it, so both are read: a request cannot name a harmless `outputs` list to run a protected callback.
    """
    protected = flask.current_app.config.get(_PROTECTED_KEY, {})
    outputs = body.get("outputs") or []
    components = [o.get("id") for o in (outputs if isinstance(outputs, list) else [outputs]) if isinstance(o, dict)]
    output = body.get("output")
    if isinstance(output, str):  # "id.prop" or "..id.prop...id.prop.."; pattern ids are JSON
        components += [_parse_id(part.rsplit(".", 1)[0]) for part in output.strip(".").split("...")]
    for component in components:
        key = component.get("type") if isinstance(component, dict) else component
        if isinstance(key, str) and key in protected:
            return protected[key]
    return None


def _parse_id(text: str) -> str | dict:
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _same_origin(request: flask.Request) -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlsplit(source).netloc == request.host


def _refuse(status: int, message: str) -> flask.Response:
    return flask.Response(message, status=status, mimetype="text/plain")


def _set_csrf_cookie(response: flask.Response) -> flask.Response:
    token = flask.session.get("csrf") if flask.has_request_context() else None
    if token and flask.request.cookies.get(CSRF_COOKIE) != token:
        # Readable by the page's script on purpose (double submit); Strict keeps it off other sites' requests.
        response.set_cookie(CSRF_COOKIE, token, samesite="Strict", httponly=False,
                            secure=flask.current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _login():
    request = flask.request
    target = _local_target(request.values.get("next", "/"))
    if request.method == "GET":
        flask.session.setdefault("csrf", secrets.token_urlsafe(32))
        return _login_page(target, "")
    if not _same_origin(request) or not hmac.compare_digest(request.form.get("csrf_token", ""), csrf_token()):
        return _refuse(403, "login form expired or posted from another site; reload the page")
    name = request.form.get("username", "").strip()
    throttle: LoginThrottle = flask.current_app.extensions[_THROTTLE_KEY]
    address = request.remote_addr or "?"
    wait = throttle.retry_after(name, address)
    if wait:
        log.warning("login for user %r from %s refused: too many failed attempts", name, address)
        message = f"登录失败次数过多，请 {wait // 60 + 1} 分钟后再试 Too many failed logins; try again in {wait} s."
        return _login_page(target, message, name), 429, {"Retry-After": str(wait)}
    user = authenticate(Path(flask.current_app.config[_USERS_FILE_KEY]), name, request.form.get("password", ""))
    if user is None:
        throttle.failed(name, address)
        log.warning("failed login for user %r from %s", name, address)
        return _login_page(target, "用户名或密码错误 Wrong user name or password.", name), 401
    throttle.succeeded(name, address)
    flask.session.clear()  # a fresh session (and token) at login: no fixation
    flask.session.update(user=user.name, csrf=secrets.token_urlsafe(32))
    flask.session.permanent = True
    log.info("user %s (%s) logged in", user.name, user.role)
    return flask.redirect(target)


def _logout():
    flask.session.clear()
    response = flask.redirect("/login")
    response.delete_cookie(CSRF_COOKIE)
    return response


def _local_target(target: str) -> str:
    """Only paths on this site: never an open redirect to another host."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(target: str, error: str, name: str = "") -> str:
    error_html = f'<div class="alert alert-danger" role="alert">{html.escape(error)}</div>' if error else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>登录 Log in · patentgraph</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/patentgraph.css"></head>
<body class="login-body"><main class="login-card">
<div class="login-brand"><span class="brand-name">patentgraph</span><span class="brand-sub">专利图谱 · 科技企业发现</span></div>
<h2>登录 Log in</h2>{error_html}
<form method="post" action="/login" id="login-form" autocomplete="off">
<input type="hidden" name="csrf_token" value="{html.escape(csrf_token())}">
<input type="hidden" name="next" value="{html.escape(target)}">
<label class="form-label" for="login-username">用户名 User name</label>
<input class="form-control" id="login-username" name="username" value="{html.escape(name)}" required autofocus>
<label class="form-label" for="login-password">密码 Password</label>
<input class="form-control" id="login-password" name="password" type="password" required>
<button class="btn btn-primary login-button" id="login-button" type="submit">登录 Log in</button>
</form>
<p class="text-muted small">Accounts are in the users file; an administrator adds them with
<span class="mono">patentgraph user add</span>.</p>
</main></body></html>"""
