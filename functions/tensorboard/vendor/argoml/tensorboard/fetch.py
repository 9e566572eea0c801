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
It handles ``s3`` (through boto3, imported only here) and ``http`` (urllib); :data:`FETCHABLE` is
what the spawner checks.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

CONFIG_ENV = "ARGOML_FETCH_CONFIG"
FETCHABLE = ("s3", "http")
_RUN = re.compile(r"^[A-Za-z0-9_(=:,+-][A-Za-z0-9._()=:,+-]{0,99}$")


class FetchError(Exception):
    """A run could not be fetched; the message says which and why."""


@dataclass(frozen=True)
class StoredRun:
    """One run to fetch: where its logs are stored and how they are packed. ``secrets`` maps a
    secret field's path (``accessKeySecret``, ``auth.basicAuth.passwordSecret``) to the
    environment variable that holds its value."""

    run: str
    kind: str
    archive: str
    location: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict)


# The field that differs between artifacts of one store; the rest of a location is the store's.
_KEY_FIELD = {"azure": "blob", "http": "url", "artifactory": "url"}


@dataclass(frozen=True)
class Plan:
    """What to fetch. As JSON, locations are split into shared stores (bucket, endpoint, credentials)
    and per-run keys, so that a sweep of a thousand trials stays a small environment variable."""

    logdir: str
    sources: tuple[StoredRun, ...]
    max_bytes: int = 0  # what the runs may write in all; 0: no limit

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
                           **({"maxBytes": self.max_bytes} if self.max_bytes else {})})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        try:
            raw = json.loads(text)
            sources = []
            for run in raw["runs"]:
                store = raw["stores"][run["store"]]
                location = {**store["location"], _KEY_FIELD.get(store["kind"], "key"): run["key"]}
                sources.append(StoredRun(run["run"], store["kind"], run["archive"], location, store["secrets"]))
            return cls(str(raw["logdir"]), tuple(sources), int(raw.get("maxBytes") or 0))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise FetchError(f"{CONFIG_ENV} is not a fetch plan: {exc!r}") from None


def fetch(plan: Plan, env: Mapping[str, str] = os.environ) -> list[Path]:
    """Download every run of ``plan``; returns the run directories written."""
    logdir = Path(plan.logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    budget = _Budget(plan.max_bytes)
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
    return written


@dataclass
class _Budget:
    """The bytes the runs may still write (``limit`` 0: unlimited)."""

    limit: int
    used: int = 0

    def spend(self, size: int, what: str) -> None:
        if self.limit and self.used + size > self.limit:
            raise self.exceeded(f"{what} is {size} bytes")
        self.used += size

    def exceeded(self, what: str) -> FetchError:
        return FetchError(f"{what}: more than the {self.limit - self.used} bytes left of the {self.limit}-byte "
                          "limit for the logs")


# --- storages -----------------------------------------------------------------------------------------


def _fetch_s3(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    client, bucket, key = _s3_client(source, env), source.location["bucket"], source.location["key"]
    if source.archive != "none":
        size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        budget.spend(size, "the archive")
        with tempfile.TemporaryFile(dir=target.parent) as archive:
            client.download_fileobj(bucket, key, archive)
            _unpack(archive, source.archive, target, budget)
        budget.used -= size  # the archive was on disk next to what it unpacked to; now it is gone
        return
    prefix = key.rstrip("/") + "/"
    listed = [obj for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
              for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
    target.mkdir(parents=True)
    if not listed:  # the artifact was a single file
        budget.spend(client.head_object(Bucket=bucket, Key=key)["ContentLength"], "the file")
        client.download_file(bucket, key, str(target / _safe_relative(PurePosixPath(key).name)))
    budget.spend(sum(int(obj.get("Size") or 0) for obj in listed), f"the directory ({len(listed)} files)")
    for object_key in (obj["Key"] for obj in listed):
        path = target / _safe_relative(object_key[len(prefix):])
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, object_key, str(path))


def _s3_client(source: StoredRun, env: Mapping[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    location, secrets = source.location, source.secrets
    endpoint = str(location.get("endpoint") or "s3.amazonaws.com")
    if "://" not in endpoint:
        endpoint = ("http://" if location.get("insecure") else "https://") + endpoint
    style = {"path": "path", "virtual-hosted": "virtual"}.get(str(location.get("addressingStyle") or ""))
    # Argo's S3 driver (minio-go) uses path-style requests for endpoints other than AWS's.
    style = style or ("auto" if "amazonaws.com" in endpoint else "path")
    options: dict[str, Any] = {"endpoint_url": endpoint, "region_name": location.get("region") or "us-east-1",
                               "config": Config(s3={"addressing_style": style},
                                                retries={"mode": "standard", "max_attempts": 5})}
    if "accessKeySecret" in secrets:
        options["aws_access_key_id"] = _secret(env, secrets, "accessKeySecret")
        options["aws_secret_access_key"] = _secret(env, secrets, "secretKeySecret")
        if "sessionTokenSecret" in secrets:
            options["aws_session_token"] = _secret(env, secrets, "sessionTokenSecret")
    if "caSecret" in secrets:
        bundle = Path(tempfile.mkdtemp()) / "ca.crt"
        bundle.write_text(_secret(env, secrets, "caSecret"))
        options["verify"] = str(bundle)
    return boto3.client("s3", **options)


def _fetch_http(source: StoredRun, target: Path, env: Mapping[str, str], budget: _Budget) -> None:
    url = str(source.location["url"])
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url!r} is not an http(s) URL")
    headers = {h["name"]: h["value"] for h in source.location.get("headers") or []}
    if "auth.basicAuth.usernameSecret" in source.secrets:
        user = _secret(env, source.secrets, "auth.basicAuth.usernameSecret")
        password = _secret(env, source.secrets, "auth.basicAuth.passwordSecret")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
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


_FETCHERS = {"s3": _fetch_s3, "http": _fetch_http}


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
    archive.seek(0)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    _safe_relative(member)
                # zipfile never reads a member past its declared size, so the declared sizes bound it
                budget.spend(sum(info.file_size for info in bundle.infolist()), "the unpacked archive")
                bundle.extractall(staging)
        else:
            with tarfile.open(fileobj=archive, mode="r:*") as bundle:
                budget.spend(sum(member.size for member in bundle.getmembers() if member.isfile()),
                             "the unpacked archive")
                bundle.extractall(staging, filter="data")
        entries = list(staging.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
        root.rename(target)
    except tarfile.FilterError as exc:
        raise FetchError(f"unsafe archive: {exc}") from None
    except (tarfile.TarError, zipfile.BadZipFile) as exc:
        raise FetchError(f"not a {kind} archive: {exc}") from None
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
        print(f"fetch failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
