"""An in-memory Kubernetes API server, reached over HTTP by the real ``kubernetes`` client.

It extends kmock's ``KubernetesEmulator`` (which serves discovery and records every
request) with the semantics of :class:`~argoml.dev.store.Store`, answers watches as
a stream of JSON lines, serves TokenReview/SubjectAccessReview from tables a test
fills in, and can be told to fail chosen requests. :class:`Emulator` runs it on a
loopback port in a background thread, so synchronous code (the functions, the
tests, the demo) talks to it like to a cluster, through a kubeconfig file.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml

from argoml.dev.store import ApiError, ResourceType, Store
from argoml.kube import Obj

API_SERVER_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
REVIEW_GROUPS = {"authentication.k8s.io": "tokenreviews", "authorization.k8s.io": "subjectaccessreviews"}


@dataclass(frozen=True)
class Call:
    """One API request as RBAC sees it, and who made it (the client's User-Agent product)."""

    agent: str
    verb: str
    group: str
    resource: str
    namespace: str | None
    name: str | None


EXPIRED_CONTINUE = ("The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this response "
                    "to retrieve the remainder of the results.")


class Verbatim:
    """A value served as the JSON text it holds, never parsed or copied by the emulator.

    Lets a test store what Python's ``json`` cannot nest (an object a user wrote 1,500
    levels deep: the API server accepts 10,000) and have it served as a cluster would.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def __deepcopy__(self, memo: dict[int, Any]) -> Verbatim:
        return self


def _dumps(value: Any) -> str:
    texts: list[str] = []

    def placeholder(item: Any) -> str:
        if not isinstance(item, Verbatim):
            raise TypeError(f"{type(item).__name__} is not JSON serializable")
        texts.append(item.text)
        return f"\x00verbatim-{len(texts) - 1}\x00"

    encoded = json.dumps(value, default=placeholder)
    for index, text in enumerate(texts):
        encoded = encoded.replace(json.dumps(f"\x00verbatim-{index}\x00"), text)
    return encoded


@dataclass
class Failure:
    """Answer matching requests with ``status`` instead of serving them, ``times`` times."""

    status: int
    method: str | None = None
    resource: str | None = None  # plural, optionally with /subresource
    name: str | None = None
    times: int = 1
    after: int = 0  # let this many matching requests through first
    message: str | None = None  # the Status message, e.g. an admission webhook's denial


@dataclass
class AccessTables:
    """Who the emulated cluster knows: bearer token -> user, and what each user or group may do."""

    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (subject, verb, group, resource, namespace) tuples that are allowed; namespace "*" for any. The
    # subject is a username, or "group:<name>" for everyone in that group (as a RoleBinding to a Group).
    grants: set[tuple[str, str, str, str, str]] = field(default_factory=set)
    reviews: list[dict[str, Any]] = field(default_factory=list)  # the spec of each SubjectAccessReview asked

    def allows(self, user: str, verb: str, group: str, resource: str, namespace: str,
               groups: Iterable[str] = ()) -> bool:
        subjects = [user, *(f"group:{name}" for name in groups)]
        return any((subject, verb, group, resource, ns) in self.grants for subject in subjects
                   for ns in (namespace, "*"))


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    store: Store = attrs.field(factory=Store)
    access: AccessTables = attrs.field(factory=AccessTables)
    calls: list[Call] = attrs.field(factory=list)
    failures: list[Failure] = attrs.field(factory=list)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is None:
            return await super()._handle(request)
        try:
            group, version = request.resource.group or "", request.resource.version or ""
            plural = request.resource.plural or ""
            if group in REVIEW_GROUPS and plural == REVIEW_GROUPS[group]:
                self._record(request, group, plural)
                return aiohttp.web.json_response(self._review(plural, request.data), status=201)
            resource = self.store.type_of(group, version, plural)
            self._record(request, resource.group, resource.plural)
            self._inject_failure(request)
            if request.params.get("watch") in ("true", "1"):
                return await self._watch(request, resource)
            created = request.name is None and str(request.method.value).upper() == "POST"
            return aiohttp.web.json_response(self._serve(request, resource), status=201 if created else 200,
                                             dumps=_dumps)
        except ApiError as exc:
            return aiohttp.web.json_response(exc.status(), status=exc.code)

    def _serve(self, request: kmock.Request, resource: ResourceType) -> Obj:
        store, params, method = self.store, request.params, str(request.method.value).upper()
        namespace, name, sub = request.namespace, request.name, request.subresource
        if name is None:
            if method == "GET":
                return store.list(resource, namespace, label_selector=params.get("labelSelector", ""),
                                  field_selector=params.get("fieldSelector", ""),
                                  limit=int(params.get("limit") or 0), continue_token=params.get("continue", ""))
            if method == "POST":
                return store.create(resource, namespace, request.data, dry_run="dryRun" in params)
        elif method == "GET":
            return store.get(resource, namespace, name)
        elif method == "PUT":
            return store.replace(resource, namespace, name, request.data, subresource=sub)
        elif method == "PATCH":
            content_type = request.headers.get("Content-Type", "application/merge-patch+json")
            return store.patch(resource, namespace, name, request.data, content_type, subresource=sub)
        elif method == "DELETE":
            options = request.data if isinstance(request.data, dict) else {}
            propagation = options.get("propagationPolicy") or params.get("propagationPolicy") or "Background"
            return store.delete(resource, namespace, name, propagation=propagation,
                                preconditions=options.get("preconditions"))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on this path")

    async def _watch(self, request: kmock.Request, resource: ResourceType) -> aiohttp.web.StreamResponse:
        params = request.params
        label_selector, field_selector = params.get("labelSelector", ""), params.get("fieldSelector", "")
        since = int(params.get("resourceVersion") or 0)
        timeout = float(params.get("timeoutSeconds") or 300)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        assert request._raw_request is not None, "kmock passes the aiohttp request it serves"
        await response.prepare(request._raw_request)
        if not since:
            listing = self.store.list(resource, request.namespace, label_selector=label_selector,
                                      field_selector=field_selector)
            for item in listing["items"]:
                await response.write(json.dumps({"type": "ADDED", "object": item}).encode() + b"\n")
            since = int(listing["metadata"]["resourceVersion"])
        loop, changed = asyncio.get_running_loop(), asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(changed.set)

        self.store.listeners.append(wake)
        try:
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                changed.clear()
                for event in self.store.events_since(resource, request.namespace, since, label_selector,
                                                     field_selector):
                    line = {"type": event.type, "object": event.object}
                    await response.write(json.dumps(line).encode() + b"\n")
                    since = event.resource_version
                try:
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, deadline - loop.time()))
                except TimeoutError:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.listeners.remove(wake)
        return response

    def _record(self, request: kmock.Request, group: str, plural: str) -> None:
        method, params = str(request.method.value).upper(), request.params
        if method == "GET":
            verb = "watch" if params.get("watch") in ("true", "1") else ("get" if request.name else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method)
        if request.subresource:
            plural = f"{plural}/{request.subresource}"
        agent = request.headers.get("User-Agent", "").split("/")[0]
        self.calls.append(Call(agent, verb, group, plural, request.namespace, request.name))

    def _inject_failure(self, request: kmock.Request) -> None:
        method = str(request.method.value).upper()
        plural = (request.resource.plural if request.resource else "") or ""
        plural += f"/{request.subresource}" if request.subresource else ""
        for failure in self.failures:
            if (failure.times > 0 and failure.method in (None, method) and failure.resource in (None, plural)
                    and failure.name in (None, request.name)):
                if failure.after > 0:
                    failure.after -= 1
                    continue
                failure.times -= 1
                if failure.status == 410 and (token := request.params.get("continue")):
                    # As etcd answers a continue token older than its compaction: with a token to go on from
                    # the same key in the latest snapshot (the emulator's tokens are keys, so the same one).
                    raise ApiError(410, "Expired", EXPIRED_CONTINUE, metadata={"continue": token})
                raise ApiError(failure.status, "InternalError" if failure.status >= 500 else "Injected",
                               failure.message or f"injected failure for {method} {plural}")

    def _review(self, plural: str, body: Any) -> Obj:
        spec = body.get("spec", {}) if isinstance(body, dict) else {}
        status: Obj
        if plural == "tokenreviews":
            status = self._token_review(spec)
        else:
            self.access.reviews.append(spec)
            attrs_ = spec.get("resourceAttributes") or {}
            allowed = self.access.allows(spec.get("user", ""), attrs_.get("verb", ""), attrs_.get("group", ""),
                                         attrs_.get("resource", ""), attrs_.get("namespace", ""),
                                         spec.get("groups") or ())
            status = {"allowed": allowed}
        return {**(body if isinstance(body, dict) else {}), "status": status}


    def _token_review(self, spec: Obj) -> Obj:
        """As the API server: a token is valid for the audiences it was issued for (``audiences`` in
        its entry; the API server's own when absent), and a review asking for others fails."""
        entry = self.access.tokens.get(spec.get("token", ""))
        if entry is None:
            return {"authenticated": False}
        user = {key: value for key, value in entry.items() if key != "audiences"}
        issued_for = entry.get("audiences") or [API_SERVER_AUDIENCE]
        wanted = spec.get("audiences") or [API_SERVER_AUDIENCE]
        matched = [audience for audience in wanted if audience in issued_for]
        if not matched:
            return {"authenticated": False, "error": "token audiences do not match the requested audiences"}
        return {"authenticated": True, "user": user, "audiences": matched}


class Emulator:
    """A :class:`ClusterEmulator` served on 127.0.0.1 from a background thread.

    Use as a context manager; ``kubeconfig`` is a file that points the ``kubernetes``
    client at it (set ``KUBECONFIG`` to it).
    """

    def __init__(self) -> None:
        self.handler = ClusterEmulator()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="argoml-emulator-")
        self.url = ""
        self.kubeconfig = Path(self._tmp.name) / "kubeconfig"

    @property
    def store(self) -> Store:
        return self.handler.store

    @property
    def calls(self) -> list[Call]:
        return self.handler.calls

    @property
    def access(self) -> AccessTables:
        return self.handler.access

    def fail(self, status: int, *, method: str | None = None, resource: str | None = None,
             name: str | None = None, times: int = 1, after: int = 0, message: str | None = None) -> None:
        """Answer the matching requests ``times`` times with ``status`` (and ``message``), once ``after``
        have been served."""
        self.handler.failures.append(Failure(status, method, resource, name, times, after, message))

    def reset(self) -> None:
        self.store.clear()
        self.calls.clear()
        self.handler.failures.clear()
        self.access.tokens.clear()
        self.access.grants.clear()
        self.access.reviews.clear()

    def __enter__(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the Kubernetes API emulator did not start")
        self.kubeconfig.write_text(yaml.safe_dump(_kubeconfig(self.url)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self._tmp.cleanup()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.handler, kmock.Server(self.handler) as server:
            self.url = f"http://127.0.0.1:{server.port}"
            self._ready.set()
            await self._stop.wait()


def _kubeconfig(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": "emulator"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
    }


