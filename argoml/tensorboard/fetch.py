"""The log fetcher: ``python -m argoml.tensorboard.fetch``, the init container of every TensorBoard instance.

It reads its plan from the environment variable ``ARGOML_FETCH_CONFIG`` (JSON written by
:mod:`argoml.tensorboard.instances`: the log directory and, per run, a storage kind, how the artifact is
archived and its location without secrets) and downloads each run into ``<logdir>/<run>``.
Credentials never appear in the plan: the instance's spec maps each secret reference of the
artifact repository to an environment variable through ``secretKeyRef``, and the plan only
names those variables.

Archived artifacts (Argo's default ``.tgz``, or ``.zip``) are unpacked (with the tar "data"
filter: no absolute paths, links out of the tree or device files); when the archive holds a
single top-level directory, as Argo's archives of a directory do, its contents become the run.
Unarchived artifacts (``archive: {none: {}}``) are read as directories: every S3 object under
the key's prefix, or the single file an HTTP URL names. The plan's ``maxBytes`` (the size of the
instance's ``emptyDir``) bounds what is written: an archive whose members add up to more, or an
unarchived artifact larger than what is left, is refused before it fills the volume (a small
archive can expand a thousandfold); downloads are staged in the log directory, so they count too.
Every store Argo's artifact repositories offer is handled (:data:`FETCHABLE` is what the spawner
checks), each by its own driver reading the credentials as Argo's driver for it does: ``s3`` and
``oss`` through boto3 (OSS through its S3-compatible API), ``gcs`` through google-cloud-storage,
``azure`` through azure-storage-blob (and azure-identity for ``useSDKCreds``), ``http`` and
``artifactory`` through urllib. Each client is imported by its driver only: a plan without GCS never
loads Google's libraries, and an image without them still fetches the other stores.

On failure the reason is printed and written to the container's termination message
(:data:`TERMINATION_LOG_ENV` names the file, Kubernetes' ``/dev/termination-log``), which is where
the tensorboard function reads it to report why an instance does not start.

Locations come from a Workflow's status, which whoever may update the Workflow writes, so a
download never goes to a loopback, link-local (cloud metadata: 169.254.169.254,
fd00:ec2::254), unspecified or multicast address, nor to the Kubernetes API server (its
service address, ``KUBERNETES_SERVICE_HOST``, and whatever the plan's ``deny`` lists), unless
the plan's ``allow`` (the operator's ``TENSORBOARD_FETCH_ALLOW``) names the network. Every HTTP
connection, redirects included, is checked against the address it actually dials, after DNS
resolution, so a name that resolves elsewhere the second time (DNS rebinding) gains nothing;
object-store endpoints are checked as resolved before their client starts. Archive reading is
bounded too: entries by count, bytes by the plan's budget, and any damage to the archive is a
:class:`FetchError`.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import os
import re
import shutil
import socket
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

CONFIG_ENV = "ARGOML_FETCH_CONFIG"
TERMINATION_LOG_ENV = "ARGOML_TERMINATION_LOG"
MAX_TERMINATION_MESSAGE = 4096  # what the kubelet keeps of a termination message
FETCHABLE = ("s3", "gcs", "azure", "oss", "artifactory", "http")
_RUN = re.compile(r"^[A-Za-z0-9_(=:,+-][A-Za-z0-9._()=:,+-]{0,99}$")
MAX_MEMBERS = 100_000  # entries of one archive: each costs memory while its index is read, and an inode
API_SERVER_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc")


class FetchError(Exception):
    """A run could not be fetched; the message says which and why."""


@dataclass(frozen=True)
class StoredRun:
    """One run to fetch. ``secrets`` maps a secret field's path (``accessKeySecret``,
    ``auth.basicAuth.passwordSecret``) to the environment variable that holds its value."""

    run: str
    kind: str
    archive: str
    location: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict)


# The field that differs between artifacts of one store; the rest of a location is the store's.
_KEY_FIELD = {"azure": "blob", "http": "url", "artifactory": "url"}


@dataclass(frozen=True)
class Session:
    """One trial of a sweep as TensorBoard's HParams dashboard shows it: its hyperparameters and the
    values its metrics reached (none for a trial that reported none)."""

    trial: int
    hyperparams: Mapping[str, str | float | bool]
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HParams:
    """A sweep's HParams data: the metrics it records (``objective`` first) and a session per run."""

    metrics: tuple[str, ...]
    sessions: Mapping[str, Session]  # by run name

    def to_json(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "sessions": {
            run: {"trial": s.trial, "hyperparams": dict(s.hyperparams), "metrics": dict(s.metrics)}
            for run, s in self.sessions.items()}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HParams:
        return cls(tuple(str(m) for m in raw["metrics"]), {
            str(run): Session(int(s["trial"]), dict(s["hyperparams"]), {k: float(v) for k, v in s["metrics"].items()})
            for run, s in raw["sessions"].items()})


@dataclass(frozen=True)
class Plan:
    """What to fetch. As JSON, locations are split into shared stores (bucket, endpoint, credentials)
    and per-run keys, so that a sweep of a thousand trials stays a small environment variable."""

    logdir: str
    sources: tuple[StoredRun, ...]
    max_bytes: int = 0  # what the runs may write in all; 0: no limit
    deny: tuple[str, ...] = ()  # addresses or networks no download may connect to (the API server's)
    allow: tuple[str, ...] = ()  # networks the operator allows although they are loopback or link-local
    hparams: HParams | None = None  # a sweep's: written beside the runs once they are fetched

    def to_json(self) -> str:
        stores: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        runs = []
        for source in self.sources:
            key_field = _KEY_FIELD.get(source.kind, "key")
            store = {"kind": source.kind, "location": {k: v for k, v in source.location.items() if k != key_field},
                     "secrets": dict(source.secrets)}
            number = index.setdefault(json.dumps(store, sort_keys=True), len(stores))
            if number == len(stores):
                stores.append(store)
            runs.append({"run": source.run, "archive": source.archive, "store": number,
                         "key": source.location.get(key_field)})
        return json.dumps({"logdir": self.logdir, "stores": stores, "runs": runs,
                           **({"maxBytes": self.max_bytes} if self.max_bytes else {}),
                           **({"deny": list(self.deny)} if self.deny else {}),
                           **({"allow": list(self.allow)} if self.allow else {}),
                           **({"hparams": self.hparams.to_json()} if self.hparams else {})})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        try:
            raw = json.loads(text)
            sources = []
            for run in raw["runs"]:
                store = raw["stores"][run["store"]]
                location = {**store["location"], _KEY_FIELD.get(store["kind"], "key"): run["key"]}
                sources.append(StoredRun(run["run"], store["kind"], run["archive"], location, store["secrets"]))
            hparams = HParams.from_json(raw["hparams"]) if raw.get("hparams") else None
            return cls(str(raw["logdir"]), tuple(sources), int(raw.get("maxBytes") or 0),
                       tuple(str(network) for network in raw.get("deny") or ()),
                       tuple(str(network) for network in raw.get("allow") or ()), hparams)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise FetchError(f"{CONFIG_ENV} is not a fetch plan: {exc!r}") from None


def fetch(plan: Plan, env: Mapping[str, str] = os.environ) -> list[Path]:
    """Download every run of ``plan``; returns the run directories written."""
    logdir = Path(plan.logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    budget = _Budget(plan.max_bytes, Destinations.of(plan.deny, env, plan.allow))
    written = []
    for source in plan.sources:
        if not _RUN.match(source.run):
            raise FetchError(f"run name {source.run!r} is not a safe directory name")
        target = logdir / source.run
        if target.exists():  # a restarted init container starts the run afresh
            shutil.rmtree(target)
        if source.kind not in _FETCHERS:
            raise FetchError(f"run {source.run!r}: cannot fetch from {source.kind} storage "
                             f"(the fetcher handles {', '.join(FETCHABLE)})")
        try:
            _FETCHERS[source.kind](source, target, env, budget)
        except FetchError as exc:
            raise FetchError(f"run {source.run!r}: {exc}") from None
        except Exception as exc:
            raise FetchError(f"run {source.run!r}: {type(exc).__name__}: {exc}") from exc
        written.append(target)
        print(f"fetched run {source.run!r} ({source.kind}, archive {source.archive}) into {target}", flush=True)
    if plan.hparams is not None:
        write_hparams(logdir, plan.hparams)
        print(f"wrote the HParams of {len(plan.hparams.sessions)} trials", flush=True)
    return written


@dataclass
class _Budget:
    """The bytes the runs may still write (``limit`` 0: unlimited)."""

    limit: int
    destinations: Destinations = field(default_factory=lambda: Destinations.of((), {}, ()))
    used: int = 0

    def spend(self, size: int, what: str) -> None:
        if self.limit and self.used + size > self.limit:
            raise self.exceeded(f"{what} is {size} bytes")
        self.used += size

    def exceeded(self, what: str) -> FetchError:
        return FetchError(f"{what}: more than the {self.limit - self.used} bytes left of the {self.limit}-byte "
                          "limit for the logs")


# --- where downloads may go ---------------------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Destinations:
    """Which addresses a download may connect to: none that reach the node, the cloud's metadata or the API."""

    denied: tuple[Network, ...]
    allowed: tuple[Network, ...] = ()

    @classmethod
    def of(cls, deny: tuple[str, ...], env: Mapping[str, str], allow: tuple[str, ...] = ()) -> Destinations:
        return cls(_networks([*deny, env.get("KUBERNETES_SERVICE_HOST", "")]), _networks(list(allow)))

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` may not be dialled, or ``None`` if it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):  # the operator's explicit choice
            return None
        if any(address in network for network in self.denied):
            return "the Kubernetes API server"
        if address.is_loopback or address.is_unspecified:
            return "a loopback address"
        if address.is_link_local or any(address in network for network in _METADATA):
            return "a link-local address (cloud metadata lives there)"
        if address.is_multicast or address.is_reserved:
            return "a multicast or reserved address"
        return None

    def check_host(self, host: str) -> None:
        """Refuse a host name that names the API server; a literal address is checked as dialled."""
        name = host.strip().lower().rstrip(".")
        try:
            literal = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            if reason := self.refusal(literal):
                raise FetchError(f"refusing to download from {host!r}: {reason}")
            return
        if name in API_SERVER_NAMES or name.startswith("kubernetes.default.") or name == "localhost" \
                or name.endswith(".localhost") or name in ("metadata", "metadata.google.internal"):
            raise FetchError(f"refusing to download from {host!r}: it names this cluster's API server, the node "
                             "or the cloud's metadata service")

    def check_url(self, url: str) -> None:
        """Refuse a URL whose host names, or now resolves to, an address this policy refuses.

        For object stores, whose clients dial by themselves; HTTP downloads are checked again as
        they connect (:meth:`connect`).
        """
        host = urllib.parse.urlsplit(url).hostname or ""
        self.check_host(host)
        try:
            resolved = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
        except (socket.gaierror, UnicodeError):
            return  # the client reports a name that does not resolve
        for address in sorted(resolved):
            if reason := self.refusal(ipaddress.ip_address(address)):
                raise FetchError(f"refusing to download from {host!r}: it resolves to {address}, {reason}")

    def connect(self, address: tuple[str, int], timeout: float | None = None,
                source_address: tuple[str, int] | None = None) -> socket.socket:
        """``socket.create_connection`` that dials only addresses this policy allows, checked after resolution."""
        host, port = address
        self.check_host(host)
        try:
            candidates = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve {host!r}: {exc}") from None
        error: Exception | None = None
        for family, kind, proto, _, sockaddr in candidates:
            ip = ipaddress.ip_address(sockaddr[0])
            if reason := self.refusal(ip):
                error = FetchError(f"refusing to download from {host!r}: it resolves to {ip}, {reason}")
                continue
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not None:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or FetchError(f"cannot resolve {host!r}")


def _networks(entries: list[str]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)


_METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::254/128"),
             ipaddress.ip_network("100.100.100.200/32"))  # AWS, GCP, Azure (link-local); AWS IPv6; Alibaba


def _guarded_opener(destinations: Destinations) -> urllib.request.OpenerDirector:
    """An opener whose every connection (redirects included) goes through ``destinations``, with no proxies."""

    def guard(connection_class: type[http.client.HTTPConnection]) -> Any:
        def build(host: str, **options: Any) -> http.client.HTTPConnection:
            connection = connection_class(host, **options)
            connection._create_connection = destinations.connect  # type: ignore[attr-defined]
            return connection
        return build

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(guard(http.client.HTTPConnection), req)

    class Secure(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(guard(http.client.HTTPSConnection), req, context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), Plain, Secure)


# --- storages -----------------------------------------------------------------------------------------
#
# One driver per store. Object stores (s3, oss, gcs, azure) each supply an _Objects: how big one object
# is, what lies under a prefix and how to download one; _fetch_objects applies the archive, directory and
# budget rules to all of them alike. Each store's client is imported inside its driver only, so a plan
# that names S3 never loads Google's or Azure's libraries (and an image without them still fetches S3).


class _Objects(Protocol):
    def describe(self, key: str) -> str: ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes; ``None`` when there is no such object."""

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every object whose key starts with ``prefix``."""

    def download(self, key: str, out: IO[bytes]) -> None: ...


def _fetch_objects(objects: _Objects, key: str, source: StoredRun, target: Path, budget: _Budget) -> None:
    """Fetch ``key`` as Argo stored it: an archive to unpack, a directory (every object under
    ``<key>/``) or a single file."""
    if source.archive != "none":
        size = objects.size(key)
        if size is None:
            raise FetchError(f"there is no object {objects.describe(key)}")
        budget.spend(size, "the archive")
        with tempfile.TemporaryFile(dir=target.parent) as archive:
            objects.download(key, archive)
            _unpack(archive, source.archive, target, budget)
        budget.used -= size  # the archive was on disk next to what it unpacked to; now it is gone
        return
    prefix = key.rstrip("/") + "/"
    listed = [(name, size) for name, size in objects.listing(prefix) if not name.endswith("/")]
    if not listed:  # the artifact was a single file
        size = objects.size(key)
        if size is None:
            raise FetchError(f"there is no object or directory {objects.describe(key)}")
        budget.spend(size, "the file")
        listed, prefix = [(key, size)], key[:len(key) - len(PurePosixPath(key).name)]
    else:
        budget.spend(sum(size for _, size in listed), f"the directory ({len(listed)} files)")
    target.mkdir(parents=True)
    for name, _ in listed:
        path = target / _safe_relative(name[len(prefix):])
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            objects.download(name, out)


def _denied(store: str, detail: str) -> FetchError:
    return FetchError(f"{store} refused access ({detail}): check the credentials the artifact repository names")


# S3, and Alibaba OSS through its S3-compatible API: boto3 speaks both, so OSS needs no client of its own.


@dataclass
class _Boto3Objects:
    client: Any
    bucket: str
    store: str  # "s3" or "oss", for messages

    def describe(self, key: str) -> str:
        return f"{self.store}://{self.bucket}/{key}"

    def size(self, key: str) -> int | None:
        with self._errors(key):
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            except Exception as exc:
                if _s3_status(exc) == 404:
                    return None
                raise

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        with self._errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [(obj["Key"], int(obj.get("Size") or 0)) for page in pages for obj in page.get("Contents", [])]

    def download(self, key: str, out: IO[bytes]) -> None:
        with self._errors(key):
            self.client.download_fileobj(self.bucket, key, out)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from botocore.exceptions import ClientError, NoCredentialsError

        try:
            yield
        except NoCredentialsError:
            raise FetchError(f"no credentials for {self.describe(key)}: the artifact repository names no "
                             "accessKeySecret and the pod has no identity of its own") from None
        except ClientError as exc:
            error = exc.response.get("Error") or {}
            detail = f"{error.get('Code') or _s3_status(exc)}: {error.get('Message') or exc}"
            if _s3_status(exc) in (401, 403):
                raise _denied(f"{self.describe(key)}", detail) from None
            if error.get("Code") == "NoSuchBucket":
                raise FetchError(f"there is no bucket {self.store}://{self.bucket}") from None
            raise FetchError(f"{self.describe(key)}: {detail}") from None


def _s3_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    return (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")


def _boto3_client(endpoint: str, region: str, style: str, source: StoredRun, env: Mapping[str, str],
                  session_token: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    secrets = source.secrets
    options: dict[str, Any] = {"endpoint_url": endpoint, "region_name": region,
                               "config": Config(s3={"addressing_style": style},
                                                retries={"mode": "standard", "max_attempts": 5})}
    if "accessKeySecret" in secrets:
        options["aws_access_key_id"] = _secret(env, secrets, "accessKeySecret")
        options["aws_secret_access_key"] = _secret(env, secrets, "secretKeySecret")
        if "sessionTokenSecret" in secrets:
            options["aws_session_token"] = _secret(env, secrets, "sessionTokenSecret")
        elif session_token:
            options["aws_session_token"] = session_token
    if "caSecret" in secrets:
        bundle = Path(tempfile.mkdtemp()) / "ca.crt"
        bundle.write_text(_secret(env, secrets, "caSecret"))
        options["verify"] = str(bundle)
    return boto3.client("s3", **options)


def _endpoint_url(endpoint: str, insecure: bool) -> str:
    return endpoint if "://" in endpoint else ("http://" if insecure else "https://") + endpoint


def _fetch_s3(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    location = source.location
    endpoint = _endpoint_url(str(location.get("endpoint") or "s3.amazonaws.com"), bool(location.get("insecure")))
    style = {"path": "path", "virtual-hosted": "virtual"}.get(str(location.get("addressingStyle") or ""))
    # Argo's S3 driver (minio-go) uses path-style requests for endpoints other than AWS's.
    style = style or ("auto" if "amazonaws.com" in endpoint else "path")
    budget.destinations.check_url(endpoint)
    client = _boto3_client(endpoint, str(location.get("region") or "us-east-1"), style, source, env)
    _fetch_objects(_Boto3Objects(client, str(location["bucket"]), "s3"), str(location["key"]), source, target,
                   budget)


# Alibaba's own endpoints (oss-<region>[-internal].aliyuncs.com, as Argo's OSS driver is given them) serve
# the S3 protocol at s3.oss-<region>[-internal].aliyuncs.com, virtual-hosted only; other endpoints (an
# OSS-compatible server, a test's) are used as they are, path-style.
_ALIYUN = re.compile(r"^(?:s3\.)?oss-(?P<region>[a-z0-9-]+?)(?P<internal>-internal)?\.aliyuncs\.com$")


def _fetch_oss(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    location = source.location
    endpoint = _endpoint_url(str(location.get("endpoint") or ""), False)
    parts = urllib.parse.urlsplit(endpoint)
    region, style = "us-east-1", "path"
    if match := _ALIYUN.match(parts.hostname or ""):
        region, style = match["region"], "virtual"
        endpoint = f"{parts.scheme}://s3.oss-{match['region']}{match['internal'] or ''}.aliyuncs.com"
    budget.destinations.check_url(endpoint)
    client = _boto3_client(endpoint, region, style, source, env, str(location.get("securityToken") or "") or None)
    _fetch_objects(_Boto3Objects(client, str(location["bucket"]), "oss"), str(location["key"]), source, target,
                   budget)


# Google Cloud Storage: google-cloud-storage, with the repository's service account key, or without one
# the pod's own identity (GKE Workload Identity, through Application Default Credentials) as Argo does.

_GCS_SCOPES = ("https://www.googleapis.com/auth/devstorage.read_only",)


@dataclass
class _GcsObjects:
    client: Any
    bucket: str

    def describe(self, key: str) -> str:
        return f"gs://{self.bucket}/{key}"

    def size(self, key: str) -> int | None:
        with self._errors(key):
            blob = self.client.bucket(self.bucket).get_blob(key)
        return None if blob is None else int(blob.size or 0)

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        with self._errors(prefix):
            return [(blob.name, int(blob.size or 0)) for blob in self.client.list_blobs(self.bucket, prefix=prefix)]

    def download(self, key: str, out: IO[bytes]) -> None:
        with self._errors(key):
            self.client.bucket(self.bucket).blob(key).download_to_file(out)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from google.api_core import exceptions
        from google.auth.exceptions import RefreshError

        try:
            yield
        except RefreshError as exc:
            raise _denied(self.describe(key), f"the service account's token was refused: {exc}") from None
        except (exceptions.Unauthorized, exceptions.Forbidden) as exc:
            raise _denied(self.describe(key), f"{exc.code}: {exc.message}") from None
        except exceptions.NotFound as exc:
            raise FetchError(f"there is no bucket gs://{self.bucket} ({exc.message})") from None


def _fetch_gcs(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import storage
    from google.oauth2 import service_account

    project: str | None
    if "serviceAccountKeySecret" in source.secrets:
        text = _secret(env, source.secrets, "serviceAccountKeySecret")
        try:
            info = json.loads(text)
            credentials = service_account.Credentials.from_service_account_info(info, scopes=_GCS_SCOPES)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FetchError(f"serviceAccountKeySecret is not a service account key (a JSON key file): "
                             f"{type(exc).__name__}: {exc}") from None
        project = info.get("project_id")
    else:
        try:
            credentials, project = google.auth.default(scopes=_GCS_SCOPES)
        except DefaultCredentialsError as exc:
            raise FetchError(f"the artifact repository names no serviceAccountKeySecret and the pod has no "
                             f"workload identity: {exc}") from None
    client = storage.Client(project=project or "-", credentials=credentials)
    _fetch_objects(_GcsObjects(client, str(source.location["bucket"])), str(source.location["key"]), source,
                   target, budget)


# Azure Blob Storage: azure-storage-blob, with the account key (or a SAS token in its place, as Argo
# accepts) from accountKeySecret, or with useSDKCreds the pod's own identity (azure-identity's
# DefaultAzureCredential: workload identity, managed identity, environment).

_SAS = re.compile(r"(\?|&)([^=]+)=([^&]+)")  # how Argo tells a SAS token from an account key


@dataclass
class _AzureObjects:
    container: Any  # a ContainerClient
    url: str

    def describe(self, key: str) -> str:
        return f"{self.url}/{key}"

    def size(self, key: str) -> int | None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(key):
            try:
                return int(self.container.get_blob_client(key).get_blob_properties().size)
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) == "ContainerNotFound":
                    raise
                return None

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        with self._errors(prefix):
            return [(blob.name, int(blob.size or 0)) for blob in self.container.list_blobs(name_starts_with=prefix)]

    def download(self, key: str, out: IO[bytes]) -> None:
        with self._errors(key):
            self.container.download_blob(key).readinto(out)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

        try:
            yield
        except ResourceNotFoundError:
            raise FetchError(f"there is no container {self.url}") from None
        except ClientAuthenticationError as exc:
            raise _denied(self.describe(key), _first_line(exc)) from None
        except HttpResponseError as exc:
            detail = f"{exc.status_code} {getattr(exc, 'error_code', '')}: {_first_line(exc)}"
            if exc.status_code in (401, 403):
                raise _denied(self.describe(key), detail) from None
            raise FetchError(f"{self.describe(key)}: {detail}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _azure_account(url: str) -> str:
    """The storage account a container URL belongs to, as Argo reads it: the first label of the host,
    or the first path segment for a local emulator (127.0.0.1 or localhost)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host.startswith(("127.0.0.1", "localhost")):
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) < 2:
            raise FetchError(f"cannot tell the storage account from {url}")
        return segments[0]
    return host.split(".")[0]


def _fetch_azure(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    from azure.storage.blob import ContainerClient

    location = source.location
    url = f"{str(location['endpoint']).rstrip('/')}/{location['container']}"
    budget.destinations.check_url(url)
    if location.get("useSDKCreds"):
        from azure.identity import DefaultAzureCredential

        container = ContainerClient.from_container_url(url, credential=DefaultAzureCredential())
    else:
        if "accountKeySecret" not in source.secrets:
            raise FetchError("the artifact repository names no accountKeySecret and does not set useSDKCreds")
        key = _secret(env, source.secrets, "accountKeySecret")
        if _SAS.search(key):
            container = ContainerClient.from_container_url(f"{url}?{key.lstrip('?')}")
        else:
            container = ContainerClient.from_container_url(
                url, credential={"account_name": _azure_account(url), "account_key": key})
    _fetch_objects(_AzureObjects(container, url), str(location["blob"]), source, target, budget)


# HTTP(S), and Artifactory (an HTTP GET with basic auth from usernameSecret/passwordSecret, as Argo's
# Artifactory driver does it; Argo stores one file per artifact there, so "unarchived" is that file).


def _fetch_http(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    headers = {h["name"]: h["value"] for h in source.location.get("headers") or []}
    if "auth.basicAuth.usernameSecret" in source.secrets:
        headers["Authorization"] = _basic(env, source.secrets, "auth.basicAuth.usernameSecret",
                                          "auth.basicAuth.passwordSecret")
    _download_url(str(source.location["url"]), headers, source, target, budget)


def _fetch_artifactory(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    headers = {}
    if "usernameSecret" in source.secrets:
        headers["Authorization"] = _basic(env, source.secrets, "usernameSecret", "passwordSecret")
    _download_url(str(source.location["url"]), headers, source, target, budget)


def _basic(env: Mapping[str, str], secrets: Mapping[str, str], user_field: str, password_field: str) -> str:
    user, password = _secret(env, secrets, user_field), _secret(env, secrets, password_field)
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _download_url(url: str, headers: Mapping[str, str], source: StoredRun, target: Path, budget: _Budget) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url!r} is not an http(s) URL")
    budget.destinations.check_url(url)
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        response = _guarded_opener(budget.destinations).open(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise _denied(f"{source.kind} {url}", f"HTTP {exc.code} {exc.reason}") from None
        if exc.code == 404:
            raise FetchError(f"there is no file at {url} (HTTP 404)") from None
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    with response:
        if source.archive == "none":  # straight into place: no second copy on the volume
            name = PurePosixPath(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name or "artifact"
            path = target / _safe_relative(name)
            target.mkdir(parents=True)
            with path.open("wb") as out:
                _copy_within(response, out, budget)
            return
        with tempfile.TemporaryFile(dir=target.parent) as body:
            _copy_within(response, body, budget)
            size = body.tell()
            _unpack(body, source.archive, target, budget)
    budget.used -= size  # the archive was on disk next to what it unpacked to; now it is gone


Driver = Callable[[StoredRun, Path, Mapping[str, str], _Budget], None]
_FETCHERS: dict[str, Driver] = {"s3": _fetch_s3, "oss": _fetch_oss, "gcs": _fetch_gcs, "azure": _fetch_azure,
                                "http": _fetch_http, "artifactory": _fetch_artifactory}


# --- a sweep's HParams ---------------------------------------------------------------------------------
#
# TensorBoard's HParams dashboard reads an experiment (which hyperparameters and metrics exist) and, per
# session, its hyperparameters and the metrics' scalars. tensorboardX writes them (its hparams summaries
# are TensorBoard's own plugin protos; the tensorboard package's summary API needs TensorFlow), imported
# here only. Each run's session goes into its own subdirectory, <run>/argoml-hparams, as tensorboardX's
# add_hparams does, so that a metric's scalar can never mix with a series the trial logged itself.

HPARAMS_DIR = "argoml-hparams"


def write_hparams(logdir: Path, hparams: HParams) -> None:
    """The experiment at ``logdir`` and each run's session beside its logs."""
    from tensorboardX import FileWriter
    from tensorboardX.summary import hparams as hparams_summaries
    from tensorboardX.summary import scalar

    every: dict[str, str | float | bool] = {}
    for session in hparams.sessions.values():
        every.update({k: v for k, v in session.hyperparams.items() if k not in every})
    experiment, _, _ = hparams_summaries(every, dict.fromkeys(hparams.metrics, 0.0))
    writer = FileWriter(str(logdir), filename_suffix=".argoml-experiment")
    writer.add_summary(experiment)
    writer.close()
    for run, session in hparams.sessions.items():
        _, start, end = hparams_summaries(dict(session.hyperparams), dict(session.metrics))
        writer = FileWriter(str(logdir / _safe_relative(run) / HPARAMS_DIR))
        writer.add_summary(start)
        for metric, value in session.metrics.items():
            writer.add_summary(scalar(metric, value), global_step=session.trial)
        writer.add_summary(end)
        writer.close()


# --- unpacking ----------------------------------------------------------------------------------------


def _copy_within(source: IO[bytes], out: IO[bytes], budget: _Budget) -> None:
    """Copy ``source`` to ``out``, spending the budget as it goes (a body need not say its length)."""
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if budget.limit and budget.used + copied > budget.limit:
            raise budget.exceeded("the download")
        out.write(chunk)
    budget.used += copied


def _unpack(archive: IO[bytes], kind: str, target: Path, budget: _Budget) -> None:
    """Unpack ``archive`` into ``target``: within the budget and the run's directory, or a :class:`FetchError`."""
    archive.seek(0)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as bundle:
                infos = bundle.infolist()
                if len(infos) > MAX_MEMBERS:
                    raise FetchError(f"the archive has more than {MAX_MEMBERS} entries")
                for info in infos:
                    _safe_relative(info.filename)
                # zipfile never reads a member past its declared size, so the declared sizes bound it
                budget.spend(sum(info.file_size for info in infos), "the unpacked archive")
                bundle.extractall(staging)
        else:
            with tarfile.open(fileobj=archive, mode="r:*") as bundle:
                members: list[tarfile.TarInfo] = []
                size = 0
                for member in bundle:  # one at a time, so that a huge index is refused before it is all read
                    members.append(member)
                    if len(members) > MAX_MEMBERS:
                        raise FetchError(f"the archive has more than {MAX_MEMBERS} entries")
                    size += member.size if member.isfile() else 0
                budget.spend(size, "the unpacked archive")
                bundle.extractall(staging, members=members, filter="data")
        entries = list(staging.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() else staging
        root.rename(target)
    except tarfile.FilterError as exc:
        raise FetchError(f"unsafe archive: {exc}") from None
    except FetchError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile) as exc:
        raise FetchError(f"not a {kind} archive: {exc}") from None
    except (zipfile.LargeZipFile, EOFError, zlib.error, OSError, ValueError,
            NotImplementedError, RuntimeError, LookupError, UnicodeError, OverflowError) as exc:
        # damaged, truncated, encrypted or oddly compressed: whatever the reader trips on, the archive is at fault
        raise FetchError(f"not a readable {kind} archive: {type(exc).__name__}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_relative(name: str) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise FetchError(f"refusing to write {name!r} outside the run's directory")
    return Path(*path.parts)


def _secret(env: Mapping[str, str], secrets: Mapping[str, str], field_path: str) -> str:
    variable = secrets.get(field_path)
    if not variable or variable not in env:
        raise FetchError(f"the credential {field_path} is not available (environment variable {variable})")
    return env[variable]


def main() -> int:
    try:
        plan = Plan.from_json(os.environ.get(CONFIG_ENV, ""))
        fetch(plan)
    except FetchError as exc:
        message = f"fetch failed: {exc}"
        print(message, file=sys.stderr, flush=True)
        if path := os.environ.get(TERMINATION_LOG_ENV):
            with contextlib.suppress(OSError):
                Path(path).write_text(message[:MAX_TERMINATION_MESSAGE])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
