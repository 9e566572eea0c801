"""TensorBoard instances for a workflow's ``tensorboard`` artifacts: spec, create-or-return, state, teardown.

An instance shows every output artifact named ``tensorboard`` (configurable) of one
Workflow, each as a run named after its step. It runs in the workflow's namespace, is
owned by the Workflow (deleting the workflow deletes it) and is named deterministically
from the workflow's name, so asking twice finds the same instance. Two shapes:

- ``knative`` (default): a Knative Service that scales to zero when nobody looks. Its
  pod has an init container (``python -m argoml.tensorboard.fetch`` in this function's own image)
  that downloads and unpacks the logs into an ``emptyDir`` shared with TensorBoard.
  Needs the Knative feature flags ``kubernetes.podspec-init-containers`` and
  ``kubernetes.podspec-volumes-emptydir`` (``knative/knative-features/``).
- ``deployment``: the same pod in a Deployment plus a ClusterIP Service, for clusters
  without those Knative features.

Either way an instance is reachable only inside the cluster (the Knative Service is labelled
``networking.knative.dev/visibility: cluster-local``) and TensorBoard runs under the path
``/tensorboards/<namespace>/<workflow>/ui`` (``--path_prefix``): users reach it only through
this function's proxy at that path (:mod:`argoml.tensorboard.proxy`), which checks the
caller's rights on every request. The URL an instance reports is that path, never an
internal host name.

Credentials stay in the artifact repository's Secrets: the spec only references them
(``secretKeyRef``). Nothing waits: the state reports ``ready: false`` until the
Knative Service (or Deployment) says it is ready, and the URL as soon as it is known.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ipaddress
import json
import math
import os
import shlex
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argoml import argo, kube, names, quantities
from argoml.errors import Conflict, InvalidInput, NotFound, Unprocessable
from argoml.kube import DEPLOYMENTS, KNATIVE_SERVICES, SERVICES, Obj, Resource
from argoml.tensorboard import artifacts, startup, sweeps
from argoml.tensorboard.fetch import (
    CONFIG_ENV,
    FETCHABLE,
    TERMINATION_LOG_ENV,
    Destinations,
    FetchError,
    HParams,
    Plan,
    StoredRun,
)
from argoml.tensorboard.labels import (
    INSTANCE_LABEL,
    LAST_ACCESSED_ANNOTATION,
    MANAGED,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    RUNS_ANNOTATION,
    SPEC_ANNOTATION,
    WORKFLOW_LABEL,
)
from argoml.timestamps import now_rfc3339

PORT = 6006
LOGDIR = "/logs"
TERMINATION_LOG = "/dev/termination-log"
MODES = ("knative", "deployment")
LIST_PAGE = 100  # workflows per list request when listing a namespace, at most
# ... and the bytes of one page: a sweep's Workflow may be a megabyte, and a page is held decoded while read.
LIST_PAGE_BYTES = 8 * 2**20
MAX_SKIPPED = 50  # reasons reported for skipped artifacts or workflows (the rest are counted)
VISIBILITY_LABEL = "networking.knative.dev/visibility"

# Knative names a Service's first revision <name>-00001 and that must stay a 63-character DNS label.
MAX_NAME = 52

_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65532,
                       "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    """What an operator configures (environment variables, see the README)."""

    mode: str = "knative"
    image: str = "tensorflow/tensorflow:2.16.1"
    fetch_image: str = "ghcr.io/argoml/argoml-tensorboard:dev"
    artifact: str = "tensorboard"
    flags: tuple[str, ...] = ()
    resources: Mapping[str, Any] = field(default_factory=lambda: {"requests": {"cpu": "100m", "memory": "512Mi"},
                                                                  "limits": {"memory": "2Gi"}})
    argo_namespace: str = "argo"
    controller_configmap: str = artifacts.CONTROLLER_CONFIGMAP
    logs_size_limit: str = "10Gi"  # the logs volume's sizeLimit; the fetcher refuses to write more
    # Where the proxy reaches an instance, {name} and {namespace} filled in ("" = the mode's in-cluster address).
    upstream: str = ""
    # Networks downloads may reach although they are loopback or link-local (an operator's choice).
    fetch_allow: tuple[str, ...] = ()
    # The ConfigMaps of a workflow's namespace an artifactRepositoryRef may name (the role grants the same).
    repository_configmaps: tuple[str, ...] = (artifacts.DEFAULT_REPOSITORIES_CONFIGMAP,)

    @property
    def upstream_template(self) -> str:
        if self.upstream:
            return self.upstream
        port = "" if self.mode == "knative" else f":{PORT}"  # Knative's cluster-local gateway listens on 80
        return f"http://{{name}}.{{namespace}}.svc.cluster.local{port}"

    @property
    def logs_max_bytes(self) -> int:
        return _size_in_bytes(self.logs_size_limit) or 0

    @classmethod
    def from_env(cls) -> Settings:
        defaults = cls()
        mode = _env("TENSORBOARD_MODE", defaults.mode)
        if mode not in MODES:
            raise ValueError(f"TENSORBOARD_MODE must be one of {', '.join(MODES)}, not {mode!r}")
        resources = defaults.resources
        if text := os.environ.get("TENSORBOARD_RESOURCES", "").strip():
            resources = json.loads(text)
            if not isinstance(resources, dict) or set(resources) - {"requests", "limits"}:
                raise ValueError("TENSORBOARD_RESOURCES must be a JSON object with 'requests' and/or 'limits'")
        logs_size_limit = _env("TENSORBOARD_LOGS_SIZE_LIMIT", defaults.logs_size_limit)
        if not _size_in_bytes(logs_size_limit):
            raise ValueError(f"TENSORBOARD_LOGS_SIZE_LIMIT must be a size such as 10Gi or 500Mi, "
                             f"not {logs_size_limit!r}")
        upstream = os.environ.get("TENSORBOARD_UPSTREAM", "").strip()
        if upstream and urllib.parse.urlsplit(upstream).scheme not in ("http", "https"):
            raise ValueError(f"TENSORBOARD_UPSTREAM must be an http(s) URL template, not {upstream!r}")
        fetch_allow = tuple(n.strip() for n in os.environ.get("TENSORBOARD_FETCH_ALLOW", "").split(",") if n.strip())
        for network in fetch_allow:
            ipaddress.ip_network(network, strict=False)  # ValueError names it
        configmaps = tuple(n.strip() for n in os.environ.get("TENSORBOARD_REPOSITORY_CONFIGMAPS", "").split(",")
                           if n.strip()) or defaults.repository_configmaps
        if bad := [n for n in configmaps if not names.is_dns_subdomain(n)]:
            raise ValueError(f"TENSORBOARD_REPOSITORY_CONFIGMAPS: {bad[0]!r} is not a ConfigMap name")
        return cls(mode=mode, image=_env("TENSORBOARD_IMAGE", defaults.image), upstream=upstream,
                   fetch_allow=fetch_allow, repository_configmaps=configmaps,
                   fetch_image=_env("TENSORBOARD_FETCH_IMAGE", defaults.fetch_image),
                   artifact=_env("TENSORBOARD_ARTIFACT", defaults.artifact),
                   flags=tuple(shlex.split(os.environ.get("TENSORBOARD_FLAGS", ""))), resources=resources,
                   argo_namespace=_env("ARGO_NAMESPACE", defaults.argo_namespace),
                   controller_configmap=_env("ARGO_CONTROLLER_CONFIGMAP", defaults.controller_configmap),
                   logs_size_limit=logs_size_limit)


def _size_in_bytes(quantity: str) -> int | None:
    """The bytes a sizeLimit means (rounded up, as Kubernetes does), ``None`` unless a positive quantity."""
    value = quantities.parse(quantity)
    return math.ceil(value) if value is not None and value > 0 else None


@dataclass(frozen=True)
class Instance:
    """What the API answers about one TensorBoard instance."""

    name: str
    namespace: str
    workflow: str
    mode: str
    ready: bool
    url: str | None
    runs: tuple[str, ...]
    message: str = ""
    created: str = ""
    last_accessed: str = ""
    skipped: tuple[str, ...] = ()  # artifacts left out of a PUT, each with why
    sweep: bool = False  # a HyperparamWorkflow's: its trials are the runs, with HParams

    def to_json(self) -> Obj:
        return {"name": self.name, "namespace": self.namespace, "workflow": self.workflow, "mode": self.mode,
                "ready": self.ready, "url": self.url, "runs": list(self.runs), "message": self.message,
                "created": self.created, "lastAccessed": self.last_accessed, "sweep": self.sweep,
                **({"skipped": list(self.skipped)} if self.skipped else {})}


# --- names --------------------------------------------------------------------------------------------


def check_namespace(namespace: str) -> str:
    if not names.is_dns_label(namespace):
        raise InvalidInput(f"namespace {namespace[:80]!r} is not a valid namespace name (an RFC 1123 label)")
    return namespace


def check_workflow_name(name: str) -> str:
    if not names.is_dns_subdomain(name):
        raise InvalidInput(f"workflow name {name[:80]!r} is not a valid Workflow name (an RFC 1123 subdomain)")
    return name


def instance_name(workflow: str) -> str:
    """``tb-<workflow>``, a DNS-1035 label; long or dotted names get a hash suffix so they stay distinct."""
    base = f"tb-{workflow}"
    if len(base) <= MAX_NAME and "." not in workflow:
        return base
    digest = hashlib.sha256(workflow.encode()).hexdigest()[:8]
    return f"{base.replace('.', '-')[:MAX_NAME - 9].rstrip('-')}-{digest}"


def proxy_path(namespace: str, workflow: str) -> str:
    """Where users open the instance: this function's proxy, and TensorBoard's ``--path_prefix`` (plus ``/``)."""
    return f"/tensorboards/{namespace}/{workflow}/ui/"


def upstream_url(namespace: str, workflow: str, settings: Settings) -> str:
    """The in-cluster address the proxy forwards to (names are DNS labels checked before they get here)."""
    return settings.upstream_template.format(name=instance_name(workflow), namespace=namespace).rstrip("/")


def workflow_label(workflow: str) -> str:
    """The workflow's name as a label value (63 characters at most: long names are shortened with a hash)."""
    if len(workflow) <= 63:
        return workflow
    return f"{workflow[:54].rstrip('-.')}-{hashlib.sha256(workflow.encode()).hexdigest()[:8]}"


