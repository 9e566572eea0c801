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

A Workflow's status is written by whoever may update the Workflow (Argo's CRD has no status
subresource), so nothing in it is trusted beyond what it names: the repository is always read
from its ConfigMap (the copy Argo records in ``status.artifactRepositoryRef.artifactRepository``
is ignored), and only that repository's secret references ever reach a fetcher, and only for a
location in that repository's own store (:data:`DESTINATION_FIELDS`). Credentials an artifact
names itself are never used. Malformed node shapes are skipped with a reason, never a crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from argoml import jsontypes, kube, names
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
# What makes two locations of one kind the same store: a repository's credentials go only to its own store.
# (A store kind without an entry here never gets a repository's credentials for an inline location.)
DESTINATION_FIELDS = {"s3": ("endpoint", "bucket"), "gcs": ("bucket",), "azure": ("endpoint", "container"),
                      "oss": ("endpoint", "bucket")}
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
    config: Mapping[str, Any]  # without secret references
    archive: str  # "tgz" (Argo's default), "zip" or "none"
    secrets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # field path -> secretKeyRef

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
    archive = jsontypes.mapping(artifact.get("archive"))
    if "none" in archive:
        return "none"
    return "zip" if "zip" in archive else "tgz"


@dataclass(frozen=True)
class Scan:
    """A workflow's output artifacts of one name, and the nodes or artifacts skipped as malformed (with why)."""

    found: list[NodeArtifact]
    skipped: list[str]



def _nodes(workflow: Mapping[str, Any]) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
    """The well-formed nodes of ``status.nodes`` and a reason for each one that is not."""
    raw = jsontypes.mapping(workflow.get("status")).get("nodes")
    if raw is None:
        return [], []
    if not isinstance(raw, Mapping):
        return [], [f"status.nodes is a {type(raw).__name__}, not an object"]
    nodes, skipped = [], []
    for node_id, node in raw.items():
        outputs = node.get("outputs") if isinstance(node, Mapping) else None
        artifacts = outputs.get("artifacts") if isinstance(outputs, Mapping) else None
        if not isinstance(node, Mapping):
            skipped.append(f"node {str(node_id)[:80]!r}: not an object")
        elif outputs is not None and not isinstance(outputs, Mapping):
            skipped.append(f"node {str(node_id)[:80]!r}: outputs is not an object")
        elif artifacts is not None and not isinstance(artifacts, list):
            skipped.append(f"node {str(node_id)[:80]!r}: outputs.artifacts is not a list")
        else:
            nodes.append((str(node_id), node))
    return nodes, skipped


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def scan(workflow: Mapping[str, Any], name: str) -> Scan:
    """Every output artifact called ``name`` in the workflow's nodes, one per stored location.

    Argo copies a child's outputs onto its Retry node and onto step groups that pass them on, so
    the same location can appear on several nodes; it is listed once, under the name of the step
    that produced it (a retried attempt is named after its Retry node, ``train`` not ``train(1)``).
    Names are made safe as directory names and unique. A running workflow yields what exists so far.
    """
    nodes, skipped = _nodes(workflow)
    retry_parent = {child: node for _, node in nodes if node.get("type") == "Retry"
                    for child in _list(node.get("children")) if isinstance(child, str)}
    found: dict[str, NodeArtifact] = {}
    used: set[str] = set()
    for node_id, node in sorted(nodes, key=lambda item: (_producer_rank(item[1]), _text(item[1].get("startedAt")),
                                                         item[0])):
        for artifact in jsontypes.mapping(node.get("outputs")).get("artifacts") or []:
            if not isinstance(artifact, Mapping) or artifact.get("name") != name:
                continue
            places = {k: artifact.get(k) for k in STORAGE_KINDS if artifact.get(k) is not None}
            if any(not isinstance(place, Mapping) for place in places.values()):
                skipped.append(f"node {node_id[:80]!r}: artifact {name!r} has a location that is not an object")
                continue
            try:
                where = json.dumps(places, sort_keys=True)
            except (TypeError, ValueError):
                skipped.append(f"node {node_id[:80]!r}: artifact {name!r} has a location that is not JSON")
                continue
            if where in found:
                continue
            display = (_text(jsontypes.mapping(retry_parent.get(node_id)).get("displayName"))
                       or _text(node.get("displayName")) or _text(node.get("name")) or node_id)
            run = unique_name(safe_run_name(display), used)
            found[where] = NodeArtifact(run, node_id, _text(node.get("name")), _text(node.get("phase")), artifact)
    return Scan(sorted(found.values(), key=lambda a: a.run), skipped)


