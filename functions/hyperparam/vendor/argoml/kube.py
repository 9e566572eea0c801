"""One way to reach the Kubernetes API: typed resources, generic verbs, API errors as exceptions.

Every kind the functions touch is a :class:`Resource` (group, version, plural, kind,
scope), and five verbs work on any of them: :func:`get`, :func:`list_pages`,
:func:`create`, :func:`patch` (a JSON merge patch, which every kind accepts),
:func:`replace` and :func:`delete`. Requests and answers are plain JSON dicts: the
client's model classes cost several times the time and memory for objects of which a
few fields are read, and the code reads them as the API documents them (camelCase).

A failed request raises an :class:`ApiError` of the type its status means
(:class:`NotFound`, :class:`Conflict`/:class:`AlreadyExists`, :class:`Forbidden`,
:class:`Invalid`, :class:`Gone`, :class:`ServerError`, :class:`Unreachable` ...), so a
caller catches exactly the failure it expects (``except kube.NotFound``). Every
ApiError is an :class:`~argoml.errors.UpstreamError`: one the caller does not handle
reaches the HTTP edge as a 503, which Knative retries — this is the one place where
Kubernetes' statuses meet argoml's.

The configuration is in-cluster when running in a pod, else ``KUBECONFIG`` (or
``~/.kube/config``). The ``kubernetes`` package costs about 0.2 s to import, which would
be paid on every cold start; it is imported on first request instead, and the client is
built once per process (per kubeconfig, so tests that point ``KUBECONFIG`` elsewhere
get a new one).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import quote

from argoml import jsonread
from argoml.errors import UpstreamError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

Obj = dict[str, Any]
"""A Kubernetes object (or any JSON object) as the API server sends it."""

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
MERGE_PATCH = "application/merge-patch+json"
LIST_PAGE = 500  # objects per list request unless the caller says otherwise
MAX_OBJECT_BYTES = 16 * 2**20  # one object alone may be this large (the API server's own request limit is 3 MiB)
FIRST_BOUNDED_PAGE = 50  # objects on the first page of a list bounded in bytes, before their size is known
Timeout = float | tuple[float, float] | None  # seconds (to connect, to read), or the client's default


# --- resources ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """A kind of object the API serves: where its endpoint is and what its objects are called."""

    group: str  # "" for the core API
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def display(self) -> str:
        """``pods``, ``deployments.apps``: how kubectl names it, and how messages and summaries do."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The URL path of the collection (``name`` None) or of one object, in ``namespace`` or all."""
        if namespace is not None and not self.namespaced:
            raise ValueError(f"{self.display} are not namespaced")
        path = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
        if subresource is not None:
            path += f"/{subresource}"
        return path

    def ref(self, namespace: str | None, name: str) -> str:
        """``pods ml/train-1``: one object, for messages."""
        return f"{self.display} {namespace}/{name}" if namespace else f"{self.display} {name}"


PODS = Resource("", "v1", "pods", "Pod")
SERVICES = Resource("", "v1", "services", "Service")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
KNATIVE_SERVICES = Resource("serving.knative.dev", "v1", "services", "Service")
TOKEN_REVIEWS = Resource("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", namespaced=False)
SUBJECT_ACCESS_REVIEWS = Resource("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
                                  namespaced=False)


# --- errors ---------------------------------------------------------------------------------------------


class ApiError(UpstreamError):
    """A request to the Kubernetes API failed: ``code`` is the API's status (0: no answer at all).

    ``body`` is the API server's ``Status`` object (``reason``, ``message``, ``details`` with
    per-field ``causes`` for an Invalid object), empty when there was none. The subclasses
    name the statuses callers handle; any other failure is a plain ApiError.
    """

    def __init__(self, action: str, code: int, reason: str, message: str, body: Mapping[str, Any] | None = None):
        super().__init__(f"{action}: the Kubernetes API answered {code} {reason}: {message}" if code else
                         f"{action}: the Kubernetes API is unreachable: {message}")
        self.action, self.code, self.reason, self.api_message = action, code, reason, message
        self.body: Mapping[str, Any] = body or {}


class BadRequest(ApiError):
    """400: the request itself is malformed (a body the API server cannot decode, say)."""


class Forbidden(ApiError):
    """403: RBAC, or an admission webhook or policy, refused the request."""