# --- the plan: which logs, from where -----------------------------------------------------------------


@dataclass(frozen=True)
class Fetching:
    """An instance's fetch plan, the environment its init container needs for credentials, and what was left out."""

    plan: Plan
    env: tuple[Obj, ...]
    skipped: tuple[str, ...] = ()


def plan_for(workflow: Mapping[str, Any], settings: Settings, locator: artifacts.Locator | None = None) -> Fetching:
    """Find the workflow's tensorboard artifacts and how to fetch each; 422 when there is nothing to show.

    An artifact that cannot be fetched (unsupported storage, an unsafe destination, credentials that are
    not its repository's, a malformed node) is skipped with the reason; only when none is left is it a 422.
    ``locator`` resolves the locations (default: one reading the workflow's repository from the API).
    """
    meta = workflow.get("metadata") or {}
    found = artifacts.scan(workflow, settings.artifact)
    skipped = list(found.skipped)
    if not found.found:
        found_names = artifacts.artifact_names(workflow)
        phase = (workflow.get("status") or {}).get("phase")
        phase = phase if isinstance(phase, str) and phase else "not started"
        raise Unprocessable(f"workflow {meta.get('namespace')}/{meta.get('name')} ({phase[:40]}) has no output "
                            f"artifacts named {settings.artifact!r}; found: "
                            f"{', '.join(found_names) if found_names else 'none'}{_reasons(skipped)}",
                            details={"found": found_names, **({"skipped": _capped(skipped)} if skipped else {})})
    locator = locator or artifacts.Locator(workflow, settings.argo_namespace, settings.controller_configmap,
                                           settings.repository_configmaps)
    return _plan([(locator, artifact) for artifact in found.found], settings, skipped,
                 f"workflow {meta.get('namespace')}/{meta.get('name')}")


