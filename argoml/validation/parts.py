"""Checks of one part of a template or spec that need nothing but that part.

Each is a generator of ``(path, message)`` problems; :mod:`.workflow` decides where they
are reported (and, for volume mounts, with which severity). Messages are Argo's where
Argo has one.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from argoml import argo
from argoml.validation import dag, names
from argoml.validation.cron import is_duration
from argoml.validation.substitution import at_run_time, is_placeholder
from argoml.validation.variables import is_parameter, tags

Problems = Iterator[tuple[str, str]]
TYPES = {
    "container": "Container",
    "containerSet": "ContainerSet",
    "steps": "Steps",
    "script": "Script",
    "resource": "Resource",
    "dag": "DAG",
    "suspend": "Suspend",
    "data": "Data",
    "http": "HTTP",
    "plugin": "Plugin",
}
RESOURCE_ACTIONS = ("get", "create", "apply", "delete", "replace", "patch")
# The containers Argo adds to a pod: a sidecar or a containerSet container may not take their names.
RESERVED_CONTAINERS = ("wait", "supervisor")
RESERVED_CONTAINER_PREFIX = "artifact-plugin-"
POD_LEVEL_RESOURCES = ("cpu", "memory")
_WORKFLOW_PARAMETER = re.compile(r"\{\{\s*workflow\.parameters\.([^{}\s]+)\s*\}\}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def named(items: Any) -> Iterator[tuple[int, dict[str, Any], str]]:
    """``(index, item, name)`` for each mapping in a list (anything else is skipped)."""
    for index, item in enumerate(as_list(items)):
        if isinstance(item, dict):
            yield index, item, str(item.get("name") or "")


def has_location(artifact: dict[str, Any]) -> bool:
    return argo.storage_kind(artifact) is not None or bool(artifact.get("key"))


def container_set(template: dict[str, Any], name: str, path: str) -> Problems:
    """Argo's ``ContainerSetTemplate.Validate``, plus a container named ``main`` for inputs and outputs."""
    body = as_dict(template.get("containerSet"))
    containers = list(named(body.get("containers")))
    where = f"{path}.containerSet"
    prefix = f"templates.{name}.containerSet."
    if not containers:
        yield f"{where}.containers", f"{prefix}containers must have at least one container"
    for index, message in names.list_name_problems(body.get("containers")):
        yield f"{where}.containers[{index}].name", f"{prefix}containers{message}"
    mounts: dict[str, str] = {}
    for index, mount in enumerate(as_list(body.get("volumeMounts"))):
        mount_path = str(as_dict(mount).get("mountPath") or "")
        if mount_path in mounts:
            yield (f"{where}.volumeMounts[{index}].mountPath",
                   f"{prefix}volumeMounts[{index}].mountPath '{mount_path}' already mounted in {mounts[mount_path]}")
        mounts[mount_path] = f"volumeMounts.{as_dict(mount).get('name')}"
    defined = {n for _, _, n in containers}
    for index, container, container_name in containers:
        for dependency in as_list(container.get("dependencies")):
            if str(dependency) not in defined:
                yield (f"{where}.containers[{index}].dependencies",
                       f"{prefix}containers.{container_name} dependency '{dependency}' not defined")
    graph = {n: [str(d) for d in as_list(c.get("dependencies"))] for _, c, n in containers}
    cycle = dag.first_cycle(graph)
    if cycle:
        yield f"{where}.containers", f"{prefix}containers dependency cycle detected: {'->'.join(cycle)}"
    inputs, outputs = as_dict(template.get("inputs")), as_dict(template.get("outputs"))
    if (as_list(inputs.get("artifacts")) or as_list(outputs.get("parameters")) or as_list(outputs.get("artifacts"))) \
            and "main" not in defined:
        yield (f"{where}.containers",
               f'templates.{name}.containerSet.containers must have a container named "main" for input or output')


def artifact_path_error(artifact: dict[str, Any], name: str) -> str | None:
    """Argo's ``Artifact.CleanPath``: a path, and no ``..`` leaving the directory before it."""
    path = artifact.get("path")
    if not isinstance(path, str) or not path:
        return f"Artifact '{name}' did not specify a path"
    safe = ""
    if "/../" in path:
        safe = path[:path.index("/../")]
    elif path.endswith("/.."):
        safe = path[:-3]
    cleaned = posixpath.normpath(path)
    if safe and (not cleaned.startswith(safe + "/") or len(cleaned) <= len(safe) + 1):
        return f"Artifact '{name}' attempted to use a path containing '..'. Directory traversal is not permitted"
    return None


