"""What clients learn about the emulated cluster before they touch an object.

kubectl starts every command with discovery: which groups and versions exist, which
resources each serves, under which short names and categories (``kubectl get hparam``,
``kubectl get argo``), with which verbs and subresources. It asks for the aggregated form
(``apidiscovery.k8s.io/v2``: everything in two answers) and falls back to the legacy one
(``/api``, ``/apis``, then one ``APIResourceList`` per group version); both are served from
the store's resource types. Before writing (``kubectl apply``, ``create``) it reads the OpenAPI
v3 document of the object's group version, to learn whether the server checks fields itself
(``fieldValidation`` on PATCH) and, for ``kubectl explain``, each kind's schema. The OpenAPI v2
document is not served: it exists only as protobuf, which kubectl no longer needs when v3 is
there, and it answers 404 as on a server that disables it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from argoml.dev.store import ResourceType
from argoml.kube import Obj

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-argoml-emulator", "gitCommit": "",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "",
                  "compiler": "emulator", "platform": "linux/amd64"}


def wants_aggregated(accept: str) -> bool:
    """Whether ``Accept`` asks for aggregated discovery (``apidiscovery.k8s.io``, v2) as JSON."""
    for media in accept.split(","):
        kind, *params = (part.strip() for part in media.split(";"))
        if kind == "application/json" and {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= set(params):
            return True
    return False


def _group_versions(types: Iterable[ResourceType]) -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for resource in types:
        listed = versions.setdefault(resource.group, [])
        if resource.version not in listed:
            listed.append(resource.version)
    return versions


def api_versions() -> Obj:
    return {"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def api_group(group: str, versions: list[str]) -> Obj:
    listed = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(types: Iterable[ResourceType]) -> Obj:
    groups = [api_group(group, versions) for group, versions in _group_versions(types).items() if group]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(types: Iterable[ResourceType], group: str, version: str) -> Obj | None:
    """The legacy ``APIResourceList`` of one group version, or None when it is not served."""
    served = [t for t in types if t.group == group and t.version == version]
    if not served:
        return None
    resources: list[Obj] = []
    for resource in served:
        resources.append({"name": resource.plural, "singularName": _singular(resource),
                          "namespaced": resource.namespaced, "kind": resource.kind, "verbs": VERBS,
                          "shortNames": list(resource.short_names), "categories": list(resource.categories),
                          "storageVersionHash": _hash(resource.id)[:12]})
        if resource.status_subresource:
            resources.append({"name": f"{resource.plural}/status", "singularName": "",
                              "namespaced": resource.namespaced, "kind": resource.kind, "verbs": STATUS_VERBS})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": resource.api_version,
            "resources": resources}


def aggregated(types: Iterable[ResourceType], *, core: bool) -> Obj:
    """``APIGroupDiscoveryList`` for ``/api`` (``core``) or ``/apis``."""
    items = []
    for group, versions in _group_versions(types).items():
        if (group == "") != core:
            continue
        listed = []
        for version in versions:
            resources = []
            for resource in (t for t in types if t.group == group and t.version == version):
                kind = {"group": group, "version": version, "kind": resource.kind}
                entry: Obj = {"resource": resource.plural, "responseKind": kind,
                              "scope": "Namespaced" if resource.namespaced else "Cluster",
                              "singularResource": _singular(resource), "verbs": VERBS,
                              "shortNames": list(resource.short_names), "categories": list(resource.categories)}
                if resource.status_subresource:
                    entry["subresources"] = [{"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS}]
                resources.append(entry)
            listed.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": listed})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def root_paths(types: Iterable[ResourceType]) -> Obj:
    paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"}
    for group, versions in _group_versions(types).items():
        if group:
            paths |= {f"/apis/{group}"} | {f"/apis/{group}/{version}" for version in versions}
    return {"paths": sorted(paths)}


# --- OpenAPI v3 ----------------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_index(types: Iterable[ResourceType]) -> Obj:
    """``/openapi/v3``: one entry per group version, its URL carrying the document's hash."""
    paths = {}
    for group, versions in _group_versions(types).items():
        for version in versions:
            document = openapi_document(types, group, version)
            digest = _hash(json.dumps(document, sort_keys=True)).upper()[:32]
            paths[_gv_path(group, version)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}"
                                                                    f"?hash={digest}"}
    return {"paths": paths}


def openapi_document(types: Iterable[ResourceType], group: str, version: str) -> Obj | None:
    served = [t for t in types if t.group == group and t.version == version]
    if not served:
        return None
    paths: Obj = {}
    schemas: Obj = {}
    for resource in served:
        gvk = {"group": group, "version": version, "kind": resource.kind}
        name = _schema_name(resource)
        schema = dict(resource.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                          "description": f"{resource.kind} (served without a schema by the "
                                                         "argo-ml emulator)"})
        schemas[name] = dict(schema, **{"x-kubernetes-group-version-kind": [gvk]})
        ref = {"$ref": f"#/components/schemas/{name}"}
        body = {"content": {"application/json": {"schema": ref}}}
        reply = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        prefix = f"/{_gv_path(group, version)}" + ("/namespaces/{namespace}" if resource.namespaced else "")
        item = f"{prefix}/{resource.plural}/{{name}}"
        writes = [_parameter(p) for p in ("dryRun", "fieldManager", "fieldValidation")]
        paths[f"{prefix}/{resource.plural}"] = {
            "get": _operation("list", gvk, reply, [_parameter(p) for p in ("labelSelector", "fieldSelector", "limit",
                                                                           "continue", "watch")]),
            "post": _operation("post", gvk, reply, writes, body)}
        paths[item] = {"get": _operation("get", gvk, reply, []), "put": _operation("put", gvk, reply, writes, body),
                       "patch": _operation("patch", gvk, reply, writes, body),
                       "delete": _operation("delete", gvk, reply, [_parameter("dryRun")])}
        if resource.status_subresource:
            paths[f"{item}/status"] = {"get": _operation("get", gvk, reply, []),
                                       "patch": _operation("patch", gvk, reply, writes, body)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (argo-ml emulator)", "version": SERVER_VERSION[
        "gitVersion"]}, "paths": paths, "components": {"schemas": schemas}}


def _operation(action: str, gvk: Obj, reply: Obj, parameters: list[Obj], body: Obj | None = None) -> Obj:
    operation: Obj = {"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                      "parameters": parameters, "responses": reply}
    if body is not None:
        operation["requestBody"] = body
    return operation


def _parameter(name: str) -> Obj:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _schema_name(resource: ResourceType) -> str:
    if not resource.group:
        return f"io.k8s.api.core.{resource.version}.{resource.kind}"
    return ".".join(reversed(resource.group.split("."))) + f".{resource.version}.{resource.kind}"


def _singular(resource: ResourceType) -> str:
    return resource.singular or resource.kind.lower()


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