def sweep_plan(sweep: Obj, settings: Settings) -> Fetching:
    """Every trial's tensorboard artifacts and the sweep's HParams; 422 when no trial has logs yet."""
    meta = sweep["metadata"]
    workflows = sweeps.trial_workflows(sweep)
    found = sweeps.runs(sweep, workflows, settings.artifact)
    if not found.found:
        raise Unprocessable(f"sweep {meta['namespace']}/{meta['name']} has no trial with output artifacts named "
                            f"{settings.artifact!r} yet ({len(workflows)} trial workflows)")
    locators: dict[str, artifacts.Locator] = {}  # each Workflow's repository is read once
    located = [(locators.setdefault(workflow["metadata"]["name"], artifacts.Locator(
        workflow, settings.argo_namespace, settings.controller_configmap, settings.repository_configmaps)),
        artifact)
        for workflow, artifact in found.found]
    return _plan(located, settings, list(found.skipped), f"sweep {meta['namespace']}/{meta['name']}",
                 found.hparams if found.hparams.sessions else None)


def _plan(found: Iterable[tuple[artifacts.Locator, artifacts.NodeArtifact]], settings: Settings, skipped: list[str],
          what: str, hparams: HParams | None = None) -> Fetching:
    """How to fetch each artifact (located by its Workflow's locator); the unfetchable ones are skipped."""
    deny = api_server_addresses()
    destinations = Destinations.of(deny, {}, settings.fetch_allow)
    sources: list[StoredRun] = []
    variables: dict[tuple[tuple[str, Any], ...], str] = {}  # one variable per distinct secret key, shared by runs
    count = 0
    for locator, artifact in found:
        count += 1
        try:
            location = locator.locate(artifact)
            _check_fetchable(artifact, location, destinations)
        except Unprocessable as exc:
            skipped.append(exc.message)
            continue
        refs = {}
        for path, ref in location.secrets.items():
            refs[path] = variables.setdefault(tuple(sorted(ref.items())), f"ARGOML_SECRET_{len(variables)}")
        sources.append(StoredRun(artifact.run, location.kind, location.archive, location.config, refs))
    if not sources:
        raise Unprocessable(f"none of the {count} {settings.artifact!r} artifacts of {what} can be shown"
                            f"{_reasons(skipped)}", details={"skipped": _capped(skipped)})
    if hparams is not None:  # only the runs that are fetched have sessions
        hparams = HParams(hparams.metrics, {source.run: hparams.sessions[source.run] for source in sources
                                            if source.run in hparams.sessions})
    env = tuple({"name": var, "valueFrom": {"secretKeyRef": dict(ref)}} for ref, var in variables.items())
    plan = Plan(LOGDIR, tuple(sources), settings.logs_max_bytes, deny=deny, allow=settings.fetch_allow, hparams=hparams)
    return Fetching(plan, env, tuple(_capped(skipped)))


