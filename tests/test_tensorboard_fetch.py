"""The log fetcher (``python -m argoml.tensorboard.fetch``) against real servers on loopback: HTTP and S3 (moto).

The end-to-end tests take the init container that the function generated, resolve its
``secretKeyRef``\\ s from the emulated cluster's Secrets as the kubelet would, and run the
fetcher as a process with that environment.
"""

from __future__ import annotations

import base64
import dataclasses
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import flask.testing
import pytest

from argoml.dev import kubelet
from argoml.dev.emulator import Emulator
from argoml.tensorboard.fetch import CONFIG_ENV, TERMINATION_LOG_ENV, FetchError, Plan, StoredRun, fetch
from tests.sinks import serving
from tests.workflow_status import key_only, pod, seed, workflow

EVENTS = b"\x18\x00\x00\x00\x00\x00\x00\x00 fake tfevents record"


def tgz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Files(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` by path; ``server.auth`` (if set) is the required Authorization header."""

    def do_GET(self) -> None:
        server: Any = self.server
        if server.auth and self.headers.get("Authorization") != server.auth:
            self.send_error(401)
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        server.headers_seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def files() -> Iterator[Any]:
    with serving(Files) as server:
        server.files, server.auth, server.headers_seen = {}, None, []  # type: ignore[attr-defined]
        server.url = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                        aws_access_key_id="minio", aws_secret_access_key="minio123")


# The test servers listen on loopback, which the fetcher refuses unless the operator allows it.
LOOPBACK = ("127.0.0.0/8",)


def http_plan(tmp_path: Path, url: str, archive: str, **location: Any) -> Plan:
    return Plan(str(tmp_path / "logs"), (StoredRun("train", "http", archive, {"url": url, **location}),),
                allow=LOOPBACK)


# --- HTTP ---------------------------------------------------------------------------------------------


def test_an_argo_tgz_of_a_directory_becomes_the_runs_directory(files: Any, tmp_path: Path) -> None:
    files.files["/a/tensorboard.tgz"] = tgz({"logs/events.out.tfevents.1": EVENTS, "logs/eval/events.2": EVENTS})
    [run] = fetch(http_plan(tmp_path, files.url + "/a/tensorboard.tgz", "tgz"))
    assert run == tmp_path / "logs" / "train"
    assert tree(run) == {"events.out.tfevents.1": EVENTS, "eval/events.2": EVENTS}


def test_an_archive_with_several_top_level_entries_is_unpacked_as_is(files: Any, tmp_path: Path) -> None:
    files.files["/x.tgz"] = tgz({"events.1": EVENTS, "eval/events.2": EVENTS})
    [run] = fetch(http_plan(tmp_path, files.url + "/x.tgz", "tgz"))
    assert tree(run) == {"events.1": EVENTS, "eval/events.2": EVENTS}


def test_a_zip_archive_is_unpacked(files: Any, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("logs/events.1", EVENTS)
    files.files["/x.zip"] = buffer.getvalue()
    [run] = fetch(http_plan(tmp_path, files.url + "/x.zip", "zip"))
    assert tree(run) == {"events.1": EVENTS}


def test_an_unarchived_http_artifact_is_stored_as_the_file_it_names(files: Any, tmp_path: Path) -> None:
    files.files["/runs/events.out.tfevents.42"] = EVENTS
    [run] = fetch(http_plan(tmp_path, files.url + "/runs/events.out.tfevents.42", "none",
                            headers=[{"name": "X-Team", "value": "vision"}]))
    assert tree(run) == {"events.out.tfevents.42": EVENTS}
    assert files.headers_seen[0]["X-Team"] == "vision"


def test_http_basic_auth_comes_from_the_environment(files: Any, tmp_path: Path) -> None:
    files.auth = "Basic " + base64.b64encode(b"ml:pa55").decode()
    files.files["/x.tgz"] = tgz({"logs/events.1": EVENTS})
    secrets = {"auth.basicAuth.usernameSecret": "U", "auth.basicAuth.passwordSecret": "P"}
    plan = Plan(str(tmp_path / "logs"), (StoredRun("train", "http", "tgz", {"url": files.url + "/x.tgz"}, secrets),),
                allow=LOOPBACK)
    assert tree(fetch(plan, {"U": "ml", "P": "pa55"})[0]) == {"events.1": EVENTS}
    with pytest.raises(FetchError, match=r"auth\.basicAuth\.usernameSecret is not available"):
        fetch(plan, {})


def test_a_failed_download_names_the_run(files: Any, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"run 'train': there is no file at http://.*/gone.tgz \(HTTP 404\)"):
        fetch(http_plan(tmp_path, files.url + "/gone.tgz", "tgz"))


def test_archive_members_that_escape_the_run_directory_are_refused(files: Any, tmp_path: Path) -> None:
    files.files["/evil.tgz"] = tgz({"../../escaped": b"x", "logs/events.1": EVENTS})
    with pytest.raises(FetchError, match=r"run 'train': unsafe archive: '\.\./\.\./escaped' would be extracted"):
        fetch(http_plan(tmp_path, files.url + "/evil.tgz", "tgz"))
    assert not list(tmp_path.rglob("escaped"))


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def tgz_with_link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        archive.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize(("kind", "body"), [
    ("tgz", tgz_with_link("logs/passwd", "/etc/passwd")),
    ("tgz", tgz_with_link("logs/up", "../../../outside")),
    ("tgz", tgz_with_link("logs/hard", "/etc/passwd", tarfile.LNKTYPE)),
    ("zip", zipped({"../escaped": b"x"})),
    ("zip", zipped({"/abs/escaped": b"x"})),
], ids=["symlink-absolute", "symlink-up", "hardlink-absolute", "zip-up", "zip-absolute"])
def test_archive_links_and_paths_out_of_the_run_directory_are_refused(files: Any, tmp_path: Path, kind: str,
                                                                     body: bytes) -> None:
    files.files[f"/evil.{kind}"] = body
    with pytest.raises(FetchError, match=r"unsafe archive|outside the run's directory"):
        fetch(http_plan(tmp_path, files.url + f"/evil.{kind}", kind))
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_an_archive_that_unpacks_beyond_the_size_limit_is_refused_before_writing(files: Any, tmp_path: Path,
                                                                                 kind: str) -> None:
    contents = {"logs/events.1": bytes(300_000)}  # compresses to a few hundred bytes
    files.files[f"/bomb.{kind}"] = tgz(contents) if kind == "tgz" else zipped(contents)
    plan = http_plan(tmp_path, files.url + f"/bomb.{kind}", kind)
    refused = r"unpacked archive is 300000 bytes: more than the \d+ bytes left of the 100000-byte limit"
    with pytest.raises(FetchError, match=refused):
        fetch(dataclasses.replace(plan, max_bytes=100_000))
    assert tree(tmp_path) == {}
    # the archive counts too while it is on the volume next to what it unpacks to
    with pytest.raises(FetchError, match="unpacked archive is 300000 bytes"):
        fetch(dataclasses.replace(plan, max_bytes=300_000))
    assert tree(fetch(dataclasses.replace(plan, max_bytes=310_000))[0]) == {"events.1": bytes(300_000)}


def test_downloads_and_directories_beyond_the_size_limit_are_refused(files: Any, s3_endpoint: str,
                                                                     tmp_path: Path) -> None:
    files.files["/events.1"] = bytes(5000)
    plan = http_plan(tmp_path, files.url + "/events.1", "none")
    with pytest.raises(FetchError, match="the download: more than the 4000 bytes left"):
        fetch(dataclasses.replace(plan, max_bytes=4000))
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="ml-artifacts")
    for key in ("big/tb/events.1", "big/tb/events.2"):
        client.put_object(Bucket="ml-artifacts", Key=key, Body=bytes(3000))
    plan = s3_plan(tmp_path, s3_endpoint, "big/tb", "none")
    with pytest.raises(FetchError, match=r"the directory \(2 files\) is 6000 bytes"):
        fetch(dataclasses.replace(plan, max_bytes=5000), CREDENTIALS)
    assert tree(tmp_path) == {}


def test_something_that_is_not_an_archive_is_reported(files: Any, tmp_path: Path) -> None:
    files.files["/x.tgz"] = b"<html>login page</html>"
    with pytest.raises(FetchError, match="not a tgz archive"):
        fetch(http_plan(tmp_path, files.url + "/x.tgz", "tgz"))


@pytest.mark.parametrize("run", ["../up", ".hidden", "a/b", ""])
def test_unsafe_run_names_are_refused(tmp_path: Path, run: str) -> None:
    with pytest.raises(FetchError, match="not a safe directory name"):
        fetch(Plan(str(tmp_path), (StoredRun(run, "http", "tgz", {"url": "http://127.0.0.1:9/x"}),)))


def test_storages_it_cannot_fetch_are_named(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="cannot fetch from hdfs storage"):
        fetch(Plan(str(tmp_path), (StoredRun("train", "hdfs", "tgz", {"path": "/logs"}),)))


# --- S3 -----------------------------------------------------------------------------------------------


def s3_plan(tmp_path: Path, endpoint: str, key: str, archive: str) -> Plan:
    location = {"bucket": "ml-artifacts", "endpoint": endpoint, "insecure": True, "key": key}
    secrets = {"accessKeySecret": "ACCESS", "secretKeySecret": "SECRET"}
    return Plan(str(tmp_path / "logs"), (StoredRun("train", "s3", archive, location, secrets),), allow=LOOPBACK)


CREDENTIALS = {"ACCESS": "minio", "SECRET": "minio123"}


def test_an_archived_s3_artifact_is_downloaded_and_unpacked(s3_endpoint: str, tmp_path: Path) -> None:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="ml-artifacts")
    client.put_object(Bucket="ml-artifacts", Key="wf/a/tensorboard.tgz", Body=tgz({"logs/events.1": EVENTS}))
    [run] = fetch(s3_plan(tmp_path, s3_endpoint, "wf/a/tensorboard.tgz", "tgz"), CREDENTIALS)
    assert tree(run) == {"events.1": EVENTS}


def test_an_unarchived_s3_artifact_is_read_as_a_directory(s3_endpoint: str, tmp_path: Path) -> None:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="ml-artifacts")
    for key in ("wf/b/tensorboard/events.1", "wf/b/tensorboard/eval/events.2", "wf/b/tensorboard-other/x"):
        client.put_object(Bucket="ml-artifacts", Key=key, Body=EVENTS)
    [run] = fetch(s3_plan(tmp_path, s3_endpoint, "wf/b/tensorboard", "none"), CREDENTIALS)
    assert tree(run) == {"events.1": EVENTS, "eval/events.2": EVENTS}


def test_an_unarchived_single_s3_file_is_fetched_as_itself(s3_endpoint: str, tmp_path: Path) -> None:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="ml-artifacts")
    client.put_object(Bucket="ml-artifacts", Key="wf/c/events.out.tfevents.7", Body=EVENTS)
    [run] = fetch(s3_plan(tmp_path, s3_endpoint, "wf/c/events.out.tfevents.7", "none"), CREDENTIALS)
    assert tree(run) == {"events.out.tfevents.7": EVENTS}


# --- end to end: the generated init container, run as the kubelet would ------------------------------


def run_init_container(cluster: Emulator, ksvc: dict[str, Any], logdir: Path,
                       extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the instance's init container as the kubelet would (argoml.dev.kubelet); its termination message
    lands in ``<logdir>.termination-log`` (``extra_env``: what the test's servers need, e.g. an emulator's address)."""
    init = ksvc["spec"]["template"]["spec"]["initContainers"][0]
    assert init["command"][:3] == ["python", "-m", "argoml.tensorboard.fetch"]
    assert init["terminationMessagePath"] == "/dev/termination-log" and {
        "name": TERMINATION_LOG_ENV, "value": "/dev/termination-log"} in init["env"]
    return kubelet.run_fetcher(cluster.store, ksvc, logdir, extra_env)


def test_the_spawned_init_container_fetches_key_only_s3_logs_with_the_repositorys_secret(
        cluster: Emulator, serve: Any, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, tmp_path: Path) -> None:
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    monkeypatch.setenv("TENSORBOARD_FETCH_ALLOW", "127.0.0.0/8")
    client: flask.testing.FlaskClient = serve("tensorboard")
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket="team-bucket")
    s3.put_object(Bucket="team-bucket", Key="sweep/t1/tensorboard.tgz", Body=tgz({"tb/events.1": EVENTS}))
    s3.put_object(Bucket="team-bucket", Key="sweep/t2/tensorboard/events.2", Body=EVENTS)
    store = cluster.store
    store.create(store.type_of("", "v1", "secrets"), "ml", {"metadata": {"name": "s3-creds"}, "data": {
        "id": base64.b64encode(b"minio").decode(), "secret": base64.b64encode(b"minio123").decode()}})
    repository = {"s3": {"bucket": "team-bucket", "endpoint": s3_endpoint, "insecure": True,
                         "accessKeySecret": {"name": "s3-creds", "key": "id"},
                         "secretKeySecret": {"name": "s3-creds", "key": "secret"}}}
    wf = workflow("sweep", "ml", pod("a", "trial-1", key_only("sweep/t1/tensorboard.tgz")),
                  pod("b", "trial-2", key_only("sweep/t2/tensorboard", archive={"none": {}})),
                  repository=repository)
    seed(cluster, wf)
    assert client.put("/tensorboards/ml/sweep").status_code == 200
    ksvc = store.get(store.type_of("serving.knative.dev", "v1", "services"), "ml", "tb-sweep")
    result = run_init_container(cluster, ksvc, tmp_path / "logs")
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "logs") == {"trial-1/events.1": EVENTS, "trial-2/events.2": EVENTS}


def test_a_failing_fetch_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    plan = http_plan(tmp_path, "http://127.0.0.1:9/x.tgz", "tgz")
    env = {"PATH": os.environ["PATH"], CONFIG_ENV: plan.to_json(),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-m", "argoml.tensorboard.fetch"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1 and "fetch failed: run 'train'" in result.stderr
    bad = subprocess.run([sys.executable, "-m", "argoml.tensorboard.fetch"], env={**env, CONFIG_ENV: "{"},
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1 and f"{CONFIG_ENV} is not a fetch plan" in bad.stderr


def test_the_spawned_init_container_fetches_unarchived_http_logs(
        cluster: Emulator, serve: Any, monkeypatch: pytest.MonkeyPatch, files: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    monkeypatch.setenv("TENSORBOARD_FETCH_ALLOW", "127.0.0.0/8")
    client: flask.testing.FlaskClient = serve("tensorboard")
    files.files["/exports/eval/events.out.tfevents.9"] = EVENTS
    http = {"url": files.url + "/exports/eval/events.out.tfevents.9"}
    wf = workflow("export", "ml", pod("a", "evaluate", {"name": "tensorboard", "http": http,
                                                       "archive": {"none": {}}}))
    seed(cluster, wf)
    assert client.put("/tensorboards/ml/export").status_code == 200
    ksvc = cluster.store.get(cluster.store.type_of("serving.knative.dev", "v1", "services"), "ml", "tb-export")
    result = run_init_container(cluster, ksvc, tmp_path / "logs")
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "logs") == {"evaluate/events.out.tfevents.9": EVENTS}


def test_runs_sharing_a_store_share_it_in_the_plan_and_round_trip() -> None:
    location = {"bucket": "ml", "endpoint": "minio:9000", "insecure": True}
    secrets = {"accessKeySecret": "ARGOML_SECRET_0", "secretKeySecret": "ARGOML_SECRET_1"}
    sources = tuple(StoredRun(f"trial-{i}", "s3", "tgz", {**location, "key": f"sweep/{i}.tgz"}, secrets)
                    for i in range(50))
    sources += (StoredRun("eval", "http", "none", {"url": "https://x.example/e", "headers": []}),)
    plan = Plan("/logs", sources)
    raw = json.loads(plan.to_json())
    assert [store["kind"] for store in raw["stores"]] == ["s3", "http"]
    assert raw["runs"][0] == {"run": "trial-0", "archive": "tgz", "store": 0, "key": "sweep/0.tgz"}
    assert Plan.from_json(plan.to_json()) == plan