def artifact_location(location: Any, where: str, prefix: str) -> Problems:
    """Argo's ``validateArtifactLocation``: a git repository, and a complete HDFS location."""
    location = as_dict(location)
    if location.get("git") is not None and not as_dict(location["git"]).get("repo"):
        yield f"{where}.git.repo", f"{prefix}.git.repo is required"
    if location.get("hdfs") is not None:
        hdfs, at = as_dict(location["hdfs"]), f"{prefix}.hdfs"
        keytab, ccache = hdfs.get("krbKeytabSecret") is not None, hdfs.get("krbCCacheSecret") is not None
        if not as_list(hdfs.get("addresses")):
            yield f"{where}.hdfs.addresses", f"{at}.addresses is required"
        elif not hdfs.get("path"):
            yield f"{where}.hdfs.path", f"{at}.path is required"
        elif not str(hdfs["path"]).startswith("/") and not at_run_time(hdfs["path"]):
            yield f"{where}.hdfs.path", f"{at}.path must be a absolute file path"
        elif not hdfs.get("hdfsUser") and not keytab and not ccache:
            yield (f"{where}.hdfs", f"either {at}.hdfsUser, {at}.krbCCacheSecret or {at}.krbKeytabSecret is required")
        elif keytab and not all(hdfs.get(k) for k in ("krbServicePrincipalName", "krbConfigConfigMap", "krbUsername",
                                                      "krbRealm")):
            yield (f"{where}.hdfs", f"{at}.krbServicePrincipalName, {at}.krbConfigConfigMap, {at}.krbUsername and "
                                    f"{at}.krbRealm are required with {at}.krbKeytabSecret")
        elif ccache and not all(hdfs.get(k) for k in ("krbServicePrincipalName", "krbConfigConfigMap")):
            yield (f"{where}.hdfs", f"{at}.krbServicePrincipalName and {at}.krbConfigConfigMap are required with "
                                    f"{at}.krbCCacheSecret")


def reserved_container_names(template: dict[str, Any], name: str, path: str) -> Problems:
    """Sidecars and containerSet containers may not take the names of the containers Argo adds."""
    groups = [("sidecars", template.get("sidecars")),
              ("containerSet.containers", as_dict(template.get("containerSet")).get("containers"))]
    for group, containers in groups:
        for index, _, container_name in named(containers):
            if container_name in RESERVED_CONTAINERS or container_name.startswith(RESERVED_CONTAINER_PREFIX):
                yield (f"{path}.{group}[{index}].name",
                       f"templates.{name}.{group}[{index}].name '{container_name}' is reserved for Argo's own "
                       f"containers ({', '.join(RESERVED_CONTAINERS)} and {RESERVED_CONTAINER_PREFIX}*)")


def pod_resources(resources: Any, path: str, prefix: str) -> Problems:
    """Pod-level resources (Kubernetes' PodLevelResources): cpu, memory and hugepages-* only, no claims."""
    if not isinstance(resources, dict):
        return
    for field_name in ("limits", "requests"):
        for key in as_dict(resources.get(field_name)):
            if str(key) not in POD_LEVEL_RESOURCES and not str(key).startswith("hugepages-"):
                yield (f"{path}.{field_name}.{key}",
                       f"{prefix}podResources.{field_name}: resource '{key}' is not supported at pod level: only cpu, "
                       "memory and hugepages-* are")
    if as_list(resources.get("claims")):
        yield f"{path}.claims", f"{prefix}podResources.claims: resource claims are not supported at pod level"


def executor_plugins(plugins: Any, path: str) -> Problems:
    for index, plugin in enumerate(as_list(plugins)):
        if isinstance(plugin, dict) and not as_dict(plugin.get("metadata")).get("name"):
            yield f"{path}[{index}].metadata.name", f"executorPlugins[{index}].metadata.name is required"