def _capped(reasons: list[str]) -> list[str]:
    """The distinct reasons, at most :data:`MAX_SKIPPED` of them (one broken repository fails every run alike)."""
    reasons = list(dict.fromkeys(reasons))
    if len(reasons) <= MAX_SKIPPED:
        return reasons
    return [*reasons[:MAX_SKIPPED], f"... and {len(reasons) - MAX_SKIPPED} more"]


def _reasons(skipped: list[str]) -> str:
    return f" (skipped: {'; '.join(_capped(skipped))})" if skipped else ""


def api_server_addresses() -> tuple[str, ...]:
    """The API server's service address (in a cluster), for the fetcher's deny list.

    The fetcher adds its own ``KUBERNETES_SERVICE_HOST`` too; naming it in the plan also lets the
    function refuse such a location before an instance is made.
    """
    host = os.environ.get(kube.IN_CLUSTER_ENV, "").strip()
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        return ()


def _check_fetchable(artifact: artifacts.NodeArtifact, location: artifacts.Location,
                     destinations: Destinations) -> None:
    what = f"the {str(artifact.artifact.get('name'))[:80]!r} artifact of step {artifact.run!r}"
    if location.kind not in FETCHABLE:
        raise Unprocessable(f"{what} is stored in {location.kind} ({location.describe()[:200]}), which the log "
                            f"fetcher cannot download; it handles {', '.join(FETCHABLE)}")
    config = location.config
    if location.kind == "oss" and config.get("useSDKCreds") and "accessKeySecret" not in location.secrets:
        raise Unprocessable(f"{what} is in OSS with useSDKCreds (the pod's RAM role); the log fetcher reads OSS "
                            "through its S3-compatible API and needs the repository's accessKeySecret and "
                            "secretKeySecret")
    auth = config.get("auth") or {}
    if not isinstance(auth, Mapping) or (unsupported := sorted(map(str, set(auth) - {"basicAuth"}))):
        raise Unprocessable(f"{what} needs http {', '.join(unsupported)} authentication, which the log "
                            "fetcher does not support")
    address = config.get("url") if location.kind == "http" else config.get("endpoint") or "s3.amazonaws.com"
    if not isinstance(address, str):
        raise Unprocessable(f"{what} has no usable address")
    if problem := _destination_problem(location.kind, address, destinations):
        raise Unprocessable(f"{what}: {problem}")


@functools.lru_cache(maxsize=256)
def _destination_problem(kind: str, address: str, destinations: Destinations) -> str | None:
    """Why the fetcher would refuse to download from ``address``, if it would (a sweep's runs share a few)."""
    try:
        host = urllib.parse.urlsplit(address if "://" in address else f"//{address}").hostname or ""
        if kind == "http" and urllib.parse.urlsplit(address).scheme not in ("http", "https"):
            raise FetchError(f"{address[:200]!r} is not an http(s) URL")
        destinations.check_host(host)
    except (FetchError, ValueError) as exc:
        return str(exc)
    return None


# --- the resources ------------------------------------------------------------------------------------


