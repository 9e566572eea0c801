"""The tensorboard function's HTTP surface: werkzeug routing, who the caller is, and what each route does.

====================================================  =====================================================
``GET /``                                             the page (no credentials needed to load it)
``POST /session`` · ``DELETE /session``               token login (sets the session cookie) · logout
``GET /tensorboards/<ns>``                            the namespace's workflows and instances
``PUT|GET|DELETE /tensorboards/<ns>/<workflow>``      start (idempotent) · state · stop
``* /tensorboards/<ns>/<workflow>/ui/...``            the instance itself, through the proxy
====================================================  =====================================================

Every route but the page checks the caller on every request: a bearer token, or the session
cookie (:mod:`~argoml.tensorboard.session`), then the right the route needs in that namespace
(:mod:`~argoml.tensorboard.access`). A request authenticated by the cookie that changes
something (any method but GET/HEAD/OPTIONS, the login too) must come from the page's own origin
(``Origin``, or ``Sec-Fetch-Site: same-origin``): with ``SameSite=Strict`` this shuts out
cross-site request forgery. Behind the ingress, a request that arrived over plain HTTP
(``X-Forwarded-Proto: http``) is redirected to HTTPS before anything else is looked at.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute
from werkzeug.routing import Map, Rule

from argoml import identity
from argoml.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Unauthenticated
from argoml.http import json_response
from argoml.identity import User
from argoml.tensorboard import access, instances
from argoml.tensorboard.access import CREATE_WORKFLOWS, DELETE_INSTANCE, READ_WORKFLOWS, AccessPolicy, Recent
from argoml.tensorboard.proxy import Proxy
from argoml.tensorboard.session import COOKIE, COOKIE_PATH, Sessions, SessionTooLarge

log = logging.getLogger("argoml.tensorboard.routes")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_LOGIN_BODY = 16 << 10
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")

ROUTES = Map([
    Rule("/", endpoint="page", methods=["GET"]),
    Rule("/session", endpoint="login", methods=["POST"]),
    Rule("/session", endpoint="logout", methods=["DELETE"]),
    Rule("/tensorboards/<namespace>", endpoint="listing", methods=["GET"]),
    Rule("/tensorboards/<namespace>/", endpoint="listing", methods=["GET"]),
    Rule("/tensorboards/<namespace>/<workflow>", endpoint="instance", methods=["GET", "PUT", "DELETE"]),
    Rule("/tensorboards/<namespace>/<workflow>/", endpoint="instance", methods=["GET", "PUT", "DELETE"]),
    Rule("/tensorboards/<namespace>/<workflow>/ui", endpoint="ui"),
    Rule("/tensorboards/<namespace>/<workflow>/ui/", endpoint="ui"),
    Rule("/tensorboards/<namespace>/<workflow>/ui/<path:rest>", endpoint="ui"),
], strict_slashes=False, merge_slashes=False)


@dataclass
class Server:
    """The function's configuration and its per-process state (the proxy's pool, remembered answers)."""

    settings: instances.Settings
    policy: AccessPolicy
    sessions: Sessions | None
    proxy: Proxy = field(default_factory=Proxy)
    https_redirect: bool = True
    _seen: Recent[instances.Instance] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # An instance found (and its last-accessed time recorded) stays found this long for the proxy.
        self._seen = Recent(30.0, size=1024)

    @classmethod
    def from_env(cls) -> Server:
        redirect = os.environ.get("TENSORBOARD_HTTPS_REDIRECT", "on").strip().lower()
        if redirect not in ("on", "off"):
            raise ValueError(f"TENSORBOARD_HTTPS_REDIRECT must be 'on' or 'off', not {redirect!r}")
        policy, sessions = AccessPolicy.from_env(), Sessions.from_env()
        if policy.enabled and sessions is None:
            log.warning("session login is off (no TENSORBOARD_SESSION_KEYS): the page asks for a token on each "
                        "visit and cannot open instances in the browser; callers send bearer tokens")
        return cls(instances.Settings.from_env(), policy, sessions, https_redirect=redirect == "on")

    def handle(self, request: flask.Request) -> flask.Response:
        if self.https_redirect and request.headers.get("X-Forwarded-Proto", "").lower() == "http":
            return _to_https(request)
        adapter = ROUTES.bind("", url_scheme="http")
        try:
            endpoint, args = adapter.match(request.path, method=request.method)
        except MethodNotAllowed as exc:
            response = json_response({"error": {"status": 405, "message": f"{request.method} is not allowed on "
                                                                          f"{request.path[:200]}"}}, 405)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except NoRoute:
            raise NotFound(f"no route for {request.method} {request.path[:200]}") from None
        action: Callable[..., flask.Response] = getattr(self, f"_{endpoint}")
        return action(request, **args)

    # --- routes ---------------------------------------------------------------------------------------

    def _page(self, request: flask.Request) -> flask.Response:
        return flask.Response(instances.page(), mimetype="text/html", headers=instances.PAGE_HEADERS)

    def _login(self, request: flask.Request) -> flask.Response:
        _same_origin_or_refuse(request)
        if not self.policy.enabled:
            return json_response({"user": None, "message": "authentication is off; no login needed"})
        if self.sessions is None:
            raise NotFound("session login is not enabled on this function (TENSORBOARD_SESSION_KEYS is not set); "
                           "send 'Authorization: Bearer <token>' with each request instead")
        token = _login_token(request)
        caller = identity.authenticate(f"Bearer {token}")
        try:
            value, expires = self.sessions.issue(caller)
        except SessionTooLarge as exc:
            raise InvalidInput(str(exc)) from None
        response = json_response({"user": caller.username, "expires": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))})
        response.set_cookie(COOKIE, value, max_age=self.sessions.seconds, path=COOKIE_PATH, secure=True,
                            httponly=True, samesite="Strict")
        return response

    def _logout(self, request: flask.Request) -> flask.Response:
        response = json_response({"user": None})
        response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="Strict")
        return response

    def _listing(self, request: flask.Request, namespace: str) -> flask.Response:
        self._check(request, instances.check_namespace(namespace), READ_WORKFLOWS)
        return json_response(instances.listing(namespace, self.settings))

    def _instance(self, request: flask.Request, namespace: str, workflow: str) -> flask.Response:
        instances.check_namespace(namespace)
        instances.check_workflow_name(workflow)
        if request.method == "DELETE":
            self._check(request, namespace, DELETE_INSTANCE[self.settings.mode], CREATE_WORKFLOWS)
            return json_response(instances.delete(namespace, workflow, self.settings))
        self._check(request, namespace, READ_WORKFLOWS)
        if request.method == "PUT":
            return json_response(instances.ensure(namespace, workflow, self.settings).to_json())
        return json_response(instances.get(namespace, workflow, self.settings).to_json())

    def _ui(self, request: flask.Request, namespace: str, workflow: str, rest: str = "") -> flask.Response:
        instances.check_namespace(namespace)
        instances.check_workflow_name(workflow)
        self._check(request, namespace, READ_WORKFLOWS)
        prefix = instances.proxy_path(namespace, workflow).rstrip("/")
        if request.path == prefix:  # what TensorBoard itself would answer, without the round trip
            return _redirect(prefix + "/")
        self._seen.get((namespace, workflow), lambda: instances.get(namespace, workflow, self.settings))
        return self.proxy.forward(request, instances.upstream_url(namespace, workflow, self.settings), prefix)

    # --- who is calling -------------------------------------------------------------------------------

    def _check(self, request: flask.Request, namespace: str, *anyof: access.Permission) -> User | None:
        caller = self._caller(request)
        self.policy.authorize(caller, namespace, *anyof)
        return caller

    def _caller(self, request: flask.Request) -> User | None:
        if not self.policy.enabled:
            return None
        if request.headers.get("Authorization") is not None:
            return self.policy.authenticate(request.headers.get("Authorization"))
        cookie = request.cookies.get(COOKIE)
        if cookie is None or self.sessions is None:
            raise Unauthenticated("log in on the page, or send a Kubernetes bearer token: "
                                  "'Authorization: Bearer <token>'")
        caller = self.sessions.read(cookie)
        if caller is None:
            raise Unauthenticated("the session has expired or is not valid; log in again")
        if request.method not in SAFE_METHODS:
            _same_origin_or_refuse(request)
        return caller


def _same_origin_or_refuse(request: flask.Request) -> None:
    """Refuse a state-changing request that a browser says comes from another site (or does not say)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        if _netloc(origin) == request.host:
            return
    elif request.headers.get("Sec-Fetch-Site") == "same-origin":
        return
    raise Forbidden("this request must come from the TensorBoard page itself (Origin or Sec-Fetch-Site say "
                    "otherwise); it is refused to protect the session from cross-site requests")


