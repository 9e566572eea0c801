"""A Workflow's output artifacts: where they are, as Argo itself would resolve them.

Argo records every node's outputs in ``status.nodes`` (steps, DAG tasks, retries and
loop iterations alike). An artifact either carries its full location (inline ``s3``,
``gcs``, ``azure``, ``http`` ...) or only a key ("key-only artifacts", the default for
outputs since Argo 3.x), in which case the bucket, endpoint and credentials come from
the artifact repository the workflow ran with: the one recorded in
``status.artifactRepositoryRef`` (or the ConfigMap and key it names), else the
workflow's ``spec.artifactRepositoryRef``, else the namespace's
``artifact-repositories`` ConfigMap, else the controller's default in
``workflow-controller-configmap``. :class:`Locator` follows that order, reading each
ConfigMap at most once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from argoml import kube
from argoml.argo import (
    CONTROLLER_CONFIGMAP,
    DEFAULT_REPOSITORIES_CONFIGMAP,
    DEFAULT_REPOSITORY_ANNOTATION,
    STORAGE_KINDS,
    storage_kind,
)
from argoml.errors import Unprocessable
from argoml.kube import Obj

# What a repository contributes to a key-only artifact of the same kind (Argo's ArtifactRepository types);
# the artifact's own fields (its key above all) win.
_REPOSITORY_FIELDS = {
    "s3": ("bucket", "endpoint", "region", "insecure", "accessKeySecret", "secretKeySecret", "sessionTokenSecret",
           "roleARN", "useSDKCreds", "caSecret", "addressingStyle", "encryptionOptions"),
    "gcs": ("bucket", "serviceAccountKeySecret"),
    "azure": ("endpoint", "container", "accountKeySecret", "useSDKCreds"),
    "oss": ("endpoint", "bucket", "accessKeySecret", "secretKeySecret", "securityToken", "useSDKCreds"),
}
# The fields without which a location is not complete (it must come from a repository).
_REQUIRED = {"s3": ("bucket", "key"), "gcs": ("bucket", "key"), "azure": ("endpoint", "container", "blob"),
             "http": ("url",), "artifactory": ("url",), "oss": ("bucket", "key")}


@dataclass(frozen=True)
class NodeArtifact:
    """One output artifact of one node, under the name its run gets (the step's display name)."""

    run: str
    node_id: str
    node_name: str
    phase: str
    artifact: Mapping[str, Any]


@dataclass(frozen=True)
class Location:
    """Where an artifact's bytes are: a storage ``kind`` and its complete settings (secret *references* only)."""

    kind: str
    config: Mapping[str, Any]
    archive: str  # "tgz" (Argo's default), "zip" or "none"

    def describe(self) -> str:
        c = self.config
        match self.kind:
            case "s3" | "gcs" | "oss":
                return f"{self.kind}://{c.get('bucket')}/{c.get('key')}"
            case "azure":
                return f"azure {c.get('endpoint')}/{c.get('container')}/{c.get('blob')}"
            case _:
                return f"{self.kind} {c.get('url', '')}".strip()


def archive_of(artifact: Mapping[str, Any]) -> str:
    """How Argo packed the artifact: ``tgz`` unless ``archive`` says ``none`` or ``zip``."""
    archive = artifact.get("archive") or {}
    if "none" in archive:
        return "none"
    return "zip" if "zip" in archive else "tgz"


def output_artifacts(workflow: Mapping[str, Any], name: str) -> list[NodeArtifact]:
    """Every output artifact called ``name`` in the workflow's nodes, one per stored location.

    Argo copies a child's outputs onto its Retry node and onto step groups that pass them on, so
    the same location can appear on several nodes; it is listed once, under the name of the step
    that produced it (a retried attempt is named after its Retry node, ``train`` not ``train(1)``).
    Names are made safe as directory names and unique. A running workflow yields what exists so far.
    """
    nodes: Mapping[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    retry_parent = {child: node for node in nodes.values() if node.get("type") == "Retry"
                    for child in node.get("children") or []}
    found: dict[str, NodeArtifact] = {}
    used: set[str] = set()
    for node_id, node in sorted(nodes.items(), key=lambda item: (_producer_rank(item[1]),
                                                                    item[1].get("startedAt") or "", item[0])):
        for artifact in ((node.get("outputs") or {}).get("artifacts") or []):
            if artifact.get("name") != name:
                continue
            where = json.dumps({k: artifact.get(k) for k in STORAGE_KINDS if artifact.get(k) is not None},
                               sort_keys=True)
            if where in found:
                continue
            display = (retry_parent.get(node_id) or node).get("displayName") or node.get("name") or node_id
            run = _unique(_safe_run_name(display), used)
            found[where] = NodeArtifact(run, node_id, node.get("name", ""), node.get("phase", ""), artifact)
    return sorted(found.values(), key=lambda a: a.run)


def artifact_names(workflow: Mapping[str, Any]) -> list[str]:
    """The names of all output artifacts in the workflow's nodes (what a 422 reports as found)."""
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return sorted({a.get("name", "") for node in nodes.values()
                   for a in ((node.get("outputs") or {}).get("artifacts") or [])})


def _producer_rank(node: Mapping[str, Any]) -> int:
    """Pods produce artifacts; other nodes only pass their children's on."""
    return 0 if node.get("type") == "Pod" else 1


_UNSAFE = re.compile(r"[^A-Za-z0-9._()=:,+-]+")


def _safe_run_name(display: str) -> str:
    return _UNSAFE.sub("_", display).lstrip(".")[:100] or "run"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate


@dataclass
class Locator:
    """Resolves the artifacts of one workflow to full locations, reading its repository once, on demand."""

    workflow: Mapping[str, Any]
    controller_namespace: str = "argo"
    controller_configmap: str = CONTROLLER_CONFIGMAP
    _repository: tuple[Obj | None, str] | None = field(default=None, init=False, repr=False)

    def locate(self, found: NodeArtifact) -> Location:
        artifact = found.artifact
        kind = storage_kind(artifact)
        own: Obj = dict(artifact.get(kind) or {}) if kind else {}
        if kind is None or not _complete(kind, own):
            repository, origin = self.repository()
            repo_kind = storage_kind(repository or {})
            if repository is None or repo_kind is None:
                raise Unprocessable(f"artifact {artifact.get('name')!r} of step {found.run!r} has only a key, and "
                                    f"no artifact repository is configured for it ({origin})")
            if kind not in (None, repo_kind):
                raise Unprocessable(f"artifact {artifact.get('name')!r} of step {found.run!r} is a key-only {kind} "
                                    f"artifact, but its artifact repository ({origin}) is {repo_kind}")
            kind, own = repo_kind, _relocate(repo_kind, repository[repo_kind], own)
        if not _complete(kind, own):
            missing = [f"{kind}.{name}" for name in _REQUIRED.get(kind, ()) if not own.get(name)]
            raise Unprocessable(f"artifact {artifact.get('name')!r} of step {found.run!r}: its location lacks "
                                f"{', '.join(missing)}")
        return Location(kind, own, archive_of(artifact))

    def repository(self) -> tuple[Obj | None, str]:
        """The workflow's artifact repository and a description of where it came from."""
        if self._repository is None:
            self._repository = self._find_repository()
        return self._repository

    def _find_repository(self) -> tuple[Obj | None, str]:
        namespace = self.workflow.get("metadata", {}).get("namespace", "")
        ref = (self.workflow.get("status") or {}).get("artifactRepositoryRef")
        if ref:
            if ref.get("artifactRepository"):
                return ref["artifactRepository"], "status.artifactRepositoryRef.artifactRepository"
            if ref.get("default"):
                return self._controller_default()
            # Argo resolves a repository only in the workflow's namespace or its own; the status is
            # writable by whoever may update the workflow, and must not make this function (which may
            # read ConfigMaps everywhere) read one from any other namespace into a spec or a message.
            where = ref.get("namespace") or namespace
            if where not in (namespace, self.controller_namespace):
                raise Unprocessable(f"status.artifactRepositoryRef names namespace {where!r}; an artifact repository "
                                    f"is read only from the workflow's namespace ({namespace}) or Argo's "
                                    f"({self.controller_namespace})")
            return self._from_configmap(where, ref, required=True)
        spec_ref = (self.workflow.get("spec") or {}).get("artifactRepositoryRef")
        if spec_ref:
            return self._from_configmap(namespace, spec_ref, required=True)
        repository, origin = self._from_configmap(namespace, {}, required=False)
        return (repository, origin) if repository is not None else self._controller_default()

    def _from_configmap(self, namespace: str, ref: Mapping[str, Any], *, required: bool) -> tuple[Obj | None, str]:
        name = ref.get("configMap") or DEFAULT_REPOSITORIES_CONFIGMAP
        configmap = read_configmap(namespace, name)
        where = f"ConfigMap {namespace}/{name}"
        if configmap is None:
            if required:
                raise Unprocessable(f"the workflow's artifact repository {where} does not exist")
            return None, where
        key = ref.get("key") or ((configmap.get("metadata") or {}).get("annotations") or {}).get(
            DEFAULT_REPOSITORY_ANNOTATION)
        if not key:
            if required:
                raise Unprocessable(f"{where} names no default artifact repository (annotation "
                                    f"{DEFAULT_REPOSITORY_ANNOTATION}) and the workflow names no key")
            return None, where
        text = (configmap.get("data") or {}).get(key)
        if text is None:
            raise Unprocessable(f"{where} has no key {key!r} for the workflow's artifact repository")
        return _parse_repository(text, f"{where} key {key!r}"), f"{where} key {key!r}"

    def _controller_default(self) -> tuple[Obj | None, str]:
        where = f"ConfigMap {self.controller_namespace}/{self.controller_configmap}"
        configmap = read_configmap(self.controller_namespace, self.controller_configmap)
        data = (configmap or {}).get("data") or {}
        if "artifactRepository" in data:
            return _parse_repository(data["artifactRepository"], f"{where} key 'artifactRepository'"), where
        if "config" in data:  # the single-key layout of Argo before v3.0
            config = _parse_repository(data["config"], f"{where} key 'config'")
            return config.get("artifactRepository"), where
        return None, f"the controller's default in {where} is not set"


def read_configmap(namespace: str, name: str) -> Obj | None:
    """A ConfigMap's annotations and data, or ``None`` if it does not exist."""
    configmap = kube.get_or_none(kube.CONFIGMAPS, namespace, name)
    if configmap is None:
        return None
    return {"metadata": {"annotations": (configmap.get("metadata") or {}).get("annotations") or {}},
            "data": configmap.get("data") or {}}


def _parse_repository(text: str, where: str) -> Obj:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Unprocessable(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(value, dict):
        raise Unprocessable(f"{where} is not an artifact repository (a YAML mapping)")
    return value


def _complete(kind: str, location: Mapping[str, Any]) -> bool:
    return all(location.get(name) for name in _REQUIRED.get(kind, ()))


def _relocate(kind: str, repository: Mapping[str, Any], own: Obj) -> Obj:
    """Argo's Artifact.Relocate: the repository's settings, with the artifact's key on top."""
    if kind == "artifactory":
        base = str(repository.get("repoURL", "")).rstrip("/")
        key = own.pop("key", "") or ""
        relocated = {k: v for k, v in repository.items() if k in ("usernameSecret", "passwordSecret")}
        return {**relocated, **own, "url": own.get("url") or f"{base}/{key.lstrip('/')}"}
    relocated = {k: v for k, v in repository.items() if k in _REPOSITORY_FIELDS.get(kind, ())}
    return {**relocated, **{k: v for k, v in own.items() if v not in (None, "")}}