def pod_spec(plan: Fetching, settings: Settings, *, knative: bool, prefix: str) -> Obj:
    """The instance's pod: the fetcher as init container, then TensorBoard serving under ``prefix``."""
    fetch_env = [{"name": CONFIG_ENV, "value": plan.plan.to_json()},
                 {"name": TERMINATION_LOG_ENV, "value": TERMINATION_LOG},
                 {"name": "PYTHONPATH", "value": "/app/vendor"}, *plan.env]
    logs_mount = {"name": "logs", "mountPath": LOGDIR}
    tensorboard: Obj = {
        "name": "tensorboard", "image": settings.image, "command": ["tensorboard"],
        "args": [f"--logdir={LOGDIR}", "--host=0.0.0.0", f"--port={PORT}", f"--path_prefix={prefix.rstrip('/')}",
                 *settings.flags],
        "ports": [{"name": "http1" if knative else "http", "containerPort": PORT}],
        "volumeMounts": [{**logs_mount, "readOnly": True}],
        "readinessProbe": {"httpGet": {"path": prefix, "port": PORT}},
        "resources": dict(settings.resources), "securityContext": _CONTAINER_SECURITY,
    }
    spec: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "initContainers": [{
            "name": startup.FETCH_CONTAINER, "image": settings.fetch_image,
            "command": ["python", "-m", "argoml.tensorboard.fetch"],
            # Why it failed, for the instance's state (argoml.tensorboard.startup); a crash leaves its log's tail.
            "terminationMessagePath": TERMINATION_LOG, "terminationMessagePolicy": "FallbackToLogsOnError",
            "env": fetch_env, "volumeMounts": [logs_mount], "securityContext": _CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        }],
        "containers": [tensorboard],
        # The kubelet evicts the pod if the logs outgrow this; the fetcher refuses to get that far.
        "volumes": [{"name": "logs", "emptyDir": {"sizeLimit": settings.logs_size_limit}}],
    }
    return spec


def resources_for(workflow: Mapping[str, Any], plan: Fetching, settings: Settings,
                  now: str) -> list[tuple[Resource, Obj]]:
    """The objects of one instance, as ``(resource, body)``: a Knative Service, or a Deployment and a Service."""
    meta = workflow["metadata"]
    name, namespace, workflow_name = instance_name(meta["name"]), meta["namespace"], meta["name"]
    labels = {MANAGED_BY_LABEL: MANAGED_BY, WORKFLOW_LABEL: workflow_label(workflow_name), INSTANCE_LABEL: name,
              NAME_LABEL: "tensorboard"}
    knative = settings.mode == "knative"
    spec = pod_spec(plan, settings, knative=knative, prefix=proxy_path(namespace, workflow_name))
    annotations = {LAST_ACCESSED_ANNOTATION: now, RUNS_ANNOTATION: json.dumps([s.run for s in plan.plan.sources]),
                   SPEC_ANNOTATION: _digest(spec)}
    owner = kube.owner_reference(sweeps.SWEEPS if workflow.get("kind") == sweeps.SWEEPS.kind else argo.WORKFLOWS,
                                 workflow_name, meta["uid"])
    metadata = {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations,
                "ownerReferences": [owner]}
    if knative:
        # cluster-local: no route on the public ingress; the function's proxy is the only way in.
        service_metadata = {**metadata, "labels": {**labels, VISIBILITY_LABEL: "cluster-local"}}
        ksvc = {"apiVersion": KNATIVE_SERVICES.api_version, "kind": KNATIVE_SERVICES.kind, "metadata": service_metadata,
                "spec": {"template": {
                    "metadata": {"labels": labels, "annotations": {
                        "autoscaling.knative.dev/min-scale": "0",
                        "autoscaling.knative.dev/max-scale": "1"}},
                    "spec": spec}}}
        return [(KNATIVE_SERVICES, ksvc)]
    selector = {MANAGED_BY_LABEL: MANAGED_BY, INSTANCE_LABEL: name}
    deployment = {"apiVersion": DEPLOYMENTS.api_version, "kind": DEPLOYMENTS.kind, "metadata": metadata, "spec": {
        "replicas": 1, "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": labels}, "spec": spec}}}
    service = {"apiVersion": SERVICES.api_version, "kind": SERVICES.kind,
               "metadata": {k: v for k, v in metadata.items() if k != "annotations"},
               "spec": {"type": "ClusterIP", "selector": selector,
                        "ports": [{"name": "http", "port": PORT, "targetPort": PORT, "protocol": "TCP"}]}}
    return [(DEPLOYMENTS, deployment), (SERVICES, service)]