def _netloc(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).netloc
    except ValueError:
        return ""


def _login_token(request: flask.Request) -> str:
    if request.mimetype != "application/json":
        raise InvalidInput("send the token as JSON: {\"token\": \"...\"} with Content-Type: application/json")
    if (request.content_length or 0) > MAX_LOGIN_BODY:
        raise PayloadTooLarge(f"a login is at most {MAX_LOGIN_BODY} bytes")
    raw = request.stream.read(MAX_LOGIN_BODY + 1)
    if len(raw) > MAX_LOGIN_BODY:
        raise PayloadTooLarge(f"a login is at most {MAX_LOGIN_BODY} bytes")
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput("the login is not JSON: {\"token\": \"...\"}") from None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token.strip()):
        raise InvalidInput("the login needs a token: {\"token\": \"<kubectl create token ...>\"}")
    return token.strip()


def _to_https(request: flask.Request) -> flask.Response:
    host = request.headers.get("Host", "")
    if not _HOST.match(host):
        raise InvalidInput("the request's Host header is not a host name")
    query = request.query_string.decode("latin-1")
    target = f"https://{host}{urllib.parse.quote(request.path)}" + (
        f"?{urllib.parse.quote(query, safe='=&;%+/:,@!$()*?~-._')}" if query else "")
    return _redirect(target)


def _redirect(location: str) -> flask.Response:
    return flask.Response(status=308, headers={"Location": location})

