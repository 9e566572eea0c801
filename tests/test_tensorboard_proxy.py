"""The way in to an instance: the authenticating proxy, the session cookie, and who may do what.

A fake TensorBoard on loopback (``TENSORBOARD_UPSTREAM`` points the proxy at it) records what
reaches it and answers what a test tells it to; the function runs in-process through
functions-framework against the emulated cluster.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import flask.testing
import pytest

from argoml.dev.emulator import Emulator
from argoml.identity import User
from argoml.tensorboard import access
from argoml.tensorboard.session import COOKIE, Sessions
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, seed, workflow

KSVC = ("serving.knative.dev", "v1", "services")
PREFIX = "/tensorboards/ml/train-mnist/ui"
KEY = "0123456789abcdef0123456789abcdef-key-one"
ALICE = {"Authorization": "Bearer alice-token"}
Serve = Callable[[str], flask.testing.FlaskClient]


class Upstream(http.server.BaseHTTPRequestHandler):
    """Records each request; answers with ``server.answer(handler)`` (status, headers, body)."""

    protocol_version = "HTTP/1.1"

    def _any(self) -> None:
        server: Any = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        status, headers, payload = server.answer(self)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

    def log_message(self, *args: object) -> None:
        pass


def _ok(handler: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "text/plain")], b"tensorboard says hi"


@pytest.fixture
def upstream() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.seen, server.answer = [], _ok  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch, upstream: Any
           ) -> flask.testing.FlaskClient:
    """The function with session keys, proxying to ``upstream``; alice may read workflows in ml, and a
    running instance of train-mnist exists."""
    monkeypatch.delenv("TENSORBOARD_AUTH", raising=False)
    monkeypatch.setenv("TENSORBOARD_SESSION_KEYS", KEY)
    monkeypatch.setenv("TENSORBOARD_UPSTREAM", f"http://127.0.0.1:{upstream.server_port}")
    cluster.access.tokens["alice-token"] = {"username": "alice", "groups": ["ml-team"], "uid": "a-1"}
    cluster.access.grants.add(("alice", "get", "argoproj.io", "workflows", "ml"))
    seed(cluster, workflow("train-mnist", "ml", pod("a", "train", key_only("t.tgz")), repository=MINIO_REPOSITORY))
    cluster.access.grants.add(("operator", "get", "argoproj.io", "workflows", "ml"))
    client = serve("tensorboard")
    cluster.access.tokens["operator-token"] = {"username": "operator"}
    cluster.access.grants.add(("operator", "create", "argoproj.io", "workflows", "ml"))
    assert client.put("/tensorboards/ml/train-mnist", headers={"Authorization": "Bearer operator-token"}
                      ).status_code == 200
    return client


def login(client: flask.testing.FlaskClient, token: str = "alice-token") -> Any:
    return client.post("/session", json={"token": token}, headers={"Origin": "http://localhost"})


# --- the proxy ----------------------------------------------------------------------------------------


def test_the_proxy_forwards_under_the_instances_prefix_and_answers_what_tensorboard_answers(
        client: flask.testing.FlaskClient, upstream: Any) -> None:
    response = client.get(f"{PREFIX}/data/plugin/scalars/tags?run=train%281%29", headers=ALICE)
    assert response.status_code == 200 and response.data == b"tensorboard says hi"
    [seen] = upstream.seen
    assert seen["path"] == f"{PREFIX}/data/plugin/scalars/tags?run=train%281%29"
    assert seen["headers"]["Host"] == f"127.0.0.1:{upstream.server_port}"


def test_the_callers_credentials_never_reach_tensorboard(client: flask.testing.FlaskClient, upstream: Any) -> None:
    assert login(client).status_code == 200
    client.get(f"{PREFIX}/", headers={**ALICE, "X-Forwarded-User": "admin", "Proxy-Authorization": "x",
                                      "X-XSRF-Protected": "1", "Accept-Encoding": "gzip"})
    headers = {k.lower(): v for k, v in upstream.seen[-1]["headers"].items()}
    assert not {"authorization", "cookie", "x-forwarded-user", "proxy-authorization"} & set(headers)
    assert headers["x-xsrf-protected"] == "1" and headers["accept-encoding"] == "gzip"


def test_every_proxied_request_is_authorized_and_a_caller_without_the_right_gets_nothing(
        client: flask.testing.FlaskClient, cluster: Emulator, upstream: Any) -> None:
    cluster.access.tokens["bob-token"] = {"username": "bob"}
    assert client.get(f"{PREFIX}/", headers={"Authorization": "Bearer bob-token"}).status_code == 403
    assert client.get(f"{PREFIX}/").status_code == 401
    assert client.get(f"{PREFIX}/", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert upstream.seen == []
    reviews = len(cluster.access.reviews)
    for _ in range(5):  # a page of TensorBoard's requests costs one review (the yes is remembered briefly)
        assert client.get(f"{PREFIX}/data/runs", headers=ALICE).status_code == 200
    assert len(cluster.access.reviews) - reviews == 1


def test_a_right_withdrawn_stops_working_within_the_few_seconds_an_answer_is_remembered(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch, upstream: Any) -> None:
    monkeypatch.setenv("TENSORBOARD_AUTH_CACHE_SECONDS", "0.2")
    monkeypatch.setenv("TENSORBOARD_UPSTREAM", f"http://127.0.0.1:{upstream.server_port}")
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    seed(cluster, workflow("train-mnist", "ml", pod("a", "train", key_only("t.tgz")), repository=MINIO_REPOSITORY))
    assert serve("tensorboard").put("/tensorboards/ml/train-mnist").status_code == 200
    monkeypatch.setenv("TENSORBOARD_AUTH", "on")
    client = serve("tensorboard")
    cluster.access.tokens["alice-token"] = {"username": "alice"}
    grant = ("alice", "get", "argoproj.io", "workflows", "ml")
    cluster.access.grants.add(grant)
    assert client.get(f"{PREFIX}/", headers=ALICE).status_code == 200
    cluster.access.grants.discard(grant)
    time.sleep(0.3)
    assert client.get(f"{PREFIX}/", headers=ALICE).status_code == 403


def test_the_decision_table_is_bounded_and_forgets_after_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    table: access.Recent[int] = access.Recent(5.0, size=3, clock=lambda: now[0])
    computed: list[int] = []

    def compute(key: int) -> Callable[[], int]:
        return lambda: computed.append(key) or key  # type: ignore[func-returns-value]

    for key in range(10):
        table.get(key, compute(key))
    assert len(table._entries) == 3
    table.get(9, compute(9))
    table.get(0, compute(0))
    assert computed == [*range(10), 0]  # 9 was remembered; 0 had been pushed out by the bound
    now[0] = 5.1
    table.get(9, compute(9))
    assert computed[-1] == 9  # forgotten after its time
    monkeypatch.setenv("TENSORBOARD_AUTH_CACHE_SECONDS", "60")  # "a few seconds at most"
    with pytest.raises(ValueError, match="between 0 and 10"):
        access.AccessPolicy.from_env()


def test_no_instance_no_proxying(client: flask.testing.FlaskClient, cluster: Emulator, upstream: Any) -> None:
    seed(cluster, workflow("other", "ml", pod("a", "train", key_only("o.tgz")), repository=MINIO_REPOSITORY))
    response = client.get("/tensorboards/ml/other/ui/", headers=ALICE)
    assert response.status_code == 404 and "no TensorBoard instance" in response.json["error"]["message"]
    assert upstream.seen == []


def test_hop_by_hop_headers_and_cookies_from_tensorboard_are_dropped(client: flask.testing.FlaskClient,
                                                                     upstream: Any) -> None:
    upstream.answer = lambda h: (200, [("Content-Type", "text/html"), ("Connection", "close, X-Secret"),
                                      ("X-Secret", "internal"), ("Keep-Alive", "timeout=5"),
                                      ("Set-Cookie", "tb=1; Path=/"), ("Cache-Control", "public, max-age=60"),
                                      ("Proxy-Authenticate", "Basic")], b"ok")
    response = client.get(f"{PREFIX}/", headers=ALICE)
    assert response.status_code == 200 and response.data == b"ok"
    names = {name.lower() for name, _ in response.headers.items()}
    assert not {"x-secret", "keep-alive", "set-cookie", "proxy-authenticate"} & names
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize(("location", "expected"), [
    ("/tensorboards/ml/train-mnist/ui/#scalars", "/tensorboards/ml/train-mnist/ui/#scalars"),
    ("data/runs", "/tensorboards/ml/train-mnist/ui/data/runs"),
    ("http://UPSTREAM/tensorboards/ml/train-mnist/ui/x", "/tensorboards/ml/train-mnist/ui/x"),
    ("https://evil.example/phish", None),
    ("//evil.example/phish", None),
    ("/tensorboards/ml/another-workflow/ui/", None),
    ("/", None),
])
def test_a_redirect_may_only_stay_within_the_instance(client: flask.testing.FlaskClient, upstream: Any,
                                                      location: str, expected: str | None) -> None:
    location = location.replace("UPSTREAM", f"127.0.0.1:{upstream.server_port}")
    upstream.answer = lambda h: (302, [("Location", location)], b"")
    response = client.get(f"{PREFIX}/", headers=ALICE)
    if expected is None:
        assert response.status_code == 502 and "redirected outside" in response.json["error"]["message"]
    else:
        assert response.status_code == 302 and response.headers["Location"] == expected


def test_the_bare_prefix_is_redirected_to_the_instances_page(client: flask.testing.FlaskClient) -> None:
    response = client.get(PREFIX, headers=ALICE)
    assert response.status_code == 308 and response.headers["Location"] == PREFIX + "/"


def test_a_large_answer_is_streamed_not_held(client: flask.testing.FlaskClient, upstream: Any) -> None:
    chunk = b"x" * (1 << 20)
    upstream.answer = lambda h: (200, [("Content-Type", "text/csv"), ("Content-Length", str(8 << 20))], chunk * 8)
    response = client.get(f"{PREFIX}/data/download", headers=ALICE, buffered=False)
    assert response.is_streamed
    pieces = list(response.response)
    assert sum(map(len, pieces)) == 8 << 20 and max(map(len, pieces)) <= 64 << 10
    response.close()


def test_a_request_body_is_bounded(client: flask.testing.FlaskClient, upstream: Any) -> None:
    login(client)
    origin = {"Origin": "http://localhost"}
    ok = client.post(f"{PREFIX}/data/plugin/timeseries/timeSeries", data={"requests": "[]"}, headers=origin)
    assert ok.status_code == 200 and upstream.seen[-1]["body"] == b"requests=%5B%5D"
    big = client.post(f"{PREFIX}/data/x", data=b"x" * ((1 << 20) + 1), headers={**origin,
                                                                                "Content-Type": "text/plain"})
    assert big.status_code == 413 and len(upstream.seen) == 1


def test_an_instance_that_does_not_answer_is_a_502_with_what_to_do(
        cluster: Emulator, client: flask.testing.FlaskClient, upstream: Any) -> None:
    upstream.shutdown()
    upstream.server_close()
    response = client.get(f"{PREFIX}/", headers=ALICE)
    assert response.status_code == 502 and "did not answer" in response.json["error"]["message"]


def test_nothing_in_the_path_becomes_a_header_or_leaves_the_instance(client: flask.testing.FlaskClient,
                                                                     upstream: Any) -> None:
    assert client.get(f"{PREFIX}/a%0d%0aX-Injected:%201", headers=ALICE).status_code == 404
    assert client.get(f"{PREFIX}/../../other/ui/", headers=ALICE).status_code == 400
    assert upstream.seen == []
    assert client.get(f"{PREFIX}/a%20b%3Fc?q=%0d%0a", headers=ALICE).status_code == 200
    assert upstream.seen[-1]["path"] == f"{PREFIX}/a%20b%3Fc?q=%0D%0A"


# --- the session cookie -------------------------------------------------------------------------------


def test_a_token_login_sets_a_signed_cookie_with_the_identity_never_the_token(
        client: flask.testing.FlaskClient) -> None:
    response = login(client)
    assert response.status_code == 200 and response.json["user"] == "alice"
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "Secure" in header and "SameSite=Strict" in header
    assert "Path=/tensorboards/" in header and "Max-Age=900" in header
    assert "alice-token" not in header
    cookie = client.get_cookie(COOKIE, path="/tensorboards/")
    assert cookie is not None
    assert Sessions((KEY.encode(),)).read(cookie.value) == User("alice", ("ml-team",), "a-1")
    assert client.get(f"{PREFIX}/").status_code == 200  # the cookie alone lets alice in


def test_a_forged_tampered_or_expired_cookie_is_refused() -> None:
    now = [1000.0]
    sessions = Sessions((KEY.encode(),), seconds=60, clock=lambda: now[0])
    value, _ = sessions.issue(User("alice"))
    version, payload, signature = value.split(".")
    forged = Sessions((b"another key of at least thirty-two chars",)).issue(User("root"))[0]
    assert sessions.read(forged) is None
    import base64
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["u"] = "root"
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert sessions.read(f"{version}.{tampered}.{signature}") is None
    assert sessions.read(value[:-2] + "AA") is None and sessions.read("v1..x") is None and sessions.read("") is None
    now[0] += 61
    assert sessions.read(value) is None


def test_keys_rotate_without_logging_anyone_out() -> None:
    old, new = b"o" * 32, b"n" * 32
    before = Sessions((old,)).issue(User("alice"))[0]
    rotated = Sessions((new, old))
    assert rotated.read(before) == User("alice")
    after = rotated.issue(User("alice"))[0]
    assert Sessions((new,)).read(after) == User("alice") and Sessions((new,)).read(before) is None


def test_short_keys_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_SESSION_KEYS", "short")
    with pytest.raises(ValueError, match="shorter than 32 characters"):
        Sessions.from_env()


def test_a_login_needs_json_from_the_page_itself(client: flask.testing.FlaskClient) -> None:
    assert client.post("/session", json={"token": "alice-token"}).status_code == 403  # no Origin
    cross = client.post("/session", json={"token": "alice-token"}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and "must come from the TensorBoard page" in cross.json["error"]["message"]
    form = client.post("/session", data={"token": "alice-token"}, headers={"Origin": "http://localhost"})
    assert form.status_code == 400
    assert login(client, "nobody").status_code == 401
    assert client.post("/session", json={"token": 5}, headers={"Origin": "http://localhost"}).status_code == 400


def test_with_the_cookie_a_change_from_another_site_is_refused(client: flask.testing.FlaskClient,
                                                                cluster: Emulator, upstream: Any) -> None:
    cluster.access.grants.add(("alice", "create", "argoproj.io", "workflows", "ml"))
    login(client)
    for method in ("put", "delete", "post"):
        path = f"{PREFIX}/x" if method == "post" else "/tensorboards/ml/train-mnist"
        response = getattr(client, method)(path, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, method
        assert getattr(client, method)(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert upstream.seen == []
    assert client.get("/tensorboards/ml/train-mnist", headers={"Origin": "https://evil.example"}).status_code == 200
    assert client.delete("/tensorboards/ml/train-mnist", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_logging_out_clears_the_cookie(client: flask.testing.FlaskClient) -> None:
    login(client)
    response = client.delete("/session")
    assert response.status_code == 200 and "Max-Age=0" in response.headers["Set-Cookie"]
    assert client.get(f"{PREFIX}/").status_code == 401


def test_without_session_keys_the_login_says_to_use_a_token(cluster: Emulator, serve: Serve,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENSORBOARD_SESSION_KEYS", raising=False)
    monkeypatch.delenv("TENSORBOARD_AUTH", raising=False)
    response = serve("tensorboard").post("/session", json={"token": "t"}, headers={"Origin": "http://localhost"})
    assert response.status_code == 404 and "TENSORBOARD_SESSION_KEYS" in response.json["error"]["message"]


# --- who may stop an instance, and the edge ---------------------------------------------------------


def test_stopping_needs_the_right_to_delete_it_or_to_run_workflows(client: flask.testing.FlaskClient,
                                                                   cluster: Emulator) -> None:
    # Regression (issue 11): DELETE needed only get.
    refused = client.delete("/tensorboards/ml/train-mnist", headers=ALICE)
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == ("user 'alice' may not delete services.serving.knative.dev or "
                                                "create workflows.argoproj.io in namespace 'ml'")
    cluster.access.grants.add(("alice", "delete", "serving.knative.dev", "services", "ml"))
    assert client.delete("/tensorboards/ml/train-mnist", headers=ALICE).status_code == 200


def test_plain_http_behind_the_ingress_is_redirected_to_https(client: flask.testing.FlaskClient) -> None:
    response = client.get("/tensorboards/ml?x=1", headers={"X-Forwarded-Proto": "http",
                                                            "Host": "tensorboard.example.com"})
    assert response.status_code == 308
    assert response.headers["Location"] == "https://tensorboard.example.com/tensorboards/ml?x=1"
    assert client.get("/", headers={"X-Forwarded-Proto": "http", "Host": "evil host"}).status_code == 400
    assert client.get("/tensorboards/ml", headers={**ALICE, "X-Forwarded-Proto": "https"}).status_code == 200


def test_a_method_a_route_does_not_take_is_a_405_naming_those_it_does(client: flask.testing.FlaskClient) -> None:
    response = client.post("/tensorboards/ml/train-mnist", headers=ALICE)
    assert response.status_code == 405 and response.headers["Allow"] == "DELETE, GET, HEAD, PUT"