def _digest(spec: Obj) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


# --- the API ------------------------------------------------------------------------------------------


# The page holds the user's Kubernetes token: the browser is told to load and send nothing anywhere but
# this function, to run no script but the page's own, and to refuse to show it inside another site's frame.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@functools.cache
def page() -> str:
    """The browser page (``GET /``): plain HTML and script, no build step, no external assets."""
    return (Path(__file__).parent / "page.html").read_text()


def ensure(namespace: str, workflow_name: str, settings: Settings) -> Instance:
    """Create the workflow's instance, or return the existing one (updated if the workflow has new logs).

    A HyperparamWorkflow's name, or the name of a Workflow it generated, gives the sweep's instance:
    every trial's logs, with their HParams (:mod:`argoml.tensorboard.sweeps`).
    """
    check_namespace(namespace)
    check_workflow_name(workflow_name)
    workflow = kube.get_or_none(argo.WORKFLOWS, namespace, workflow_name)
    sweep = sweeps.sweep_of(namespace, workflow_name, workflow)
    if sweep is not None:
        owner, plan = sweep, sweep_plan(sweep, settings)
    elif workflow is not None:
        owner, plan = workflow, plan_for(workflow, settings)
    else:
        raise NotFound(f"workflow {namespace}/{workflow_name} not found (nor a HyperparamWorkflow of that name)")
    now = now_rfc3339()
    owner_name = owner["metadata"]["name"]
    for resource, body in resources_for(owner, plan, settings, now):
        _create_or_update(resource, namespace, owner_name, body, now)
    return dataclasses.replace(_state(namespace, owner_name, settings, touch=False), skipped=plan.skipped)


def get(namespace: str, workflow_name: str, settings: Settings) -> Instance:
    """The instance's state (and the time it was last looked at is now)."""
    check_namespace(namespace)
    check_workflow_name(workflow_name)
    return _state(namespace, workflow_name, settings, touch=True)


def delete(namespace: str, workflow_name: str, settings: Settings) -> Obj:
    check_namespace(namespace)
    check_workflow_name(workflow_name)
    name = instance_name(workflow_name)
    deleted = [resource for resource in _parts(settings)
               if (obj := kube.get_or_none(resource, namespace, name)) is not None
               and _is_instance_of(obj, workflow_name) and _delete(resource, namespace, name, obj["metadata"]["uid"])]
    if not deleted:
        raise NotFound(f"workflow {namespace}/{workflow_name} has no TensorBoard instance")
    return {"deleted": name, "namespace": namespace, "workflow": workflow_name}


def listing(namespace: str, settings: Settings) -> Obj:
    """The namespace's workflows that have tensorboard artifacts, each with its instance if one runs.

    A workflow whose status cannot be read (a malformed shape) is listed under ``skipped`` with why;
    it never fails the listing of the others.
    """
    check_namespace(namespace)
    instances = {i.workflow: i for i in _instances(namespace, settings)}
    listed, skipped = [], []
    swept: dict[str, list[tuple[str, int]]] = {}  # sweep -> (phase, runs) of each of its Workflows
    for workflow in _workflows(namespace):
        name = workflow["metadata"]["name"]
        found = artifacts.scan(workflow, settings.artifact)
        if found.skipped:
            skipped.append({"name": name, "reasons": _capped(found.skipped)})
        runs = [a.run for a in found.found]
        phase = workflow["status"].get("phase")
        phase = phase[:40] if isinstance(phase, str) and phase else argo.WorkflowPhase.PENDING
        sweep = _sweep_label(workflow)
        if sweep is not None:
            swept.setdefault(sweep, []).append((phase, len(runs)))
        elif runs or name in instances:
            instance = instances.get(name)
            listed.append({"name": name, "phase": phase, "runs": runs,
                           "instance": instance.to_json() if instance else None})
    sweep_list = [{"name": name, "phase": _sweep_phase([phase for phase, _ in parts]), "trialWorkflows": len(parts),
                   "runs": sum(count for _, count in parts),
                   "instance": instances[name].to_json() if name in instances else None}
                  for name, parts in sorted(swept.items()) if any(count for _, count in parts) or name in instances]
    return {"namespace": namespace, "mode": settings.mode, "workflows": sorted(listed, key=lambda w: w["name"]),
            "sweeps": sweep_list, "instances": [i.to_json() for i in instances.values()],
            **({"skipped": skipped[:MAX_SKIPPED]} if skipped else {})}


