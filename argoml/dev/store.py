"""The object store behind the local Kubernetes API emulator.

It keeps what the functions rely on from a real API server: ``uid``,
``resourceVersion``, ``creationTimestamp`` and ``metadata.generation`` (bumped only
when something other than metadata and status changes), ``generateName``, the
``status`` subresource (the main resource ignores status writes, ``/status`` takes
only status), optimistic concurrency (409 on a stale ``resourceVersion``), finalizers,
the garbage collector's ownerReference cascade, label and field selectors, paginated
lists (``limit``/``continue``) and an event log for watches. It is synchronous and
thread-safe so that tests can seed and inspect it directly while the HTTP front
(:mod:`argoml.dev.emulator`) serves the real ``kubernetes`` client.
"""

from __future__ import annotations

import base64
import bisect
import builtins
import copy
import json
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoml import kube
from argoml.errors import InvalidInput
from argoml.kube import Obj
from argoml.names import is_dns_subdomain
from argoml.selectors import parse_field_selector, parse_label_selector
from argoml.timestamps import now_rfc3339

Key = tuple[str, str | None, str]  # (resource id, namespace, name)
NAMESPACES = "v1/namespaces"


@dataclass(frozen=True)
class Column:
    """One printer column of ``kubectl get`` (a CRD's ``additionalPrinterColumns`` entry)."""

    name: str
    type: str
    json_path: str
    format: str = ""
    description: str = ""
    priority: int = 0


AGE = Column("Age", "date", ".metadata.creationTimestamp")


@dataclass(frozen=True)
class ResourceType:
    """A served resource and what discovery says about it (names, categories, printer columns)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[Column, ...] = (AGE,)
    # The structural schema (a CRD's openAPIV3Schema); None for the built-in kinds, served schemaless.
    schema: Obj | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.group}/{self.version}/{self.plural}" if self.group else f"{self.version}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# The kinds a cluster has before anything is installed. Argo's, Knative's and argoml's kinds come
# from their CRDs (argoml.dev.crds), installed into every emulator.
BUILTIN_TYPES = (
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
                 columns=(Column("Status", "string", ".status.phase"), AGE)),
    ResourceType("", "v1", "pods", "Pod", short_names=("po",), categories=("all",),
                 columns=(Column("Status", "string", ".status.phase"), AGE)),
    ResourceType("", "v1", "services", "Service", short_names=("svc",), categories=("all",),
                 columns=(Column("Type", "string", ".spec.type"), Column("Cluster-IP", "string", ".spec.clusterIP"),
                          AGE)),
    ResourceType("", "v1", "configmaps", "ConfigMap", status_subresource=False, short_names=("cm",)),
    ResourceType("", "v1", "secrets", "Secret", status_subresource=False,
                 columns=(Column("Type", "string", ".type"), AGE)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", status_subresource=False, short_names=("sa",)),
    ResourceType("", "v1", "events", "Event", status_subresource=False, short_names=("ev",),
                 columns=(Column("Type", "string", ".type"), Column("Reason", "string", ".reason"),
                          Column("Object", "string", ".involvedObject.name"),
                          Column("Message", "string", ".message"), AGE)),
    ResourceType("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",)),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                 namespaced=False, short_names=("crd", "crds"),
                 columns=(Column("Created At", "date", ".metadata.creationTimestamp"),)),
)


class ApiError(Exception):
    """An answer the API server gives as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None, *,
                 metadata: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, dict(details or {})
        self.metadata = dict(metadata or {})  # a Status's ListMeta: an expired list's fresh continue token

    def status(self) -> Obj:
        return {"apiVersion": "v1", "kind": "Status", "metadata": self.metadata, "status": "Failure",
                "code": self.code, "reason": self.reason, "message": self.message, "details": self.details}


@dataclass(frozen=True)
class WatchEvent:
    resource_version: int
    resource: str
    type: str  # ADDED, MODIFIED, DELETED
    object: Obj


