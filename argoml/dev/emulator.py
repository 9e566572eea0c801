"""An in-memory Kubernetes API server, reached over HTTP by the real ``kubernetes`` client and kubectl.

It extends kmock's ``KubernetesEmulator`` (its server and handler plumbing) and answers every
request itself: resources from :class:`~argoml.dev.store.Store` (watches as a stream of JSON
lines, ``kubectl get``'s Tables from :mod:`~argoml.dev.tables`), discovery and OpenAPI from
:mod:`~argoml.dev.discovery`, TokenReview/SubjectAccessReview from tables a test fills in,
and chosen failures it is told to inject. Every emulated cluster starts with the product's
CRDs (:mod:`~argoml.dev.crds`), and a CRD created over the API is served like on a cluster.
What is not served answers as an API server would: a 404 or 405 with a ``Status``.
:class:`Emulator` runs it on a loopback port in a background thread, so synchronous code (the
functions, the tests, the demo, ``make run``) talks to it like to a cluster, through a
kubeconfig file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp.web
import attrs
import kmock
import yaml

from argoml.dev import crds, discovery, protobuf, tables
from argoml.dev.store import ApiError, ResourceType, Store
from argoml.kube import Obj

API_SERVER_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
REVIEW_GROUPS = {"authentication.k8s.io": "tokenreviews", "authorization.k8s.io": "subjectaccessreviews"}
CRD_GROUP, CRD_VERSION, CRD_PLURAL = "apiextensions.k8s.io", "v1", "customresourcedefinitions"
HEALTH_PATHS = ("healthz", "livez", "readyz")
TOKEN = "emulator"  # the bearer token its kubeconfig carries
logger = logging.getLogger(__name__)


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


class Selectors(NamedTuple):
    labels: str
    fields: str


@dataclass
class ApiRequest:
    """One HTTP request, with the resource path it names (when it names one) resolved."""

    method: str
    segments: list[str]
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    raw: aiohttp.web.BaseRequest
    group: str = ""
    resource: ResourceType | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @classmethod
    async def read(cls, raw: aiohttp.web.BaseRequest) -> ApiRequest:
        return cls(raw.method.upper(), [part for part in raw.path.split("/") if part],
                   {key: raw.query[key] for key in raw.query}, raw.headers, await raw.read(), raw)

    def data(self) -> Any:
        """The body: JSON, or YAML for server-side apply; 400 when it is neither."""
        if not self.body:
            return None
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == protobuf.MEDIA_TYPE:
            return protobuf.decode(self.body)
        try:
            if content_type == "application/apply-patch+yaml":
                return yaml.safe_load(self.body)
            return json.loads(self.body)
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, "BadRequest", f"the request body could not be decoded: {exc}") from None

    @property
    def plural(self) -> str:
        return self.resource.plural if self.resource else ""


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    store: Store = attrs.field(factory=Store)
    access: AccessTables = attrs.field(factory=AccessTables)
    calls: list[Call] = attrs.field(factory=list)
    failures: list[Failure] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for crd in crds.product_crds():
            self._serve_crd(crd)

    def install_crds(self) -> None:
        """Store the product's CRDs (argoml's, Argo's, Knative Serving's) as a cluster has them; their kinds are
        served either way (tests of what a function does without a CRD object leave it out)."""
        crd_type = self.store.type_of(CRD_GROUP, CRD_VERSION, CRD_PLURAL)
        for crd in crds.product_crds():
            self.store.create(crd_type, None, crd)

    def _serve_crd(self, crd: Any) -> None:
        try:
            for resource in crds.served_types(crd):
                self.store.register(resource)
        except ValueError as exc:
            raise ApiError(422, "Invalid", str(exc)) from None

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            request = await ApiRequest.read(raw)
            return await self._route(request)
        except ApiError as exc:
            return _status_response(exc)
        except Exception as exc:  # a defect of the emulator itself: answered as the API server does
            logger.exception("the emulator failed on %s %s", raw.method, raw.path)
            return _status_response(ApiError(500, "InternalError", f"an error on the server (the argo-ml "
                                             f"emulator) prevented the request from succeeding: {exc!r}"))

    async def _route(self, request: ApiRequest) -> aiohttp.web.StreamResponse:
        segments = request.segments
        if (segments[:1] == ["api"] and len(segments) > 2) or (segments[:1] == ["apis"] and len(segments) > 3):
            return await self._resource_request(request)
        if request.method not in ("GET", "HEAD"):
            if segments[:1] in (["api"], ["apis"]) or segments in ([], ["version"], ["openapi", "v3"]):
                raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the "
                               f"requested resource: {request.method} /{'/'.join(segments)}")
            raise _not_found()
        return self._read_only(request)

    def _read_only(self, request: ApiRequest) -> aiohttp.web.StreamResponse:
        """Discovery, OpenAPI, version and health: what a client reads before touching objects."""
        segments, types = request.segments, list(self.store.types.values())
        accept = request.headers.get("Accept", "")
        if segments in (["api"], ["apis"]):
            core = segments == ["api"]
            if discovery.wants_aggregated(accept):
                return _json(discovery.aggregated(types, core=core), content_type=discovery.AGGREGATED)
            return _json(discovery.api_versions() if core else discovery.api_group_list(types))
        document: Obj | None = None
        if segments[:1] == ["api"] and len(segments) == 2:
            document = discovery.api_resource_list(types, "", segments[1])
        elif segments[:1] == ["apis"] and len(segments) == 3:
            document = discovery.api_resource_list(types, segments[1], segments[2])
        elif segments[:1] == ["apis"] and len(segments) == 2:
            versions = [t.version for t in types if t.group == segments[1]]
            document = discovery.api_group(segments[1], list(dict.fromkeys(versions))) if versions else None
        elif segments == ["version"]:
            document = discovery.SERVER_VERSION
        elif segments == []:
            document = discovery.root_paths(types)
        elif segments == ["openapi", "v3"]:
            document = discovery.openapi_index(types)
        elif segments[:2] == ["openapi", "v3"] and segments[2:3] == ["api"] and len(segments) == 4:
            document = discovery.openapi_document(types, "", segments[3])
        elif segments[:2] == ["openapi", "v3"] and segments[2:3] == ["apis"] and len(segments) == 5:
            document = discovery.openapi_document(types, segments[3], segments[4])
        elif len(segments) == 1 and segments[0] in HEALTH_PATHS:
            return aiohttp.web.Response(text="ok")
        if document is None:
            raise _not_found()
        return _json(document)

    # --- resources ------------------------------------------------------------------------------------

    def _locate(self, request: ApiRequest) -> None:
        """Resolve ``/api/v1/...`` or ``/apis/<group>/<version>/...`` into resource, namespace, name, subresource."""
        segments = request.segments
        group, version, rest = ("", segments[1], segments[2:]) if segments[0] == "api" else \
            (segments[1], segments[2], segments[3:])
        request.group = group
        if group in REVIEW_GROUPS and rest == [REVIEW_GROUPS[group]]:
            return
        if rest[0] == "namespaces" and len(rest) >= 3:
            scoped = self.store.types.get(ResourceType(group, version, rest[2], "").id)
            if scoped is not None and scoped.namespaced:
                request.namespace, rest = rest[1], rest[2:]
        resource = self.store.type_of(group, version, rest[0])
        if resource.namespaced is False and request.namespace is not None:
            raise _not_found()
        request.resource = resource
        request.name = rest[1] if len(rest) > 1 else None
        request.subresource = "/".join(rest[2:]) or None
        if request.subresource is not None and (request.subresource != "status" or not resource.status_subresource):
            raise ApiError(404, "NotFound", f"the server could not find the requested resource "
                           f"({request.subresource} of {request.resource.plural})")

    async def _resource_request(self, request: ApiRequest) -> aiohttp.web.StreamResponse:
        self._locate(request)
        if request.resource is None:  # a TokenReview or SubjectAccessReview
            plural = REVIEW_GROUPS[request.group]
            self._record(request, request.group, plural)
            if request.method != "POST":
                raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on {plural}: "
                               "reviews are only created")
            return _json(self._review(plural, request.data()), status=201)
        resource = request.resource
        self._record(request, resource.group, resource.plural)
        self._inject_failure(request)
        render = self._renderer(request, resource)
        if request.method == "GET" and request.params.get("watch") in ("true", "1"):
            return await self._watch(request, resource, render)
        warnings: list[str] = []
        result, code = self._serve(request, resource, warnings)
        if resource.id == self.store.type_of(CRD_GROUP, CRD_VERSION, CRD_PLURAL).id and request.method != "GET":
            self._crd_changed(request, result)
        headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
        return _json(render(result), status=code, headers=headers)

    def _renderer(self, request: ApiRequest, resource: ResourceType) -> Callable[[Obj], Obj]:
        if request.method != "GET" or not tables.wants_table(request.headers.get("Accept", "")):
            return lambda obj: obj
        include = request.params.get("includeObject") or "Metadata"

        def as_table(obj: Obj) -> Obj:
            if obj.get("kind") == f"{resource.kind}List":
                return tables.table(resource, obj["items"], include_object=include, list_metadata=obj["metadata"])
            return tables.table(resource, [obj], include_object=include)

        return as_table

    def _serve(self, request: ApiRequest, resource: ResourceType, warnings: list[str]) -> tuple[Obj, int]:
        store, params, method = self.store, request.params, request.method
        namespace, name, sub = request.namespace, request.name, request.subresource
        dry_run = "dryRun" in params
        validation = params.get("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise ApiError(400, "BadRequest", f'fieldValidation: Unsupported value: "{validation}": supported '
                           'values: "Ignore", "Strict", "Warn"')
        if name is None:
            if method == "GET":
                return store.list(resource, namespace, label_selector=params.get("labelSelector", ""),
                                  field_selector=params.get("fieldSelector", ""), limit=_number(params, "limit"),
                                  continue_token=params.get("continue", "")), 200
            if method == "POST":
                return store.create(resource, namespace, request.data(), dry_run=dry_run, field_validation=validation,
                                    warnings=warnings), 201
            if method == "DELETE":
                return store.delete_collection(resource, namespace, label_selector=params.get("labelSelector", ""),
                                               field_selector=params.get("fieldSelector", ""),
                                               dry_run=dry_run), 200
        elif method == "GET":
            return store.get(resource, namespace, name), 200
        elif method == "PUT":
            return store.replace(resource, namespace, name, request.data(), subresource=sub, dry_run=dry_run,
                                 field_validation=validation, warnings=warnings), 200
        elif method == "PATCH":
            content_type = request.headers.get("Content-Type", "application/merge-patch+json")
            return store.patch(resource, namespace, name, request.data(), content_type, subresource=sub,
                               field_manager=params.get("fieldManager", ""), dry_run=dry_run,
                               field_validation=validation, warnings=warnings), 200
        elif method == "DELETE" and sub is None:
            options = request.data()
            options = options if isinstance(options, dict) else {}
            propagation = options.get("propagationPolicy") or params.get("propagationPolicy") or "Background"
            return store.delete(resource, namespace, name, propagation=propagation,
                                preconditions=options.get("preconditions"), dry_run=dry_run), 200
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested "
                       f"resource: {method} on {resource.plural}{'/' + sub if sub else ''}"
                       f"{' (a collection)' if name is None else ''}")

    def _crd_changed(self, request: ApiRequest, result: Obj) -> None:
        """A CRD created or updated over the API is served at once; a deleted one stays served (unlike a
        cluster) so that nothing in flight loses its kind."""
        if request.method in ("POST", "PUT", "PATCH") and "dryRun" not in request.params:
            self._serve_crd(result)

    async def _watch(self, request: ApiRequest, resource: ResourceType,
                     render: Callable[[Obj], Obj]) -> aiohttp.web.StreamResponse:
        params = request.params
        selectors = Selectors(params.get("labelSelector", ""), params.get("fieldSelector", ""))
        since = _number(params, "resourceVersion")
        timeout = float(_number(params, "timeoutSeconds") or 300)
        # Checked before the stream starts, so that a bad selector is a 400, not a broken stream.
        self.store.events_since(resource, request.namespace, self.store.revision, *selectors)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request.raw)

        async def send(event_type: str, obj: Obj) -> None:
            await response.write(_dumps({"type": event_type, "object": render(obj)}).encode() + b"\n")

        await self._stream(request, resource, selectors, since, timeout, send)
        return response

    async def _stream(self, request: ApiRequest, resource: ResourceType, selectors: Selectors, since: int,
                      timeout: float, send: Callable[[str, Obj], Awaitable[None]]) -> None:
        if not since:
            listing = self.store.list(resource, request.namespace, label_selector=selectors.labels,
                                      field_selector=selectors.fields)
            for item in listing["items"]:
                await send("ADDED", item)
            since = int(listing["metadata"]["resourceVersion"])
        loop, changed = asyncio.get_running_loop(), asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(changed.set)

        self.store.listeners.append(wake)
        try:
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                changed.clear()
                for event in self.store.events_since(resource, request.namespace, since, *selectors):
                    await send(event.type, event.object)
                    since = event.resource_version
                try:
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, deadline - loop.time()))
                except TimeoutError:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.listeners.remove(wake)

    def _record(self, request: ApiRequest, group: str, plural: str) -> None:
        method, params = request.method, request.params
        if method == "GET":
            verb = "watch" if params.get("watch") in ("true", "1") else ("get" if request.name else "list")
        elif method == "DELETE" and request.resource is not None and request.name is None:
            verb = "deletecollection"
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method)
        if request.subresource:
            plural = f"{plural}/{request.subresource}"
        agent = request.headers.get("User-Agent", "").split("/")[0]
        self.calls.append(Call(agent, verb, group, plural, request.namespace, request.name))

    def _inject_failure(self, request: ApiRequest) -> None:
        method = request.method
        plural = request.plural + (f"/{request.subresource}" if request.subresource else "")
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


def _not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def _status_response(exc: ApiError) -> aiohttp.web.Response:
    return _json(exc.status(), status=exc.code)


def _json(document: Any, status: int = 200, *, content_type: str = "application/json",
          headers: Mapping[str, str] | None = None) -> aiohttp.web.Response:
    return aiohttp.web.Response(body=_dumps(document).encode(), status=status,
                                headers={**(headers or {}), "Content-Type": content_type})


def _number(params: Mapping[str, str], name: str) -> int:
    try:
        return max(int(params.get(name) or 0), 0)
    except ValueError:
        raise ApiError(400, "BadRequest", f"{name}: Invalid value: {params[name]!r}: must be an integer") from None


@contextlib.contextmanager
def using_kubeconfig(path: Path | str) -> Iterator[None]:
    """Within this block, this process's client (argoml.kube) talks to the cluster ``path`` describes."""
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