class NotFound(ApiError):
    """404: no such object, or no such kind (its CRD is not installed)."""


class Conflict(ApiError):
    """409: a precondition (uid, resourceVersion) no longer holds, or the name is taken."""


class AlreadyExists(Conflict):
    """409 AlreadyExists: a create found the name taken."""


class Gone(ApiError):
    """410: a list's continue token expired (etcd compacted); the answer may carry a fresh one."""


class Invalid(ApiError):
    """422: the object breaks the kind's schema or rules; ``causes`` says where."""

    @property
    def causes(self) -> list[Obj]:
        return [c for c in (self.body.get("details") or {}).get("causes") or [] if isinstance(c, dict)]


class ServerError(ApiError):
    """5xx: the API server (or a webhook it called) failed."""


class Unreachable(ApiError):
    """No answer: connection refused or reset, TLS failure, timeout."""


class TooLarge(UpstreamError):
    """An answer was larger than the caller's ``max_bytes``; it was dropped unread."""

    def __init__(self, action: str, max_bytes: int) -> None:
        super().__init__(f"{action}: the answer is larger than {max_bytes:,} bytes")


_BY_CODE: dict[int, type[ApiError]] = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone,
                                       422: Invalid}


def error_for(action: str, code: int, body: bytes | bytearray | str | None, reason: str = "") -> ApiError:
    """The typed error for an answer with status ``code`` and a ``Status`` ``body`` (JSON, if any)."""
    status: Obj = {}
    with contextlib.suppress(TypeError, ValueError):
        parsed = json.loads(body or "")
        status = parsed if isinstance(parsed, dict) else {}
    reason = str(status.get("reason") or reason)
    message = str(status.get("message") or reason)
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExists(action, code, reason, message, status)
    cls = _BY_CODE.get(code) or (ServerError if code >= 500 else ApiError)
    return cls(action, code, reason, message, status)


def translated(exc: BaseException, action: str) -> ApiError | None:
    """The typed error for what the ``kubernetes`` client raised (for code that uses it directly)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(exc, ApiException):
        if not exc.status:
            return Unreachable(action, 0, "", str(exc.reason or exc))
        return error_for(action, int(exc.status), exc.body, str(exc.reason or ""))
    if isinstance(exc, HTTPError | OSError):
        return Unreachable(action, 0, "", str(exc))
    return None


# --- the client -----------------------------------------------------------------------------------------


_acting_as: contextvars.ContextVar[str] = contextvars.ContextVar("argoml_function", default="cli")


@contextlib.contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Within this block, API requests carry the User-Agent ``argoml-<function>/<version>``."""
    token = _acting_as.set(function)
    try:
        yield
    finally:
        _acting_as.reset(token)


def api_client() -> ApiClient:
    """The process-wide API client for the current configuration (and acting function)."""
    source = "in-cluster" if os.environ.get(IN_CLUSTER_ENV) else os.environ.get("KUBECONFIG", "~/.kube/config")
    return _client(source, _acting_as.get())


@functools.lru_cache(maxsize=32)
def _client(source: str, function: str) -> ApiClient:
    from kubernetes import client, config

    from argoml import __version__

    configuration = client.Configuration()
    if source == "in-cluster":
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=os.path.expanduser(source.split(os.pathsep)[0]),
                                client_configuration=configuration)
    api = client.ApiClient(configuration)
    api.user_agent = f"argoml-{function}/{__version__}"
    return api


def core() -> Any:
    """The client's typed CoreV1Api, for dev tools and tests that set up objects; argoml uses the verbs below."""
    from kubernetes.client import CoreV1Api

    return CoreV1Api(api_client())


def custom() -> Any:
    """The client's CustomObjectsApi (watches in argoml.dev, object setup in tests)."""
    from kubernetes.client import CustomObjectsApi

    return CustomObjectsApi(api_client())


def _request(action: str, method: str, path: str, *, query: Mapping[str, Any] | None = None,
             body: Any = None, content_type: str = "application/json", timeout: Timeout = None,
             max_bytes: int | None = None) -> Obj:
    """One request's JSON answer. With ``max_bytes``, an answer over it raises :class:`TooLarge` unread, and
    objects nested more than :data:`~argoml.jsonbody.MAX_DEPTH` levels deep come back cut
    (:class:`~argoml.jsonread.Malformed`)."""
    return _exchange(action, method, path, query=query, body=body, content_type=content_type, timeout=timeout,
                     max_bytes=max_bytes)[0]