def resource(template: dict[str, Any], name: str, path: str) -> Problems:
    resource = as_dict(template.get("resource"))
    action = str(resource.get("action") or "")
    where = f"{path}.resource"
    if not at_run_time(action) and action not in RESOURCE_ACTIONS:
        yield (f"{where}.action", f"templates.{name}.resource.action must be one of: {', '.join(RESOURCE_ACTIONS)}")
    if action in ("delete", "get"):
        return
    manifest, manifest_from = resource.get("manifest"), resource.get("manifestFrom")
    if not manifest and manifest_from is None:
        yield (
            where,
            f"either templates.{name}.resource.manifest or templates.{name}.resource.manifestFrom must be specified",
        )
    if manifest and manifest_from is not None:
        yield (where, "shouldn't have both `manifest` and `manifestFrom` specified in `Manifest` for resource template")
    artifact = as_dict(as_dict(manifest_from).get("artifact")).get("name")
    if artifact is not None and artifact not in {
        n for _, _, n in named(as_dict(template.get("inputs")).get("artifacts"))
    }:
        yield (
            f"{where}.manifestFrom.artifact.name",
            f"artifact {artifact} in `manifestFrom` refer to a non-exist artifact",
        )
    if isinstance(manifest, str) and manifest:
        import yaml  # only resource templates need it; the webhook's cold start does not pay for it

        try:
            yaml.safe_load(placeholders(manifest))
        except yaml.YAMLError:
            yield (f"{where}.manifest", f"templates.{name}.resource.manifest must be a valid yaml")


def volume_mounts(spec: dict[str, Any], template: dict[str, Any], name: str, path: str) -> Problems:
    """A volumeMount names a volume of the template or the workflow (not an Argo rule: the pod would fail)."""
    if template.get("podSpecPatch") or spec.get("podSpecPatch"):
        return  # a patch may add volumes
    volumes = {n for _, _, n in named(spec.get("volumes"))} | {n for _, _, n in named(template.get("volumes"))}
    volumes |= {n for _, _, n in named(as_dict(spec.get("templateDefaults")).get("volumes"))}
    volumes |= {str(as_dict(as_dict(c).get("metadata")).get("name")) for c in as_list(spec.get("volumeClaimTemplates"))}
    containers: list[tuple[str, Any]] = [(key, template.get(key)) for key in ("container", "script", "containerSet")]
    containers += [
        (f"containerSet.containers[{i}]", c)
        for i, c in enumerate(as_list(as_dict(template.get("containerSet")).get("containers")))
    ]
    for group in ("initContainers", "sidecars"):
        containers += [(f"{group}[{i}]", c) for i, c in enumerate(as_list(template.get(group)))]
    for where, container in containers:
        for index, mount in enumerate(as_list(as_dict(container).get("volumeMounts"))):
            volume = str(as_dict(mount).get("name") or "")
            if volume and volume not in volumes and not at_run_time(volume):
                yield (
                    f"{path}.{where}.volumeMounts[{index}].name",
                    f"templates.{name}.{where}.volumeMounts[{index}].name '{volume}' is not a volume of the "
                    "template or the workflow",
                )


def global_name(item: dict[str, Any], where: str, ref: str) -> Problems:
    global_name = item.get("globalName")
    if global_name and not is_parameter(str(global_name)):
        for problem in names.param_name_errors(str(global_name))[:1]:
            yield (f"{where}.globalName", f"{ref}.globalName: {problem}")