def _sweep_label(workflow: Obj) -> str | None:
    """The sweep a Workflow belongs to: labelled so and controlled by a HyperparamWorkflow."""
    label = (workflow["metadata"].get("labels") or {}).get(sweeps.SWEEP_LABEL)
    reference = kube.controller_reference(workflow, sweeps.SWEEPS)
    return label if isinstance(label, str) and reference is not None and reference.get("name") == label else None


def _sweep_phase(phases: list[str]) -> str:
    if any(phase not in argo.FINISHED_PHASES for phase in phases):
        return argo.WorkflowPhase.RUNNING
    if all(phase == argo.WorkflowPhase.SUCCEEDED for phase in phases):
        return argo.WorkflowPhase.SUCCEEDED
    return argo.WorkflowPhase.FAILED


def _workflows(namespace: str) -> Iterator[Obj]:
    """The namespace's workflows, reduced to what listing reads (name, sweep, status), a page at a time.

    Pages are bounded in bytes (:data:`LIST_PAGE_BYTES`) as well as in count, so a namespace of
    megabyte-sized sweeps never sits in memory at once, and each Workflow is dropped from its
    page as soon as it is read.
    """
    for page in kube.list_pages(argo.WORKFLOWS, namespace, limit=LIST_PAGE, max_bytes=LIST_PAGE_BYTES):
        while page:
            item = page.pop(0)
            status = item.get("status")
            metadata = item["metadata"]
            yield {"metadata": {"name": metadata["name"], "namespace": namespace,
                                # which sweep it belongs to (see _sweep_label)
                                "labels": {k: v for k, v in (metadata.get("labels") or {}).items()
                                           if k == sweeps.SWEEP_LABEL},
                                "ownerReferences": kube.owner_references(item, sweeps.SWEEPS)},
                   "status": status if isinstance(status, dict) else {}}
            del item, metadata, status


def read_workflow(namespace: str, name: str) -> Obj:
    workflow = kube.get_or_none(argo.WORKFLOWS, namespace, name)
    if workflow is None:
        raise NotFound(f"workflow {namespace}/{name} not found")
    return workflow


# --- talking to the API server ------------------------------------------------------------------------


def _owners(obj: Obj) -> list[str]:
    """The names of the Workflows and HyperparamWorkflows (a sweep's instance) that own ``obj``."""
    return [str(ref.get("name")) for ref in [*argo.workflow_owners(obj), *kube.owner_references(obj, sweeps.SWEEPS)]
            if ref.get("name")]


def _parts(settings: Settings) -> tuple[Resource, ...]:
    """The kinds of object an instance consists of, the one carrying its state first."""
    return (KNATIVE_SERVICES,) if settings.mode == "knative" else (DEPLOYMENTS, SERVICES)


def _is_instance_of(obj: Obj, workflow_name: str) -> bool:
    """Whether ``obj`` is part of the TensorBoard instance of ``workflow_name``, by its labels.

    Instance names are predictable (``tb-<workflow>``), so an object of that name may be
    someone else's; the function never changes or deletes what it did not make for this workflow.
    Long names are shortened with a 32-bit hash in the name and the label, so the owning
    Workflow's full name (in the ownerReferences) must match too.
    """
    labels = obj["metadata"].get("labels") or {}
    owners = set(_owners(obj))
    return (labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(WORKFLOW_LABEL) == workflow_label(workflow_name)
            and workflow_name in owners)


def _create_or_update(resource: Resource, namespace: str, workflow_name: str, body: Obj, now: str) -> None:
    name = body["metadata"]["name"]
    try:
        kube.create(resource, namespace, body)
        return
    except kube.Conflict:  # the name is taken (AlreadyExists, or an object of that name being deleted)
        pass
    current = kube.get_or_none(resource, namespace, name)
    if current is None:  # deleted between the create and the read (a DELETE at the same time): create it again
        kube.create(resource, namespace, body)
        return
    if not _is_instance_of(current, workflow_name):
        raise Conflict(f"{resource.ref(namespace, name)} already exists and is not the TensorBoard instance of "
                       f"workflow {workflow_name}; it is left alone")
    # Left by an earlier workflow of the same name (deleted, then submitted again): the garbage
    # collector would delete it any moment unless this workflow owns it too.
    owners = body["metadata"]["ownerReferences"]
    adopt = {"ownerReferences": owners} if owners[0]["uid"] not in {
        ref.get("uid") for ref in current["metadata"].get("ownerReferences") or []} else {}
    if resource is SERVICES:  # nothing in a ClusterIP Service changes with the logs
        if adopt:
            kube.patch(resource, namespace, name, {"metadata": adopt})
        return
    wanted = body["metadata"]["annotations"]
    patch: Obj = {"metadata": {"annotations": {LAST_ACCESSED_ANNOTATION: now}, **adopt}}
    if (current["metadata"].get("annotations") or {}).get(SPEC_ANNOTATION) != wanted[SPEC_ANNOTATION]:
        # The workflow has produced more logs since (it was still running): show them too. A Knative
        # Service takes a merge patch (lists replaced whole); a Deployment is replaced whole, so that
        # nothing of its old pod spec (env entries of credentials no longer used) survives.
        metadata = {**current["metadata"], "annotations": {**(current["metadata"].get("annotations") or {}),
                                                             **wanted}, "ownerReferences": owners}
        if resource is DEPLOYMENTS:
            kube.replace(resource, namespace, name, {**body, "metadata": metadata})
            return
        patch = {"metadata": {"annotations": wanted, **adopt}, "spec": body["spec"]}
    kube.patch(resource, namespace, name, patch)