@dataclass
class Store:
    types: dict[str, ResourceType] = field(default_factory=lambda: {t.id: t for t in BUILTIN_TYPES})
    objects: dict[Key, Obj] = field(default_factory=dict)
    log: list[WatchEvent] = field(default_factory=list)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _order: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # per resource: sorted (ns, name)
    revision: int = 0  # the newest resourceVersion handed out; never reset
    # As a cluster: objects go only into namespaces that exist (off for tests, which use any namespace).
    namespaces_must_exist: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- types --------------------------------------------------------------------------------------

    def register(self, resource: ResourceType) -> None:
        """Serve ``resource`` from now on (a CRD was created)."""
        self.types[resource.id] = resource

    def type_of(self, group: str, version: str, plural: str) -> ResourceType:
        resource_id = f"{group}/{version}/{plural}" if group else f"{version}/{plural}"
        try:
            return self.types[resource_id]
        except KeyError:
            raise ApiError(404, "NotFound", "the server could not find the requested resource") from None

    def type_for(self, resource: kube.Resource) -> ResourceType:
        """The stored type of an argoml :class:`~argoml.kube.Resource`."""
        return self.type_of(resource.group, resource.version, resource.plural)

    # --- reads --------------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        with self._lock:
            return copy.deepcopy(self._existing(resource, namespace, name))

    def list(self, resource: ResourceType, namespace: str | None = None, *, label_selector: str = "",
             field_selector: str = "", limit: int = 0, continue_token: str = "") -> Obj:
        """A ``<Kind>List``; with ``limit``, one page and a ``continue`` token for the next.

        Objects are listed in (namespace, name) order from a sorted index, so a page costs
        what it holds, not what the whole collection holds.
        """
        selects = self._predicate(label_selector, field_selector)
        with self._lock:
            order = self._order.get(resource.id, [])
            after = _decode_continue(continue_token) if continue_token else (namespace or "", "")
            start = bisect.bisect_right(order, after) if continue_token else bisect.bisect_left(order, after)
            items: list[Obj] = []
            more = False
            for position in range(start, len(order)):
                object_namespace, name = order[position]
                if namespace is not None and object_namespace != namespace:
                    break
                obj = self.objects[(resource.id, object_namespace or None, name)]
                if selects(obj):
                    if limit and len(items) == limit:
                        more = True
                        break
                    items.append(obj)
            metadata: Obj = {"resourceVersion": str(self.revision)}
            if more:
                last = items[-1]["metadata"]
                metadata["continue"] = _encode_continue((last.get("namespace") or "", last["name"]))
            return {"apiVersion": resource.api_version, "kind": f"{resource.kind}List", "metadata": metadata,
                    "items": copy.deepcopy(items)}

    def events_since(self, resource: ResourceType, namespace: str | None, revision: int,
                     label_selector: str = "", field_selector: str = "") -> builtins.list[WatchEvent]:
        selects = self._predicate(label_selector, field_selector)
        with self._lock:
            return [event for event in self.log
                    if event.resource_version > revision and event.resource == resource.id
                    and (namespace is None or event.object["metadata"].get("namespace") == namespace)
                    and selects(event.object)]

    def find(self, resource: ResourceType, namespace: str | None = None,
             label_selector: str = "") -> builtins.list[Obj]:
        """Every object of ``resource`` (in ``namespace``), for tests' assertions."""
        items: builtins.list[Obj] = self.list(resource, namespace, label_selector=label_selector)["items"]
        return items

    # --- writes -------------------------------------------------------------------------------------

    def create(self, resource: ResourceType, namespace: str | None, body: Obj, *, dry_run: bool = False,
               keep_status: bool = False, field_validation: str = "Ignore",
               warnings: builtins.list[str] | None = None) -> Obj:
        """POST to a collection. ``keep_status`` seeds an object as a controller would have left it.

        Fields the resource's schema does not know are dropped (as the API server prunes them),
        with a warning (``field_validation="Warn"``) or refused (``"Strict"``).
        """
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body is not a JSON object")
        obj = _checked_fields(resource, copy.deepcopy(body), field_validation, warnings)
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        namespace = self._namespace_for(resource, namespace, metadata)
        with self._lock:
            if namespace and self.namespaces_must_exist and (NAMESPACES, None, namespace) not in self.objects:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
            if not metadata.get("name"):
                if not metadata.get("generateName"):
                    raise _invalid(resource, "", "metadata.name: Required value: name or generateName is required")
                metadata["name"] = self._generated_name(resource, namespace, metadata["generateName"])
            _check_name(resource, metadata["name"])
            key = (resource.id, namespace, metadata["name"])
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{_qualified(resource)} "{metadata["name"]}" already exists',
                               {"name": metadata["name"], "group": resource.group, "kind": resource.plural})
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            if namespace:
                metadata["namespace"] = namespace
            metadata.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), generation=1)
            for transient in ("resourceVersion", "deletionTimestamp"):
                metadata.pop(transient, None)
            if resource.status_subresource and not keep_status:
                obj.pop("status", None)
            if resource.id == NAMESPACES:
                obj.setdefault("status", {"phase": "Active"})
            elif resource.id == "v1/secrets":
                obj.setdefault("type", "Opaque")
            if dry_run:
                return obj
            return self._write(key, obj, "ADDED")

    def replace(self, resource: ResourceType, namespace: str | None, name: str, body: Obj, *,
                subresource: str | None = None, dry_run: bool = False, field_validation: str = "Ignore",
                warnings: builtins.list[str] | None = None) -> Obj:
        """PUT an object (or its ``/status``)."""
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body is not a JSON object")
        with self._lock:
            current = self._existing(resource, namespace, name)
            new = _checked_fields(resource, copy.deepcopy(body), field_validation, warnings)
            return self._update(resource, current, new, subresource, dry_run=dry_run)

    def patch(self, resource: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str,
              *, subresource: str | None = None, dry_run: bool = False, field_validation: str = "Ignore",
              warnings: builtins.list[str] | None = None, field_manager: str = "") -> Obj:
        """PATCH: JSON, merge, strategic merge (as a merge) or server-side apply (which creates)."""
        kind = content_type.split(";")[0].strip()
        with self._lock:
            if kind == APPLY_PATCH:
                if not field_manager:
                    raise ApiError(400, "BadRequest", "fieldManager is required for apply requests")
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "an apply patch must be an object")
                if (resource.id, namespace if resource.namespaced else None, name) not in self.objects:
                    body = dict(patch, metadata=dict(patch.get("metadata") or {}, name=name))
                    return self.create(resource, namespace, body, dry_run=dry_run, field_validation=field_validation,
                                       warnings=warnings)
            current = self._existing(resource, namespace, name)
            patched = _apply_patch(copy.deepcopy(current), patch, content_type)
            patched = _checked_fields(resource, patched, field_validation, warnings)
            return self._update(resource, current, patched, subresource, dry_run=dry_run)

    def delete_collection(self, resource: ResourceType, namespace: str | None, *, label_selector: str = "",
                          field_selector: str = "", dry_run: bool = False) -> Obj:
        """DELETE on a collection: every selected object, as a list of what was deleted."""
        with self._lock:
            listing = self.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
            if not dry_run:
                listing["items"] = [self.delete(resource, item["metadata"].get("namespace"), item["metadata"]["name"])
                                    for item in listing["items"]]
            return listing

    def delete(self, resource: ResourceType, namespace: str | None, name: str, *,
               propagation: str = "Background", preconditions: Mapping[str, Any] | None = None,
               dry_run: bool = False) -> Obj:
        """DELETE; ``preconditions`` (``uid``, ``resourceVersion``) must match the stored object."""
        with self._lock:
            obj = self._existing(resource, namespace, name)
            for field_name, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted, actual = (preconditions or {}).get(field_name), obj["metadata"].get(field_name)
                if wanted and wanted != actual:
                    raise ApiError(409, "Conflict", f"Precondition failed: {label} in precondition: {wanted}, "
                                   f"{label} in object meta: {actual}",
                                   {"name": name, "group": resource.group, "kind": resource.plural})
            if dry_run:
                return copy.deepcopy(obj)
            if resource.id == NAMESPACES:
                self._empty_namespace(name)
            return self._delete((resource.id, namespace if resource.namespaced else None, name), obj, propagation)

    def clear(self) -> None:
        with self._lock:
            self.objects.clear()
            self._order.clear()
            self.log.clear()

    # --- internals ----------------------------------------------------------------------------------

    def _existing(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        key = (resource.id, namespace if resource.namespaced else None, name)
        try:
            return self.objects[key]
        except KeyError:
            raise ApiError(404, "NotFound", f'{_qualified(resource)} "{name}" not found',
                           {"name": name, "group": resource.group, "kind": resource.plural}) from None

    def _empty_namespace(self, namespace: str) -> None:
        """What the namespace controller does once a namespace is deleted: delete what it held."""
        for key, obj in list(self.objects.items()):
            if key[1] == namespace and key in self.objects:
                self._delete(key, obj, "Background")

    def _update(self, resource: ResourceType, current: Obj, new: Obj, subresource: str | None, *,
                dry_run: bool = False) -> Obj:
        if not isinstance(new, dict):
            raise ApiError(400, "BadRequest", "the request body is not a JSON object")
        meta, new_meta = current["metadata"], new.setdefault("metadata", {})
        wanted = new_meta.get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            name = meta["name"]
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_qualified(resource)} "{name}": '
                           "the object has been modified; please apply your changes to the latest version and "
                           "try again", {"name": name, "group": resource.group, "kind": resource.plural})
        if subresource == "status":
            updated = copy.deepcopy(current)
            updated["status"] = new.get("status")
            if updated["status"] is None:
                updated.pop("status")
        elif subresource:
            raise ApiError(404, "NotFound", f"the server could not find the subresource {subresource!r}")
        else:
            updated = new
            if resource.status_subresource:
                updated.pop("status", None)
                if "status" in current:
                    updated["status"] = copy.deepcopy(current["status"])
            for kept in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "generation"):
                if kept in meta:
                    new_meta[kept] = meta[kept]
            updated["apiVersion"], updated["kind"] = current["apiVersion"], current["kind"]
            if _spec_of(updated) != _spec_of(current):
                new_meta["generation"] = meta.get("generation", 1) + 1
        key = (resource.id, meta.get("namespace"), meta["name"])
        if updated == current or dry_run:
            return copy.deepcopy(updated)
        if meta.get("deletionTimestamp") and not updated["metadata"].get("finalizers"):
            return self._delete(key, updated, "Background")
        return self._write(key, updated, "MODIFIED")

    def _delete(self, key: Key, obj: Obj, propagation: str) -> Obj:
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                marked = copy.deepcopy(obj)
                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                return self._write(key, marked, "MODIFIED")
            return copy.deepcopy(obj)
        removed = self._remove(key, obj)
        if propagation != "Orphan":
            self._collect_dependents(obj["metadata"]["uid"])
        return removed

    def _collect_dependents(self, owner_uid: str) -> None:
        """What the garbage collector does once an owner is gone."""
        for key, obj in list(self.objects.items()):
            owners = obj["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == owner_uid for ref in owners):
                remaining = [ref for ref in owners if ref.get("uid") != owner_uid]
                live = [ref for ref in remaining if self._uid_exists(ref.get("uid"))]
                if live:
                    updated = copy.deepcopy(obj)
                    updated["metadata"]["ownerReferences"] = remaining
                    self._write(key, updated, "MODIFIED")
                else:
                    self._delete(key, obj, "Background")

    def _uid_exists(self, uid: str | None) -> bool:
        return any(obj["metadata"].get("uid") == uid for obj in self.objects.values())

    def _next_revision(self) -> int:
        self.revision += 1
        return self.revision

    def _write(self, key: Key, obj: Obj, event_type: str) -> Obj:
        revision = self._next_revision()
        obj["metadata"]["resourceVersion"] = str(revision)
        if key not in self.objects:
            bisect.insort(self._order.setdefault(key[0], []), (key[1] or "", key[2]))
        self.objects[key] = obj
        self._record(revision, key[0], event_type, obj)
        return copy.deepcopy(obj)

    def _remove(self, key: Key, obj: Obj) -> Obj:
        if self.objects.pop(key, None) is not None:
            order = self._order[key[0]]
            del order[bisect.bisect_left(order, (key[1] or "", key[2]))]
        gone = copy.deepcopy(obj)
        revision = self._next_revision()
        gone["metadata"]["resourceVersion"] = str(revision)
        self._record(revision, key[0], "DELETED", gone)
        return gone

    def _record(self, revision: int, resource_id: str, event_type: str, obj: Obj) -> None:
        self.log.append(WatchEvent(revision, resource_id, event_type, copy.deepcopy(obj)))
        for listener in list(self.listeners):
            listener()

    @staticmethod
    def _predicate(label_selector: str, field_selector: str) -> Callable[[Obj], bool]:
        try:
            labels = parse_label_selector(label_selector) if label_selector else None
            fields = parse_field_selector(field_selector) if field_selector else None
        except InvalidInput as exc:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {exc}") from None
        return lambda obj: ((labels is None or labels.matches(obj["metadata"].get("labels")))
                            and (fields is None or fields(obj)))

    def _namespace_for(self, resource: ResourceType, namespace: str | None, metadata: Obj) -> str | None:
        if not resource.namespaced:
            return None
        body_namespace = metadata.get("namespace")
        if namespace and body_namespace and body_namespace != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                           "namespace sent on the request")
        namespace = namespace or body_namespace
        if not namespace:
            raise ApiError(400, "BadRequest", "a namespace is required to create a namespaced object")
        return namespace

    def _generated_name(self, resource: ResourceType, namespace: str | None, prefix: str) -> str:
        alphabet = string.ascii_lowercase + string.digits
        while True:
            name = prefix[:58] + "".join(secrets.choice(alphabet) for _ in range(5))
            if (resource.id, namespace, name) not in self.objects:
                return name