def output_artifacts(workflow: Mapping[str, Any], name: str) -> list[NodeArtifact]:
    """The well-formed output artifacts called ``name`` (see :func:`scan`)."""
    return scan(workflow, name).found


def artifact_names(workflow: Mapping[str, Any]) -> list[str]:
    """The names of all output artifacts in the workflow's nodes (what a 422 reports as found)."""
    return sorted({artifact["name"] for _, node in _nodes(workflow)[0]
                   for artifact in jsontypes.mapping(node.get("outputs")).get("artifacts") or []
                   if isinstance(artifact, Mapping) and isinstance(artifact.get("name"), str)})


def _producer_rank(node: Mapping[str, Any]) -> int:
    """Pods produce artifacts; other nodes only pass their children's on."""
    return 0 if node.get("type") == "Pod" else 1


_UNSAFE = re.compile(r"[^A-Za-z0-9._()=:,+-]+")


def safe_run_name(display: str) -> str:
    """``display`` as a run's directory name: safe characters only, 100 at most."""
    return _UNSAFE.sub("_", display).lstrip(".")[:100] or "run"


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3`` ... (within 100 characters) if taken; records it as taken."""
    candidate, n = name, 1
    while candidate in used:
        n += 1
        suffix = f"-{n}"
        candidate = name[:100 - len(suffix)] + suffix
    used.add(candidate)
    return candidate


@dataclass
class Locator:
    """Resolves the artifacts of one workflow to full locations, reading its repository once, on demand."""

    workflow: Mapping[str, Any]
    controller_namespace: str = "argo"
    controller_configmap: str = CONTROLLER_CONFIGMAP
    # The repository ConfigMaps of a workflow's namespace this function reads (its role names the same).
    configmaps: tuple[str, ...] = (DEFAULT_REPOSITORIES_CONFIGMAP,)
    _repository: tuple[Obj | None, str] | None = field(default=None, init=False, repr=False)
    _parts: tuple[Obj, dict[str, Obj]] | None = field(default=None, init=False, repr=False)

    def locate(self, found: NodeArtifact) -> Location:
        """The artifact's location, with the credentials (secret references) that may be used to fetch it.

        A key-only artifact is relocated into its repository (only its key is its own: an endpoint or
        bucket beside the key must not redirect the repository's credentials). A complete inline location
        is used as given; it gets the repository's credentials only if it is in the repository's own store,
        and credentials it names itself are refused.
        """
        artifact = found.artifact
        what = f"artifact {str(artifact.get('name'))[:80]!r} of step {found.run!r}"
        kind = storage_kind(artifact)
        own: Obj = dict(jsontypes.mapping(artifact.get(kind))) if kind else {}
        if kind is None or not _complete(kind, own):
            repository, origin = self.repository()
            repo_kind = storage_kind(repository or {})
            if repository is None or repo_kind is None:
                raise Unprocessable(f"{what} has only a key, and no artifact repository is configured for it "
                                    f"({origin})")
            if kind not in (None, repo_kind):
                raise Unprocessable(f"{what} is a key-only {kind} artifact, but its artifact repository ({origin}) "
                                    f"is {repo_kind}")
            settings, credentials = self._repository_parts(repo_kind)
            relocated = _relocate(repo_kind, settings, own)
            if not _complete(repo_kind, relocated):
                missing = [f"{repo_kind}.{name}" for name in _REQUIRED.get(repo_kind, ()) if not relocated.get(name)]
                raise Unprocessable(f"{what}: its location lacks {', '.join(missing)}")
            return Location(repo_kind, relocated, archive_of(artifact), credentials)
        plain, named = split_secrets(own)
        secrets: Mapping[str, Mapping[str, Any]] = {}
        store = self._repository_store(kind)
        if store is not None and _same_store(kind, plain, store):
            secrets = self._repository_parts(kind)[1]
        elif named:
            raise Unprocessable(f"{what} names its own credentials ({', '.join(sorted(named))}); only the "
                                "credentials of the workflow's artifact repository are used, and only for its store")
        return Location(kind, plain, archive_of(artifact), secrets)

    def repository(self) -> tuple[Obj | None, str]:
        """The workflow's artifact repository and a description of where it came from."""
        if self._repository is None:
            self._repository = self._find_repository()
        return self._repository

    def _repository_parts(self, kind: str) -> tuple[Obj, dict[str, Obj]]:
        """The repository's settings of ``kind`` without secrets, and its secret references (computed once)."""
        if self._parts is None:
            repository, _ = self.repository()
            plain, secrets = split_secrets(jsontypes.mapping((repository or {}).get(kind)))
            fields = _REPOSITORY_FIELDS.get(kind, ("usernameSecret", "passwordSecret"))
            self._parts = plain, {path: ref for path, ref in secrets.items() if path.split(".")[0] in fields}
        return self._parts

    def _repository_store(self, kind: str) -> Mapping[str, Any] | None:
        """The repository's settings if it is of ``kind``; ``None`` when there is none (or it cannot be read)."""
        try:
            repository, _ = self.repository()
        except Unprocessable:
            return None
        return jsontypes.mapping(repository.get(kind)) if repository is not None and kind in repository else None

    def _find_repository(self) -> tuple[Obj | None, str]:
        namespace = _text(jsontypes.mapping(self.workflow.get("metadata")).get("namespace"))
        ref = jsontypes.mapping(jsontypes.mapping(self.workflow.get("status")).get("artifactRepositoryRef"))
        # The status's copy of the repository (ref.artifactRepository) is ignored: anyone who may update the
        # workflow writes it. The ConfigMap it names is read instead, as the controller read it.
        if ref.get("default") is True:
            return self._controller_default()
        if ref.get("configMap") or ref.get("key") or ref.get("namespace"):
            # Argo resolves a repository only in the workflow's namespace or its own; the status must not
            # make this function (which may read ConfigMaps in both) read one from anywhere else.
            where = _text(ref.get("namespace")) or namespace
            if where != namespace:
                raise Unprocessable(f"status.artifactRepositoryRef names namespace {where[:80]!r}; an artifact "
                                    f"repository is read only from the workflow's namespace ({namespace}), or "
                                    f"the controller's default (default: true) from Argo's "
                                    f"({self.controller_namespace})")
            return self._from_configmap(where, ref, required=True)
        spec_ref = jsontypes.mapping(jsontypes.mapping(self.workflow.get("spec")).get("artifactRepositoryRef"))
        if spec_ref:
            return self._from_configmap(namespace, spec_ref, required=True)
        repository, origin = self._from_configmap(namespace, {}, required=False)
        return (repository, origin) if repository is not None else self._controller_default()

    def _from_configmap(self, namespace: str, ref: Mapping[str, Any], *, required: bool) -> tuple[Obj | None, str]:
        name = ref.get("configMap") or DEFAULT_REPOSITORIES_CONFIGMAP
        key = ref.get("key")
        if not isinstance(name, str) or not names.is_dns_subdomain(name) or not isinstance(key, str | None):
            raise Unprocessable("the workflow's artifactRepositoryRef is malformed (configMap and key must be "
                                "names)")
        if name not in self.configmaps:
            raise Unprocessable(f"the workflow's artifactRepositoryRef names ConfigMap {namespace}/{name[:80]}; this "
                                f"function reads only {', '.join(self.configmaps)} (an operator adds other names to "
                                "TENSORBOARD_REPOSITORY_CONFIGMAPS and to its role's resourceNames)")
        configmap = read_configmap(namespace, name)
        where = f"ConfigMap {namespace}/{name}"
        if configmap is None:
            if required:
                raise Unprocessable(f"the workflow's artifact repository {where} does not exist")
            return None, where
        key = key or configmap["metadata"]["annotations"].get(DEFAULT_REPOSITORY_ANNOTATION)
        if not key:
            if required:
                raise Unprocessable(f"{where} names no default artifact repository (annotation "
                                    f"{DEFAULT_REPOSITORY_ANNOTATION}) and the workflow names no key")
            return None, where
        text = configmap["data"].get(key)
        if text is None:
            raise Unprocessable(f"{where} has no key {key[:80]!r} for the workflow's artifact repository")
        return _parse_repository(text, f"{where} key {key[:80]!r}"), f"{where} key {key[:80]!r}"

    def _controller_default(self) -> tuple[Obj | None, str]:
        where = f"ConfigMap {self.controller_namespace}/{self.controller_configmap}"
        configmap = read_configmap(self.controller_namespace, self.controller_configmap)
        data = (configmap or {}).get("data") or {}
        if "artifactRepository" in data:
            return _parse_repository(data["artifactRepository"], f"{where} key 'artifactRepository'"), where
        if "config" in data:  # the single-key layout of Argo before v3.0
            config = _parse_repository(data["config"], f"{where} key 'config'")
            repository = config.get("artifactRepository")
            if repository is not None and not isinstance(repository, dict):
                raise Unprocessable(f"{where} key 'config': artifactRepository is not a mapping")
            return repository, where
        return None, f"the controller's default in {where} is not set"


def split_secrets(config: Mapping[str, Any], path: str = "") -> tuple[Obj, dict[str, Obj]]:
    """Location settings without secret references, and the references (as secretKeyRefs) by field path.

    A secret reference is a ``...Secret`` field holding ``{name, key}`` (Argo's SecretKeySelector),
    at any depth (``auth.basicAuth.passwordSecret``): this covers every store's credential fields.
    """
    plain: Obj = {}
    secrets: dict[str, Obj] = {}
    for key, value in config.items():
        field_path = f"{path}{key}"
        if str(key).endswith("Secret") and isinstance(value, Mapping):
            if isinstance(value.get("key"), str) and value["key"] and isinstance(value.get("name"), str):
                secrets[field_path] = {"name": value["name"], "key": value["key"],
                                       **({"optional": True} if value.get("optional") is True else {})}
        elif isinstance(value, Mapping):
            plain[key], inner = split_secrets(value, f"{field_path}.")
            secrets.update(inner)
        else:
            plain[key] = value
    return plain, secrets


def _same_store(kind: str, location: Mapping[str, Any], store: Mapping[str, Any]) -> bool:
    fields = DESTINATION_FIELDS.get(kind)
    return bool(fields) and all(_normal(location.get(f)) == _normal(store.get(f)) for f in fields or ())


def _normal(value: Any) -> str:
    """An endpoint or bucket as compared between locations (``https://`` and a trailing ``/`` do not matter)."""
    text = str(value or "").strip().lower().rstrip("/")
    return text.split("://", 1)[-1]


def read_configmap(namespace: str, name: str) -> Obj | None:
    """A ConfigMap's annotations and data, or ``None`` if it does not exist."""
    try:
        configmap = kube.get_or_none(kube.CONFIGMAPS, namespace, name)
    except kube.Forbidden:  # the role names the ConfigMaps it may read; a workflow may name another
        raise Unprocessable(f"this function may not read ConfigMap {namespace}/{name} (its role names the "
                            "artifact repository ConfigMaps it reads)") from None
    if configmap is None:
        return None
    return {"metadata": {"annotations": (configmap.get("metadata") or {}).get("annotations") or {}},
            "data": configmap.get("data") or {}}


def _parse_repository(text: str, where: str) -> Obj:
    import yaml  # lazily: only a workflow's artifact repository ConfigMap needs it, ~13 ms of a cold start
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the position: the parser's message quotes the ConfigMap's lines, and a status may name any
        # ConfigMap of the workflow's or Argo's namespace.
        mark = getattr(exc, "problem_mark", None)
        position = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise Unprocessable(f"{where} is not valid YAML{position}") from None
    except RecursionError:
        raise Unprocessable(f"{where} is nested too deeply") from None
    if not isinstance(value, dict):
        raise Unprocessable(f"{where} is not an artifact repository (a YAML mapping)")
    return value


def _complete(kind: str, location: Mapping[str, Any]) -> bool:
    return all(location.get(name) for name in _REQUIRED.get(kind, ()))


_KEY_FIELDS = {"azure": "blob"}


def _relocate(kind: str, repository: Mapping[str, Any], own: Obj) -> Obj:
    """Argo's Artifact.Relocate: the repository's settings (secrets apart), with the artifact's key alone of its own."""
    key = own.get(_KEY_FIELDS.get(kind, "key"))
    key = key if isinstance(key, str) else ""
    if kind == "artifactory":
        base = str(repository.get("repoURL", "")).rstrip("/")
        return {"url": f"{base}/{key.lstrip('/')}"}
    relocated = {k: v for k, v in repository.items() if k in _REPOSITORY_FIELDS.get(kind, ())}
    return {**relocated, **({_KEY_FIELDS.get(kind, "key"): key} if key else {})}
