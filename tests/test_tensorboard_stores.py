"""Every store Argo writes artifacts to, end to end, against a real local server of its protocol.

For each store a workflow's key-only ``tensorboard`` artifacts (one archived ``.tgz``, one
unarchived directory) are resolved through the artifact repository recorded in its status,
the function builds the instance, and its init container is run as the kubelet would
(secretKeyRefs read from the emulated cluster's Secrets). Wrong credentials and a missing
object make the fetcher fail with a message that the instance's state then reports, read
from the pod's status where the kubelet puts the termination message.

The servers: Google's storage API from ``gcp-storage-emulator`` (with a loopback OAuth token
endpoint, named by the service account key, that exchanges a key's signed JWT for a token the
way Google's does, and refuses a revoked one); Azurite (npm's ``azurite``, skipped when it is
not installed); Artifactory as what Argo's driver uses of it, HTTP with basic auth; and Alibaba
OSS, for which no emulator exists, through its S3-compatible API served by moto with its IAM
authentication switched on (so a wrong key is refused as OSS would refuse it).
"""

from __future__ import annotations

import base64
import dataclasses
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from argoml.dev.emulator import Emulator
from argoml.tensorboard.fetch import FetchError, Plan, StoredRun, fetch
from tests import workflow_status
from tests.test_tensorboard_fetch import EVENTS, LOOPBACK, Files, run_init_container, tgz, tree
from tests.workflow_status import pod, workflow

pytestmark = pytest.mark.slow
NAMESPACE = "ml"
KSVC = ("serving.knative.dev", "v1", "services")


@dataclass
class Store:
    """One store's local server, seen as an artifact repository: what it holds and the credentials it takes."""

    kind: str
    repository: Callable[[str], dict[str, Any]]  # secret name -> the repository's location with its secret refs
    secret: dict[str, str]  # the valid credentials, as the Secret's data
    wrong: dict[str, str]  # the same keys, refused by the server
    put: Callable[[str, bytes], object]
    key_field: str = "key"
    env: dict[str, str] = field(default_factory=dict)  # what the fetcher's process needs to find the server

    def key_only(self, key: str, **extra: Any) -> dict[str, Any]:
        return {"name": "tensorboard", "path": "/logs", self.kind: {self.key_field: key}, **extra}