class Emulator:
    """A :class:`ClusterEmulator` served on 127.0.0.1 from a background thread.

    Use as a context manager; ``kubeconfig`` is a file that points the ``kubernetes``
    client and kubectl at it (set ``KUBECONFIG`` to it): a temporary one unless given. ``port``
    0 picks a free one. ``namespaces`` are created at the start; with them, as on a cluster,
    objects go only into namespaces that exist. ``crds`` stores the product's CRD objects too.
    """

    def __init__(self, *, port: int = 0, kubeconfig: Path | None = None, namespaces: Iterable[str] = (),
                 crds: bool = False) -> None:
        self.handler = ClusterEmulator()
        self._port = port
        self._namespaces = tuple(namespaces)
        self._crds = crds
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="argoml-emulator-")
        self.url = ""
        self.kubeconfig = kubeconfig or Path(self._tmp.name) / "kubeconfig"
        self._seed()

    def _seed(self) -> None:
        if self._crds:
            self.handler.install_crds()
        if self._namespaces:
            self.store.namespaces_must_exist = True
            namespaces = self.store.type_of("", "v1", "namespaces")
            for name in self._namespaces:
                self.store.create(namespaces, None, {"metadata": {"name": name}})

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
        self._seed()
        self.calls.clear()
        self.handler.failures.clear()
        self.access.tokens.clear()
        self.access.grants.clear()
        self.access.reviews.clear()

    def __enter__(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the Kubernetes API emulator did not start")
        if self._failed is not None:
            self._tmp.cleanup()
            raise self._failed
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.write_text(yaml.safe_dump(_kubeconfig(self.url)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self._tmp.cleanup()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except OSError as exc:  # the port is taken
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.handler, kmock.Server(self.handler, port=self._port or None) as server:
            self.url = f"http://127.0.0.1:{server.port}"
            self._ready.set()
            await self._stop.wait()


def _kubeconfig(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": TOKEN}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
    }