def _exchange(action: str, method: str, path: str, *, query: Mapping[str, Any] | None, body: Any,
              content_type: str, timeout: Timeout, max_bytes: int | None) -> tuple[Obj, int]:
    """:func:`_request`, and the size of the answer in bytes."""
    api = api_client()
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    params = [(key, value) for key, value in (query or {}).items() if value not in (None, "")]
    request = api.param_serialize(method, path, query_params=params, header_params=headers, body=body,
                                  auth_settings=["BearerToken"])
    try:
        response = api.call_api(*request, _request_timeout=timeout)
        data = response.read() if max_bytes is None else jsonread.read_bounded(response.response, max_bytes)
    except Exception as exc:
        if (error := translated(exc, action)) is not None:
            raise error from exc
        raise
    if data is None:
        raise TooLarge(action, max_bytes or 0)
    if not 200 <= response.status <= 299:
        raise error_for(action, response.status, data, str(response.reason or ""))
    try:
        answer = json.loads(data or b"{}") if max_bytes is None else jsonread.decode(data or b"{}")
    except ValueError as exc:
        raise ServerError(action, response.status, "InvalidAnswer", "the answer is not JSON") from exc
    return (cast(Obj, answer) if isinstance(answer, dict) else {}), len(data)


# --- the verbs ------------------------------------------------------------------------------------------


def get(resource: Resource, namespace: str | None, name: str, *, timeout: Timeout = None,
        max_bytes: int | None = None) -> Obj:
    """The object; :class:`NotFound` when there is none (``max_bytes``: see :func:`_request`)."""
    return _request(f"reading {resource.ref(namespace, name)}", "GET", resource.path(namespace, name),
                    timeout=timeout, max_bytes=max_bytes)


def get_or_none(resource: Resource, namespace: str | None, name: str, *, timeout: Timeout = None) -> Obj | None:
    """The object, or ``None`` when the API server does not have it."""
    try:
        return get(resource, namespace, name, timeout=timeout)
    except NotFound:
        return None