# --- the servers --------------------------------------------------------------------------------------


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """Google's OAuth token endpoint for service accounts: a JWT bearer grant in, an access token out.
    The key of ``revoked@`` accounts is refused, as Google refuses a deleted key (400 invalid_grant)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        assertion = dict(pair.split("=", 1) for pair in body.split("&")).get("assertion", "")
        claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
        if claims["iss"].startswith("revoked@"):
            answer: dict[str, object] = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            status = 400
        else:
            answer, status = {"access_token": "ya29.test", "expires_in": 3600, "token_type": "Bearer"}, 200
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def service_account_key(email: str, token_uri: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "ml-project", "private_key_id": "1",
                       "private_key": pem, "client_email": email, "client_id": "1", "token_uri": token_uri})


@pytest.fixture(scope="module")
def gcs() -> Iterator[Store]:
    emulator_module = pytest.importorskip("gcp_storage_emulator.server", reason="needs gcp-storage-emulator")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    emulator = emulator_module.create_server("127.0.0.1", 0, in_memory=True, default_bucket="ml-logs")
    emulator.start()
    host = f"http://127.0.0.1:{emulator._api._httpd.server_address[1]}"
    tokens = _serve(TokenEndpoint)
    token_server = next(tokens)
    token_uri = f"http://127.0.0.1:{token_server.server_port}/token"
    os.environ["STORAGE_EMULATOR_HOST"] = host  # for this process's uploading client only
    try:
        bucket = storage.Client(project="ml-project", credentials=AnonymousCredentials()).bucket("ml-logs")
    finally:
        del os.environ["STORAGE_EMULATOR_HOST"]
    yield Store(
        "gcs", lambda secret: {"gcs": {"bucket": "ml-logs",
                                       "serviceAccountKeySecret": {"name": secret, "key": "key.json"}}},
        {"key.json": service_account_key("reader@ml-project.iam.gserviceaccount.com", token_uri)},
        {"key.json": service_account_key("revoked@ml-project.iam.gserviceaccount.com", token_uri)},
        lambda key, body: bucket.blob(key).upload_from_string(body), env={"STORAGE_EMULATOR_HOST": host})
    next(tokens, None)
    emulator.stop()


AZURITE_ACCOUNT = "devstoreaccount1"  # Azurite's well-known development account and key
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="module")
def azure() -> Iterator[Store]:
    azurite = shutil.which("azurite-blob")
    if azurite is None:
        pytest.skip("needs Azurite (npm install -g azurite; .ci/run installs it)")
    from azure.storage.blob import BlobServiceClient

    process = subprocess.Popen([azurite, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                                "--extentMemoryLimit", "64", "--disableTelemetry", "--skipApiVersionCheck", "--loose"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        url = next((m[1] for line in process.stdout if (m := re.search(r"listens on (http://\S+)", line))), None)
        assert url is not None, "Azurite exited without listening"
        endpoint = f"{url}/{AZURITE_ACCOUNT}"
        service = BlobServiceClient(endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY})
        container = service.create_container("ml-logs")
        yield Store("azure", lambda secret: {"azure": {
            "endpoint": endpoint, "container": "ml-logs", "accountKeySecret": {"name": secret, "key": "key"}}},
            {"key": AZURITE_KEY}, {"key": base64.b64encode(b"not the account key" * 3).decode()},
            lambda key, body: container.upload_blob(key, body, overwrite=True), key_field="blob")
    finally:
        process.terminate()
        process.wait(timeout=30)


class Artifactory(Files):
    """Artifactory's download API as Argo's driver uses it: GET <repoURL>/<path> with basic auth; PUT stores."""

    def do_PUT(self) -> None:
        server: Any = self.server
        server.files[self.path] = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.end_headers()


@pytest.fixture(scope="module")
def artifactory() -> Iterator[Store]:
    servers = _serve(Artifactory)
    server: Any = next(servers)
    server.files, server.headers_seen = {}, []
    server.auth = "Basic " + base64.b64encode(b"ml-reader:art1fact").decode()
    base = f"http://127.0.0.1:{server.server_port}/artifactory/ml-logs"
    yield Store("artifactory", lambda secret: {"artifactory": {
        "repoURL": base, "usernameSecret": {"name": secret, "key": "user"},
        "passwordSecret": {"name": secret, "key": "password"}}},
        {"user": "ml-reader", "password": "art1fact"}, {"user": "ml-reader", "password": "guessed"},
        lambda key, body: server.files.__setitem__(f"/artifactory/ml-logs/{key}", body))
    next(servers, None)


# moto counts requests: the first few (creating the IAM user, its key and policy) pass unauthenticated,
# every later one must be signed with a key IAM knows.
_MOTO = ("import sys; from moto.server import ThreadedMotoServer; s = ThreadedMotoServer(ip_address='127.0.0.1', "
         "port=0, verbose=False); s.start(); print(s.get_host_and_port()[1], flush=True); sys.stdin.read()")
_UNAUTHENTICATED_SETUP = 3


@pytest.fixture(scope="module")
def oss() -> Iterator[Store]:
    import boto3

    process = subprocess.Popen([sys.executable, "-c", _MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_UNAUTHENTICATED_SETUP)})
    try:
        assert process.stdout is not None
        endpoint = f"http://127.0.0.1:{int(process.stdout.readline())}"
        anonymous = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        iam = boto3.client("iam", **anonymous, aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="ml-reader")
        key = iam.create_access_key(UserName="ml-reader")["AccessKey"]
        iam.put_user_policy(UserName="ml-reader", PolicyName="logs", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        s3 = boto3.client("s3", **anonymous, aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
        s3.create_bucket(Bucket="ml-logs")
        yield Store("oss", lambda secret: {"oss": {
            "endpoint": endpoint, "bucket": "ml-logs", "accessKeySecret": {"name": secret, "key": "id"},
            "secretKeySecret": {"name": secret, "key": "secret"}}},
            {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]},
            {"id": key["AccessKeyId"], "secret": "not-the-secret"},
            lambda object_key, body: s3.put_object(Bucket="ml-logs", Key=object_key, Body=body))
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


STORES = ["gcs", "azure", "artifactory", "oss"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(request.param)


# --- end to end ---------------------------------------------------------------------------------------


def seed(cluster: Emulator, store: Store, name: str, credentials: dict[str, str],
         *artifacts: tuple[str, dict[str, Any]]) -> None:
    """A Secret with ``credentials`` and a finished workflow whose repository (in its status) uses it."""
    secrets = cluster.store.type_of("", "v1", "secrets")
    cluster.store.create(secrets, NAMESPACE, {"metadata": {"name": f"{name}-creds"}, "data": {
        k: base64.b64encode(v.encode()).decode() for k, v in credentials.items()}})
    nodes = [pod(f"n{i}", step, artifact) for i, (step, artifact) in enumerate(artifacts)]
    wf = workflow(name, NAMESPACE, *nodes, repository=store.repository(f"{name}-creds"))
    workflow_status.seed(cluster, wf)  # with the namespace's repository ConfigMap, which the function reads


def launch(cluster: Emulator, serve: Any, monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, Any]:
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    monkeypatch.setenv("TENSORBOARD_FETCH_ALLOW", LOOPBACK[0])  # the test stores listen on loopback
    response = serve("tensorboard").put(f"/tensorboards/{NAMESPACE}/{name}")
    assert response.status_code == 200, response.json
    return cluster.store.get(cluster.store.type_of(*KSVC), NAMESPACE, f"tb-{name}")


def test_archived_and_unarchived_artifacts_are_fetched_with_the_repositorys_credentials(
        store: Store, cluster: Emulator, serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = f"e2e-{store.kind}"
    store.put(f"{name}/train/tensorboard.tgz", tgz({"tb/events.out.tfevents.1": EVENTS, "tb/eval/events.2": EVENTS}))
    store.put(f"{name}/evaluate/tensorboard/events.out.tfevents.3", EVENTS)
    store.put(f"{name}/evaluate/tensorboard/plugins/profile/trace.json", b"{}")
    store.put(f"{name}/evaluate/tensorboard-other/not-this", b"x")
    # Argo uploads one file per Artifactory artifact (a PUT): unarchived, that is the one file it names.
    unarchived = f"{name}/evaluate/tensorboard" + ("/events.out.tfevents.3" if store.kind == "artifactory" else "")
    seed(cluster, store, name, store.secret, ("train", store.key_only(f"{name}/train/tensorboard.tgz")),
         ("evaluate", store.key_only(unarchived, archive={"none": {}})))
    ksvc = launch(cluster, serve, monkeypatch, name)
    assert not set(store.secret.values()) & set(json.dumps(ksvc).split('"'))  # references only, never values
    result = run_init_container(cluster, ksvc, tmp_path / "logs", store.env)
    assert result.returncode == 0, result.stderr
    evaluate = {"evaluate/events.out.tfevents.3": EVENTS}
    if store.kind != "artifactory":
        evaluate["evaluate/plugins/profile/trace.json"] = b"{}"
    assert tree(tmp_path / "logs") == {"train/events.out.tfevents.1": EVENTS, "train/eval/events.2": EVENTS,
                                       **evaluate}


def report_pod(cluster: Emulator, ksvc: dict[str, Any], message: str) -> None:
    """The instance's pod as the kubelet reports it after the fetcher exited with ``message``."""
    labels = ksvc["spec"]["template"]["metadata"]["labels"]
    name = ksvc["metadata"]["name"]
    terminated = {"exitCode": 1, "reason": "Error", "message": message}
    cluster.store.create(cluster.store.type_of("", "v1", "pods"), NAMESPACE, {
        "metadata": {"name": f"{name}-00001-deployment-5d8f9-x2x7q", "labels": labels},
        "spec": {"containers": [{"name": "tensorboard", "image": "tensorboard"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{
            "name": "fetch-logs", "ready": False, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": terminated}}]}},
        keep_status=True)


def test_wrong_credentials_are_reported_in_the_instances_state(
        store: Store, cluster: Emulator, serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = f"denied-{store.kind}"
    store.put(f"{name}/train/tensorboard.tgz", tgz({"events.1": EVENTS}))
    seed(cluster, store, name, store.wrong, ("train", store.key_only(f"{name}/train/tensorboard.tgz")))
    ksvc = launch(cluster, serve, monkeypatch, name)
    result = run_init_container(cluster, ksvc, tmp_path / "logs", store.env)
    assert result.returncode == 1
    message = (tmp_path / "logs.termination-log").read_text()
    assert message.startswith("fetch failed: run 'train': ") and "refused access" in message
    assert "check the credentials the artifact repository names" in message
    assert not set(store.wrong.values()) & set(re.split(r"[\s'\"():,]+", message))
    assert tree(tmp_path / "logs") == {}

    report_pod(cluster, ksvc, message)
    state = serve("tensorboard").get(f"/tensorboards/{NAMESPACE}/{name}").json
    assert state["ready"] is False and state["message"] == f"fetching the logs failed: {message}"
    listed = serve("tensorboard").get(f"/tensorboards/{NAMESPACE}").json
    [instance] = [i for i in listed["instances"] if i["workflow"] == name]
    assert instance["message"] == state["message"]


# --- the fetcher on its own: what is missing, and the budget ------------------------------------------


def plan_for(store: Store, key: str, archive: str, tmp_path: Path) -> tuple[Plan, dict[str, str]]:
    """A plan as the function writes it for ``store`` (secrets as environment variables)."""
    location: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    env = dict(store.env)
    for field_name, value in store.repository("creds")[store.kind].items():
        if isinstance(value, dict):
            secrets[field_name] = f"SECRET_{len(secrets)}"
            env[secrets[field_name]] = store.secret[value["key"]]
        elif field_name == "repoURL":
            location["url"] = f"{value}/{key}"
        else:
            location[field_name] = value
    if store.kind != "artifactory":
        location[store.key_field] = key
    return Plan(str(tmp_path / "logs"), (StoredRun("train", store.kind, archive, location, secrets),),
                allow=LOOPBACK), env


@pytest.mark.parametrize("archive", ["tgz", "none"])
def test_a_missing_object_is_named(store: Store, tmp_path: Path, archive: str, monkeypatch: pytest.MonkeyPatch
                                   ) -> None:
    plan, env = plan_for(store, "nowhere/tensorboard.tgz", archive, tmp_path)
    for variable, value in store.env.items():  # the client reads it from the process's environment
        monkeypatch.setenv(variable, value)
    with pytest.raises(FetchError, match=r"^run 'train': there is no (object|object or directory|file at) "
                                         r"\S*nowhere/tensorboard\.tgz"):
        fetch(plan, env)
    assert tree(tmp_path) == {}


def test_an_unarchived_directory_beyond_the_size_limit_is_refused_before_writing(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if store.kind == "artifactory":
        pytest.skip("Argo stores one file per Artifactory artifact: there is no directory to list")
    for number in range(3):
        store.put(f"big/tensorboard/events.{number}", bytes(2000))
    plan, env = plan_for(store, "big/tensorboard", "none", tmp_path)
    for variable, value in store.env.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(FetchError, match=r"the directory \(3 files\) is 6000 bytes: more than the 5000 bytes left"):
        fetch(dataclasses.replace(plan, max_bytes=5000), env)
    assert tree(tmp_path) == {}
    assert len(tree(fetch(dataclasses.replace(plan, max_bytes=6000), env)[0])) == 3


# --- credentials Argo reads without a Secret ----------------------------------------------------------


def test_gcs_without_a_key_uses_the_pods_identity(gcs: Store, tmp_path: Path) -> None:
    """Workload identity: no serviceAccountKeySecret, so Application Default Credentials (here a key file
    that GOOGLE_APPLICATION_CREDENTIALS names, on GKE the metadata server) say who the pod is."""
    gcs.put("adc/tensorboard.tgz", tgz({"events.1": EVENTS}))
    adc = tmp_path / "adc.json"
    adc.write_text(gcs.secret["key.json"])
    plan = Plan(str(tmp_path / "logs"), (StoredRun("train", "gcs", "tgz", {"bucket": "ml-logs",
                                                                         "key": "adc/tensorboard.tgz"}),))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "ARGOML_FETCH_CONFIG": plan.to_json(), "GOOGLE_APPLICATION_CREDENTIALS": str(adc), **gcs.env}
    result = subprocess.run([sys.executable, "-m", "argoml.tensorboard.fetch"], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "logs") == {"train/events.1": EVENTS}


def test_a_gcs_secret_that_is_not_a_key_file_is_named(gcs: Store, tmp_path: Path) -> None:
    plan = Plan(str(tmp_path / "logs"), (StoredRun("train", "gcs", "tgz", {"bucket": "ml-logs", "key": "k.tgz"},
                                                {"serviceAccountKeySecret": "KEY"}),))
    with pytest.raises(FetchError, match="serviceAccountKeySecret is not a service account key"):
        fetch(plan, {"KEY": "hunter2"})


def test_an_azure_sas_token_in_place_of_the_account_key_is_used_as_argo_does(azure: Store, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    azure.put("sas/tensorboard.tgz", tgz({"events.1": EVENTS}))
    sas = generate_container_sas(AZURITE_ACCOUNT, "ml-logs", account_key=AZURITE_KEY,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=datetime.now(UTC) + timedelta(hours=1))
    location = {k: v for k, v in azure.repository("creds")["azure"].items() if k != "accountKeySecret"}
    plan = Plan(str(tmp_path / "logs"), (StoredRun("train", "azure", "tgz", {**location, "blob": "sas/tensorboard.tgz"},
                                                {"accountKeySecret": "KEY"}),), allow=LOOPBACK)
    assert tree(fetch(plan, {"KEY": sas})[0]) == {"events.1": EVENTS}


def test_each_stores_client_is_imported_only_when_a_plan_uses_that_store(gcs: Store, tmp_path: Path) -> None:
    gcs.put("lazy/tensorboard.tgz", tgz({"events.1": EVENTS}))
    plan = Plan(str(tmp_path / "logs"), (StoredRun("train", "gcs", "tgz", {"bucket": "ml-logs",
                                                                         "key": "lazy/tensorboard.tgz"},
                                                {"serviceAccountKeySecret": "KEY"}),))
    probe = ("import json, os, sys; from argoml.tensorboard import fetch; clients = ('google.cloud.storage', "
             "'azure.storage.blob', 'azure.identity', 'boto3', 'tensorboardX'); "
             "loaded = lambda: sorted(set(sys.modules) & set(clients)); "
             "before = loaded(); fetch.fetch(fetch.Plan.from_json(os.environ['PLAN'])); print(json.dumps([before, "
             "loaded()]))")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "PLAN": plan.to_json(), "KEY": gcs.secret["key.json"], **gcs.env}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [[], ["google.cloud.storage"]]