def output_parameter(parameter: dict[str, Any], ref: str, where: str, kind: str | None) -> Problems:
    value_from = parameter.get("valueFrom")
    if value_from is not None and parameter.get("value") is not None:
        yield (where, f"{ref} has both valueFrom and value specified, choose one")
        return
    if parameter.get("value") is not None:
        return
    if value_from is None:
        yield (where, f"{ref} does not have valueFrom or value specified")
        return
    value_from = as_dict(value_from)
    sources = [k for k in ("path", "jqFilter", "jsonPath", "parameter", "expression") if value_from.get(k)]
    sources += ["supplied"] if value_from.get("supplied") is not None else []
    if not sources:
        yield (
            f"{where}.valueFrom",
            "valueFrom type unspecified. choose one of: path, jqFilter, jsonPath, parameter, raw, expression",
        )
    elif len(sources) > 1:
        yield (
            f"{where}.valueFrom",
            "multiple valueFrom types specified. choose one of: path, jqFilter, jsonPath, parameter, raw",
        )
    type_name = TYPES.get(kind or "", "")
    if kind in ("container", "containerSet", "script") and not value_from.get("path"):
        yield (f"{where}.valueFrom.path", f"{ref}.path must be specified for {type_name} templates")
    elif kind == "resource" and not value_from.get("jqFilter") and not value_from.get("jsonPath"):
        yield (f"{where}.valueFrom", f"{ref} .jqFilter or jsonPath must be specified for {type_name} templates")
    elif kind in ("dag", "steps"):
        if not value_from.get("parameter") and not value_from.get("expression"):
            yield (f"{where}.valueFrom", f"{ref}.parameter or expression must be specified for {type_name} templates")
        elif value_from.get("parameter") and value_from.get("expression"):
            yield (
                f"{where}.valueFrom",
                f"{ref} shouldn't have both `from` and `expression` specified in `ValueFrom` for {type_name} templates",
            )


def metrics(template: dict[str, Any], name: str, path: str) -> Problems:
    """Argo's checks of a template's Prometheus metrics (name, labels, help, values)."""
    for index, metric, metric_name in named(as_dict(template.get("metrics")).get("prometheus")):
        where = f"{path}.metrics.prometheus[{index}]"
        if not names.metric_name_ok(metric_name):
            yield (f"{where}.name", f"templates.{name} metric name '{metric_name}' is invalid. Metric names must "
                                    "contain alphanumeric characters or '_'")
        for label_index, label in enumerate(as_list(metric.get("labels"))):
            key = str(as_dict(label).get("key") or "")
            if not names.metric_name_ok(key):
                yield (f"{where}.labels[{label_index}].key",
                       f"metric label '{key}' is invalid: keys may only contain alphanumeric characters or '_'")
        if not metric.get("help"):
            yield (f"{where}.help",
                   f"templates.{name} metric '{metric_name}' must contain a help string under 'help: ' field")
        error = f"templates.{name} metric '{metric_name}' error: "
        for kind in [k for k in ("gauge", "counter", "histogram") if metric.get(k) is not None]:
            body = as_dict(metric[kind])
            if not body.get("value"):
                yield f"{where}.{kind}.value", f"{error}missing {kind}.value"
            elif kind == "gauge" and body.get("realtime") is True and "resourcesDuration." in str(body["value"]):
                yield f"{where}.gauge.value", f"{error}'resourcesDuration.*' metrics cannot be used in real-time"


def metric_kinds(template: dict[str, Any], name: str, path: str) -> Problems:
    """A metric is a gauge, a counter or a histogram (ours: Argo only fails when the metric is emitted)."""
    for index, metric, metric_name in named(as_dict(template.get("metrics")).get("prometheus")):
        if not any(metric.get(k) is not None for k in ("gauge", "counter", "histogram")):
            yield (f"{path}.metrics.prometheus[{index}]",
                   f"templates.{name} metric '{metric_name}' error: one of gauge, counter or histogram is required")


def synchronization(sync: Any, path: str) -> Problems:
    """Each lock names its source: a semaphore a ConfigMap key or a database, a mutex a name."""
    if not isinstance(sync, dict):
        return
    semaphores = [(f"{path}.semaphore", sync["semaphore"])] if sync.get("semaphore") is not None else []
    semaphores += [(f"{path}.semaphores[{i}]", s) for i, s in enumerate(as_list(sync.get("semaphores")))]
    mutexes = [(f"{path}.mutex", sync["mutex"])] if sync.get("mutex") is not None else []
    mutexes += [(f"{path}.mutexes[{i}]", m) for i, m in enumerate(as_list(sync.get("mutexes")))]
    if not semaphores and not mutexes:
        yield (path, "synchronization must have at least one of semaphore, semaphores, mutex, mutexes")
    for where, semaphore in semaphores:
        semaphore = as_dict(semaphore)
        if semaphore.get("configMapKeyRef") is None and semaphore.get("database") is None:
            yield (where, "semaphore must have either configMapKeyRef or database")
        elif semaphore.get("configMapKeyRef") is not None and not as_dict(semaphore["configMapKeyRef"]).get("key"):
            yield (f"{where}.configMapKeyRef.key", "semaphore configMapKeyRef must have a key")
    for where, mutex in mutexes:
        if not as_dict(mutex).get("name"):
            yield (f"{where}.name", "mutex must have a name")