def list_pages(resource: Resource, namespace: str | None = None, *, label_selector: str = "",
               field_selector: str = "", limit: int = LIST_PAGE, timeout: Timeout = None,
               before_each: Callable[[], None] | None = None, max_bytes: int | None = None) -> Iterator[list[Obj]]:
    """The objects of ``resource`` (in ``namespace``, or in all), one request per page of ``limit``.

    A slow reader (one that deletes between pages, say) can outlive the API server's
    continue tokens (etcd compaction, five minutes by default): the 410 that answers an
    expired token carries a fresh one to go on from the same place in the latest state,
    and the listing goes on with it. Objects changed meanwhile may show up or not, so a
    caller acts on each object on its own terms. A second 410 in a row raises.
    ``before_each`` runs before every request (pacing).

    ``max_bytes`` bounds a page in bytes as well: the first page asks for at most
    :data:`FIRST_BOUNDED_PAGE` objects; one whose answer passes the bound is dropped unread
    and asked for again with a quarter of the limit (down to one object, which may be as
    large as :data:`MAX_OBJECT_BYTES`); and each next page asks for as many objects of the
    last page's average size as fill half of it, never more than ``limit``. So a
    hundred objects of a megabyte each never sit in memory at once. Objects nested
    more than :data:`~argoml.jsonbody.MAX_DEPTH` levels deep are then listed cut (:class:`~argoml.jsonread.Malformed`).
    """
    action = f"listing {resource.display}" + (f" in namespace {namespace}" if namespace else " in all namespaces")
    token: str | None = None
    resumed = False
    asked = limit if max_bytes is None else min(limit, FIRST_BOUNDED_PAGE)
    while True:
        if before_each is not None:
            before_each()
        query = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": asked,
                 "continue": token}
        budget = None if max_bytes is None else max_bytes if asked > 1 else max(max_bytes, MAX_OBJECT_BYTES)
        try:
            page, size = _exchange(action, "GET", resource.path(namespace), query=query, body=None,
                                   content_type="application/json", timeout=timeout, max_bytes=budget)
        except Gone as exc:
            fresh = None if resumed else _fresh_continue(exc)
            if fresh is None:
                raise
            token, resumed = fresh, True
            continue
        except TooLarge:
            if asked == 1:
                raise
            asked = max(1, asked // 4)
            continue
        resumed = False
        items = page.pop("items", None)
        items = items if isinstance(items, list) else []
        if max_bytes is not None and items:
            asked = max(1, min(limit, max_bytes // 2 * len(items) // max(size, 1)))
        yield items
        del items
        metadata = page.get("metadata")
        token = metadata.get("continue") if isinstance(metadata, dict) else None
        if not token or not isinstance(token, str):
            return


def _fresh_continue(exc: Gone) -> str | None:
    token = (exc.body.get("metadata") or {}).get("continue")
    return token if isinstance(token, str) and token else None


def create(resource: Resource, namespace: str | None, body: Mapping[str, Any], *, timeout: Timeout = None) -> Obj:
    """Create ``body``; :class:`AlreadyExists` when its name is taken. Returns the stored object."""
    name = str((body.get("metadata") or {}).get("name") or (body.get("metadata") or {}).get("generateName") or "")
    return _request(f"creating {resource.ref(namespace, name)}", "POST", resource.path(namespace), body=body,
                    timeout=timeout)


def patch(resource: Resource, namespace: str | None, name: str, body: Mapping[str, Any], *,
          subresource: str | None = None, timeout: Timeout = None) -> Obj:
    """Apply a JSON merge patch (RFC 7386: maps merge, lists are replaced whole, ``None`` removes a key).

    A ``metadata.resourceVersion`` in the patch is a precondition (:class:`Conflict` if it changed).
    """
    what = f"the {subresource} of " if subresource else ""
    return _request(f"updating {what}{resource.ref(namespace, name)}", "PATCH",
                    resource.path(namespace, name, subresource), body=body, content_type=MERGE_PATCH,
                    timeout=timeout)


def replace(resource: Resource, namespace: str | None, name: str, body: Mapping[str, Any], *,
            timeout: Timeout = None) -> Obj:
    """Replace the object with ``body`` (PUT): fields ``body`` lacks are gone afterwards."""
    return _request(f"updating {resource.ref(namespace, name)}", "PUT", resource.path(namespace, name), body=body,
                    timeout=timeout)


def delete(resource: Resource, namespace: str | None, name: str, *, uid: str | None = None,
           propagation: str | None = None, timeout: Timeout = None) -> None:
    """Delete the object, only if it still has ``uid`` when given (:class:`Conflict` otherwise)."""
    options: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if uid:
        options["preconditions"] = {"uid": uid}
    if propagation:
        options["propagationPolicy"] = propagation
    _request(f"deleting {resource.ref(namespace, name)}", "DELETE", resource.path(namespace, name), body=options,
             timeout=timeout)


# --- ownerReferences ------------------------------------------------------------------------------------


class OwnerReference(TypedDict, total=False):
    """One entry of ``metadata.ownerReferences``, as read (a user-written object may lack any field)."""

    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


def owner_reference(owner: Resource, name: str, uid: str, *, controller: bool = False) -> OwnerReference:
    """The ownerReference that makes an object owned (or, ``controller``, controlled) by ``owner`` ``name``."""
    reference = OwnerReference(apiVersion=owner.api_version, kind=owner.kind, name=name, uid=uid)
    if controller:
        reference["controller"] = reference["blockOwnerDeletion"] = True
    return reference


def owner_references(obj: Mapping[str, Any], owner: Resource) -> list[OwnerReference]:
    """The ownerReferences of ``obj`` that name an object of kind ``owner`` (its group, any version), in order."""
    metadata = obj.get("metadata")
    references = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
    return [cast(OwnerReference, ref) for ref in references if isinstance(ref, dict) and ref.get("kind") == owner.kind
            and str(ref.get("apiVersion", "")).split("/")[0] == owner.group] if isinstance(references, list) else []


def controller_reference(obj: Mapping[str, Any], owner: Resource) -> OwnerReference | None:
    """The ownerReference of ``obj`` that says its controller is an object of kind ``owner``, if any."""
    return next((ref for ref in owner_references(obj, owner) if ref.get("controller")), None)