def _delete(resource: Resource, namespace: str, name: str, uid: str) -> bool:
    """Delete the object, only if it is still the one with ``uid`` (the one checked to be ours)."""
    try:
        kube.delete(resource, namespace, name, uid=uid)
        return True
    except kube.NotFound:
        return False


def _state(namespace: str, workflow_name: str, settings: Settings, *, touch: bool) -> Instance:
    resource, name = _parts(settings)[0], instance_name(workflow_name)
    obj = kube.get_or_none(resource, namespace, name)
    if obj is None or not _is_instance_of(obj, workflow_name):
        raise NotFound(f"no TensorBoard instance {namespace}/{name}; PUT /tensorboards/{namespace}/<workflow> "
                       "starts one")
    if touch:
        now = now_rfc3339()
        kube.patch(resource, namespace, name, {"metadata": {"annotations": {LAST_ACCESSED_ANNOTATION: now}}})
        obj["metadata"].setdefault("annotations", {})[LAST_ACCESSED_ANNOTATION] = now
    return _with_fetch_failures([_instance_of(obj, settings.mode)], namespace, f"{MANAGED},{INSTANCE_LABEL}={name}")[0]


def _instances(namespace: str, settings: Settings) -> list[Instance]:
    instances = [_instance_of(obj, settings.mode)
                 for page in kube.list_pages(_parts(settings)[0], namespace, label_selector=MANAGED) for obj in page]
    return _with_fetch_failures(instances, namespace, MANAGED)


def _instance_of(obj: Obj, mode: str) -> Instance:
    """What the API reports about an instance object, whatever shape its status has (it is user-writable)."""
    meta = obj["metadata"]
    status: Obj = obj["status"] if isinstance(obj.get("status"), dict) else {}
    annotations = meta.get("annotations") or {}
    owner = next(iter(_owners(obj)), (meta.get("labels") or {}).get(WORKFLOW_LABEL, ""))
    sweep = bool(kube.owner_references(obj, sweeps.SWEEPS))
    observed, generation = status.get("observedGeneration"), meta.get("generation") or 0
    current = isinstance(observed, int) and observed >= generation
    if mode == "knative":
        conditions = status["conditions"] if isinstance(status.get("conditions"), list) else []
        ready_condition: Obj = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), {})
        ready = current and ready_condition.get("status") == "True"
        text = ready_condition.get("message")
        message = (text[:500] if isinstance(text, str) else "") or ("" if ready else "starting")
    else:
        available = status.get("availableReplicas")
        ready = current and isinstance(available, int) and available >= 1
        message = "" if ready else "starting"
    try:
        runs: Any = json.loads(annotations.get(RUNS_ANNOTATION, "[]"))
    except (ValueError, RecursionError):
        runs = []
    names_ = tuple(run for run in runs if isinstance(run, str)) if isinstance(runs, list) else ()
    return Instance(meta["name"], meta["namespace"], owner, mode, bool(ready), proxy_path(meta["namespace"], owner),
                    names_, message, meta.get("creationTimestamp") or "", annotations.get(LAST_ACCESSED_ANNOTATION, ""),
                    sweep=sweep)


def _with_fetch_failures(instances: list[Instance], namespace: str, label_selector: str) -> list[Instance]:
    """Instances not ready whose log fetcher failed say why (one list of pods, only when one is not ready)."""
    if all(instance.ready for instance in instances):
        return instances
    failures = startup.fetch_failures(namespace, label_selector, INSTANCE_LABEL)
    return [dataclasses.replace(instance, message=f"fetching the logs failed: {failures[instance.name]}")
            if not instance.ready and instance.name in failures else instance for instance in instances]