def _check_name(resource: ResourceType, name: str) -> None:
    if not is_dns_subdomain(name):
        raise _invalid(resource, name, f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                       "must consist of lower case alphanumeric characters, '-' or '.', and must start "
                       "and end with an alphanumeric character")


def _invalid(resource: ResourceType, name: str, cause: str) -> ApiError:
    return ApiError(422, "Invalid", f'{resource.kind} "{name}" is invalid: {cause}',
                    {"name": name, "group": resource.group, "kind": resource.kind})


def _qualified(resource: ResourceType) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _encode_continue(after: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(namespace), str(name)
    except (ValueError, TypeError):
        raise ApiError(400, "BadRequest", f"invalid continue token {token!r}") from None


APPLY_PATCH = "application/apply-patch+yaml"


FieldPath = tuple[str | int, ...]


def unknown_fields(schema: Obj | None, value: Any, path: FieldPath = ()) -> list[FieldPath]:
    """The fields in ``value`` that a structural ``schema`` does not declare (what the API server prunes)."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[FieldPath] = []
    if isinstance(value, dict):
        properties, extra = schema.get("properties"), schema.get("additionalProperties")
        if properties is None and extra is None:
            return []
        for key, item in value.items():
            if properties is not None and key in properties:
                found += unknown_fields(properties[key], item, (*path, key))
            elif isinstance(extra, dict):
                found += unknown_fields(extra, item, (*path, key))
            elif not (path == () and key in ("apiVersion", "kind", "metadata")) and extra is not True:
                found.append((*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += unknown_fields(schema["items"], item, (*path, index))
    return found


def field_path(path: FieldPath) -> str:
    """``spec.templates[0].name``, as the API server names a field."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _checked_fields(resource: ResourceType, obj: Obj, validation: str, warnings: list[str] | None) -> Obj:
    if resource.schema is None or not isinstance(obj, dict):
        return obj
    unknown = unknown_fields(resource.schema, {k: v for k, v in obj.items() if k != "metadata"})
    if not unknown:
        return obj
    if validation == "Strict":
        listed = ", ".join(f'unknown field "{field_path(path)}"' for path in unknown)
        raise ApiError(400, "BadRequest", f"strict decoding error: {listed}")
    if validation == "Warn" and warnings is not None:
        warnings.extend(f'unknown field "{field_path(path)}"' for path in unknown)
    for path in unknown:
        parent: Any = obj
        for step in path[:-1]:
            parent = parent[step]
        parent.pop(path[-1], None)
    return obj


def _apply_patch(obj: Obj, patch: Any, content_type: str) -> Obj:
    kind = content_type.split(";")[0].strip()
    if kind == "application/json-patch+json":
        import jsonpatch

        if not isinstance(patch, list):
            raise ApiError(400, "BadRequest", "the body of a JSON patch (application/json-patch+json) must be "
                           "a list of operations")
        try:
            patched: Obj = jsonpatch.apply_patch(obj, patch)
            return patched
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as exc:
            raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {exc}") from None
    if kind in ("application/merge-patch+json", "application/strategic-merge-patch+json", APPLY_PATCH):
        # Strategic merge differs only for lists with merge keys, which nothing here patches.
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        merged: Obj = _merge(obj, patch)
        return merged
    raise ApiError(415, "UnsupportedMediaType", f"the patch content type {kind!r} is not supported")


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result