def hooks(hooks: Any, path: str, prefix: str) -> Problems:
    for hook_name, hook in as_dict(hooks).items():
        if hook_name != "exit" and not as_dict(hook).get("expression"):
            yield (f"{path}.{hook_name}.expression", f"{prefix}.{hook_name} Expression required")


def arguments(arguments: dict[str, Any], path: str, prefix: str, allow_empty: bool) -> Problems:
    """Argo's ``validateArguments``: names, and a value (or source) for each argument."""
    for field_name in ("parameters", "artifacts"):
        for index, message in names.list_name_problems(arguments.get(field_name), params=True):
            yield (f"{path}.{field_name}[{index}].name", f"{prefix}{field_name}{message}")
    for index, parameter, name in named(arguments.get("parameters")):
        where = f"{path}.parameters[{index}]"
        value_from = parameter.get("valueFrom")
        if value_from is None and parameter.get("value") is None and not allow_empty:
            yield (where, f"{prefix}{name}.value or {prefix}{name}.valueFrom is required")
        if value_from is not None:
            value_from = as_dict(value_from)
            allowed = any(value_from.get(k) is not None for k in ("configMapKeyRef", "event", "supplied"))
            forbidden = any(value_from.get(k) for k in ("path", "jsonPath", "parameter", "expression"))
            if not allowed or forbidden:
                yield (
                    f"{where}.valueFrom",
                    f"{prefix}{name}.valueFrom only allows: default, configMapKeyRef and supplied",
                )
        enum = parameter.get("enum")
        if enum is not None:
            if not enum:
                yield (f"{where}.enum", f"{prefix}{name}.enum should contain at least one value")
            elif parameter.get("value") is None:
                if allow_empty:
                    return  # Argo's validateArgumentsValues stops here: nothing after it is checked
                yield (f"{where}.value", f"{prefix}{name}.value is required")
            elif str(parameter["value"]) not in {str(e) for e in as_list(enum)}:
                yield (f"{where}.value", f"{prefix}{name}.value should be present in {prefix}{name}.enum list")
    for index, artifact, name in named(arguments.get("artifacts")):
        where = f"{path}.artifacts[{index}]"
        if not artifact.get("from") and not artifact.get("fromExpression") and not has_location(artifact):
            yield (where, f"{prefix}{name}.from, artifact location, or key is required")
        if artifact.get("from") and artifact.get("fromExpression"):
            yield (where, f"{prefix}{name} shouldn't have both `from` and `fromExpression` in Artifact")


def valid_deadline(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    text = str(value)
    return text.isdigit() or is_parameter(text) or text.startswith("{{") or is_placeholder(text)


def workflow_parameter(text: str) -> str | None:
    """``x`` when ``text`` is exactly ``{{workflow.parameters.x}}``."""
    match = _WORKFLOW_PARAMETER.fullmatch(text.strip())
    return match.group(1) if match else None


def item_keys(value: Any) -> frozenset[str] | None:
    """The keys of the items a literal ``withParam`` list yields, when every item is an object of
    plain values (so ``{{item.<key>}}`` is all a loop over it can use); ``None`` when unknown."""
    try:
        items = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        return None
    if any(isinstance(v, dict | list) for item in items for v in item.values()):
        return None
    return frozenset(str(key) for item in items for key in item)


def json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


def seconds(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or str(value).isdigit()


def duration_or_variable(value: Any) -> bool:
    """A Go duration, or a ``{{...}}`` reference resolved at run time."""
    return is_duration(str(value)) or at_run_time(value)


def placeholders(manifest: str) -> str:
    """The manifest with every ``{{...}}`` tag replaced by a plain word, so it parses as YAML."""
    try:
        found = set(tags(manifest))
    except ValueError:
        return manifest
    for index, tag in enumerate(sorted(found, key=len, reverse=True)):
        manifest = manifest.replace("{{" + tag + "}}", f"placeholder-{index}")
    return manifest
