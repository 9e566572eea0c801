"""Argo's semantic rules for a workflow spec: templates, steps, DAGs, variables, arguments.

This follows the order and the rules of Argo's ``workflow/validate`` package: the
entrypoint is validated first (with the workflow's arguments), then ``onExit``, then
every remaining template; each template is validated once, but every call site checks
its own arguments against the called template's inputs. Unlike Argo, which stops at
the first error, every problem is recorded, each at the document path of the field
at fault, with Argo's message. Templates reached through ``templateRef`` or
``workflowTemplateRef`` come from a :class:`~argoml.validation.resolver.Resolver`;
problems inside them are reported at the reference that pulled them in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from argoml.validation import dag, labels, names, parts, versions
from argoml.validation.parts import TYPES, as_dict, as_list, has_location, named
from argoml.validation.report import Report
from argoml.validation.resolver import Resolver
from argoml.validation.substitution import Placeholders, as_text, at_run_time, substitute
from argoml.validation.variables import (
    ANY_ITEM,
    ANY_WORKFLOW_OUTPUT_ARTIFACT,
    ANY_WORKFLOW_OUTPUT_PARAMETER,
    Scope,
    is_parameter,
    loop_items_outside_loop,
)

LEAF_TYPES = frozenset({"container", "containerSet", "script", "resource", "data", "http", "plugin"})
POD_TYPES = frozenset({"container", "containerSet", "script", "resource", "data"})
TYPE_CHOICES = "choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref"
RETRY_POLICIES = frozenset({"Always", "OnError", "OnFailure", "OnTransientError", ""})
POD_GC_STRATEGIES = frozenset({"", "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"})
RETRY_VARIABLES = ("retries", "lastRetry.exitCode", "lastRetry.status", "lastRetry.duration", "lastRetry.message")
MAX_NAME = 63
LOCK_FORMS = (("semaphore", "semaphores"), ("mutex", "mutexes"))


def template_type(template: dict[str, Any]) -> str | None:
    """The template's type key (``container``, ``dag``, ...) when exactly one is set."""
    present = [key for key in TYPES if template.get(key) is not None]
    return present[0] if len(present) == 1 else None


def has_output(template: dict[str, Any]) -> bool:
    containers = as_list(as_dict(template.get("containerSet")).get("containers"))
    return any(template.get(key) is not None for key in ("container", "script", "data", "http", "plugin")) or any(
        as_dict(c).get("name") == "main" for c in containers)



@dataclass
class Base:
    """The resource a template lives in: its spec, and where its problems are reported.

    ``redirect`` is set for resources other than the one being validated: their problems
    are reported at the reference (``templateRef``) that pulled the template in.
    """

    kind: str
    name: str
    spec: dict[str, Any]
    spec_path: str
    redirect: str | None = None
    redirect_prefix: str = ""
    templates: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, template, name in named(self.spec.get("templates")):
            self.templates.setdefault(name, (index, template))

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Resolved:
    base: Base
    template: dict[str, Any]
    path: str
    key: str
    name: str = ""


class SpecValidator:
    """Validates one workflow spec and the templates it reaches; results go into ``report``."""

    def __init__(self, report: Report, resolver: Resolver, namespace: str | None, *, workflow_template: bool,
                 allow_empty_arguments: bool, message_prefix: str = "",
                 argo_version: versions.VersionSource | None = None, strict_items: bool = False) -> None:
        """``strict_items``: a loop over a literal list of objects in the workflow's arguments offers
        only their keys as ``{{item.<key>}}`` (ours, for sweeps; Argo accepts any ``{{item.*}}``)."""
        self.report = report
        self.argo_version = versions.source(argo_version)
        self.strict_items = strict_items
        self.resolver = resolver
        self.namespace = namespace
        self.workflow_template = workflow_template
        self.allow_empty_arguments = allow_empty_arguments
        self.prefix = message_prefix
        self.globals: set[str] = {"workflow.name", "workflow.namespace", "workflow.mainEntrypoint",
                                  "workflow.serviceAccountName", "workflow.uid", "workflow.annotations",
                                  "workflow.annotations.json", "workflow.labels", "workflow.labels.json",
                                  "workflow.status"}
        self.done: set[str] = set()
        self.placeholders = Placeholders()
        self.lenient = False  # while set, errors are reported as warnings (rules that are ours, not Argo's)
        # Values of globals known before run time (workflow parameters with a value, priority).
        self.values: dict[str, str] = {}
        self.bases: dict[str, Base | None] = {}
        # The item keys of workflow parameters whose value is a literal JSON list of objects.
        self.item_keys: dict[str, frozenset[str]] = {}

    # -- reporting ---------------------------------------------------------------------------

    def error(self, base: Base | None, path: str, message: str, hint: str = "") -> None:
        if self.lenient:
            self.warning(base, path, message, hint)
        else:
            self.report.error(*self._locate(base, path, message), hint)

    def warning(self, base: Base | None, path: str, message: str, hint: str = "") -> None:
        self.report.warning(*self._locate(base, path, message, prefix=""), hint)

    def _emit(self, base: Base | None, problems: parts.Problems, *, warn: bool = False) -> None:
        for path, message in problems:
            (self.warning if warn else self.error)(base, path, message)

    def _locate(self, base: Base | None, path: str, message: str, prefix: str | None = None) -> tuple[str, str]:
        prefix = self.prefix if prefix is None else prefix  # Argo's "cannot validate Workflow: " is for errors
        if base is not None and base.redirect:
            return base.redirect, f"{prefix}{base.redirect_prefix}{message}"
        return path, prefix + message

    def _version_forms(self, base: Base | None, sync: Any, path: str) -> None:
        """The single or list lock forms the cluster's Argo version does not read as written."""
        for where, message, is_error in versions.single_forms(self.argo_version, sync, path, LOCK_FORMS):
            (self.error if is_error else self.warning)(base, where, message)

    # -- the workflow ------------------------------------------------------------------------

    def validate(self, spec: dict[str, Any], spec_path: str, metadata: dict[str, Any], kind: str, name: str) -> None:
        base = Base(kind, name, spec, spec_path)
        entrypoint = str(spec.get("entrypoint") or "")
        ref = as_dict(spec.get("workflowTemplateRef"))
        referred: Base | None = None
        arguments = as_dict(spec.get("arguments"))
        if spec.get("workflowTemplateRef") is not None:
            ref_path = f"{spec_path}.workflowTemplateRef"
            if as_list(spec.get("templates")):
                self.error(None, f"{spec_path}.templates",
                           "Templates is invalid field in spec if workflow referred WorkflowTemplate reference")
            ref_name = substitute(str(ref.get("name") or ""), _parameter_values(arguments).get)
            if "{{" in ref_name:  # resolved when the workflow is submitted, as in Argo
                self._emit(None, parts.arguments(arguments, f"{spec_path}.arguments", "spec.arguments.",
                                                 self.allow_empty_arguments))
                return
            referred = self._base(bool(ref.get("clusterScope")), ref_name, ref_path, "")
            if referred is None:
                return
            entrypoint = entrypoint or str(referred.spec.get("entrypoint") or "")
            arguments = _merge_arguments(arguments, as_dict(referred.spec.get("arguments")))
        for index, message in names.list_name_problems(spec.get("templates")):
            self.error(None, f"{spec_path}.templates[{index}].name", f"spec.templates{message}")
        self._emit(None, parts.arguments(arguments, f"{spec_path}.arguments", "spec.arguments.",
                                         self.allow_empty_arguments))
        self._globals(spec, metadata, arguments, referred)

        ignore_entrypoint = self.workflow_template and not entrypoint
        if not ignore_entrypoint:
            if not entrypoint:
                self.error(None, f"{spec_path}.entrypoint", "spec.entrypoint is required")
            else:
                holder: dict[str, Any] = {"template": entrypoint}
                if referred is not None:
                    holder = {"templateRef": {"name": referred.name, "template": entrypoint,
                                              "clusterScope": bool(ref.get("clusterScope"))}}
                call_args = None if self.workflow_template else arguments
                self._call(base, holder, f"{spec_path}.entrypoint", "", call_args, values=call_args)

        on_exit = str(spec.get("onExit") or "") or (str(referred.spec.get("onExit") or "") if referred else "")
        if on_exit:
            self.globals.add("workflow.failures")
            if _parameterised_global_artifacts(base, referred):
                self.globals.add(ANY_WORKFLOW_OUTPUT_ARTIFACT)
            holder = {"template": on_exit}
            if referred is not None:
                holder = {"templateRef": {"name": referred.name, "template": on_exit,
                                          "clusterScope": bool(ref.get("clusterScope"))}}
            self._call(base, holder, f"{spec_path}.onExit", "", arguments, values=as_dict(spec.get("arguments")))

        self._emit(None, parts.hooks(spec.get("hooks"), f"{spec_path}.hooks", "hooks"))
        if referred is None:
            self._handlers(base, spec, spec_path, "hooks")
        strategy = str(as_dict(spec.get("podGC")).get("strategy") or "")
        if strategy not in POD_GC_STRATEGIES:
            self.error(None, f"{spec_path}.podGC.strategy", f"podGC.strategy unknown strategy '{strategy}'")
        if problem := labels.selector_error(as_dict(spec.get("podGC")).get("labelSelector")):
            self.error(None, f"{spec_path}.podGC.labelSelector", f"podGC.labelSelector invalid: {problem}")
        self._emit(None, parts.pod_resources(spec.get("podResources"), f"{spec_path}.podResources", ""))
        self._emit(None, parts.executor_plugins(spec.get("executorPlugins"), f"{spec_path}.executorPlugins"))
        self._emit(None, parts.synchronization(spec.get("synchronization"), f"{spec_path}.synchronization"),
                   warn=True)
        self._version_forms(None, spec.get("synchronization"), f"{spec_path}.synchronization")

        if referred is not None:
            for template_name in referred.templates:
                self._validate_template(self._local(referred, template_name))
            return
        for template_name in base.templates:
            self._validate_template(self._local(base, template_name))

    def _globals(self, spec: dict[str, Any], metadata: dict[str, Any], arguments: dict[str, Any],
                 referred: Base | None) -> None:
        parameters = list(named(arguments.get("parameters")))
        if parameters:
            self.globals |= {"workflow.parameters", "workflow.parameters.json"}
        self.globals |= {f"workflow.parameters.{name}" for _, _, name in parameters if name}
        self.values.update(_parameter_values(arguments))
        if self.strict_items and not self.workflow_template:  # a WorkflowTemplate's values are callers' defaults
            self.item_keys = {name: keys for _, parameter, name in parameters
                              if (keys := parts.item_keys(parameter.get("value"))) is not None}
        sources = [metadata, as_dict(spec.get("workflowMetadata"))]
        if referred is not None:
            sources.append(as_dict(referred.spec.get("workflowMetadata")))
        for source in sources:
            self.globals |= {f"workflow.annotations.{key}" for key in as_dict(source.get("annotations"))}
            for field_name in ("labels", "labelsFrom"):
                self.globals |= {f"workflow.labels.{key}" for key in as_dict(source.get(field_name))}
        if spec.get("priority") is not None:
            self.globals.add("workflow.priority")
            self.values["workflow.priority"] = as_text(spec["priority"])

    # -- resolving templates -----------------------------------------------------------------

    def _base(self, cluster: bool, name: str, path: str, prefix: str) -> Base | None:
        """The (Cluster)WorkflowTemplate ``name``; its problems are reported at ``path``, after ``prefix``."""
        key = f"{'ClusterWorkflowTemplate' if cluster else 'WorkflowTemplate'}/{name}"
        if key not in self.bases:
            found = (self.resolver.cluster_workflow_template(name) if cluster
                     else self.resolver.workflow_template(self.namespace, name))
            self.bases[key] = None if found is None else Base(key.split("/")[0], name, as_dict(found.get("spec")),
                                                              "spec", redirect=path, redirect_prefix=prefix)
        base = self.bases[key]
        if base is None:
            plural = "clusterworkflowtemplates" if cluster else "workflowtemplates"
            self.error(None, path, f'{prefix}{plural}.argoproj.io "{name}" not found')
        return base

    def _local(self, base: Base, name: str) -> Resolved:
        index, template = base.templates[name]
        return Resolved(base, template, f"{base.spec_path}.templates[{index}]", f"{base.key}/{name}")

    def _resolve(self, base: Base, holder: dict[str, Any], path: str, prefix: str) -> Resolved | None:
        """The template a step, task, entrypoint or onExit names; reports why not when it cannot."""
        ref = holder.get("templateRef")
        name = str(holder.get("template") or "")
        if ref is not None:
            ref = as_dict(ref)
            if name:
                self.error(base, path, f"{prefix}template name cannot be specified with templateRef")
                return None
            if not ref.get("name"):
                self.error(base, f"{path}.templateRef.name", f"{prefix}resource name is required")
                return None
            if not ref.get("template"):
                self.error(base, f"{path}.templateRef.template", f"{prefix}template name is required")
                return None
            if any(at_run_time(ref.get(key)) for key in ("name", "template")):
                return None  # resolved at run time, as in Argo
            if base.redirect:
                referred = self._base(bool(ref.get("clusterScope")), str(ref["name"]), base.redirect,
                                      base.redirect_prefix)
            else:
                referred = self._base(bool(ref.get("clusterScope")), str(ref["name"]), f"{path}.templateRef", prefix)
            if referred is None:
                return None
            if str(ref["template"]) not in referred.templates:
                self.error(base, f"{path}.templateRef.template",
                           f"{prefix}template reference {ref['name']}.{ref['template']} not found")
                return None
            return self._local(referred, str(ref["template"]))
        if name:
            if at_run_time(name):
                return None  # named by a value only known at run time
            if name not in base.templates:
                self.error(base, f"{path}.template" if path.endswith("]") else path,
                           f"{prefix}template name '{name}' undefined")
                return None
            return self._local(base, name)
        if isinstance(holder.get("inline"), dict):
            return Resolved(base, holder["inline"], f"{path}.inline", f"{base.key}/inline:{path}",
                            str(holder.get("name") or ""))
        self.error(base, path, f"{prefix}failed to get a template")
        return None

    def _call(self, base: Base, holder: dict[str, Any], path: str, prefix: str,
              arguments: dict[str, Any] | None, *, values: dict[str, Any] | None = None) -> Resolved | None:
        """Resolve and validate the template ``holder`` calls, checking the call's arguments.

        ``values`` are the arguments the template is first checked with (Argo checks the
        entrypoint with the workflow's arguments, every other call with placeholders).
        """
        resolved = self._resolve(base, holder, path, prefix)
        if resolved is None:
            return None
        self._validate_template(resolved, values)
        if arguments is not None:
            self._supplied(base, resolved.template, arguments, path, prefix)
        return resolved

    def _handlers(self, base: Base, holder: dict[str, Any], path: str, prefix: str) -> None:
        """The templates a step's or task's ``onExit`` and the ``hooks`` of a step, task or workflow
        run: one that does not exist is a warning (ours: Argo only finds out when the handler is due)."""
        handlers: list[tuple[dict[str, Any], str, str]] = []
        if holder is not base.spec and holder.get("onExit"):
            handlers.append(({"template": holder["onExit"]}, f"{path}.onExit", f"{prefix}.onExit "))
        for hook_name, hook in as_dict(holder.get("hooks")).items():
            if isinstance(hook, dict) and (hook.get("template") or hook.get("templateRef") is not None):
                handlers.append((hook, f"{path}.hooks.{hook_name}", f"{prefix}.{hook_name} "))
        for handler, where, tag in handlers:
            self.lenient = True
            try:
                resolved = self._resolve(base, handler, where, tag)
            finally:
                self.lenient = False
            if resolved is not None:
                self._validate_template(resolved)

    def _supplied(self, base: Base, template: dict[str, Any], arguments: dict[str, Any], path: str,
                  prefix: str) -> None:
        """Argo's ``ProcessArgs``: every input without a default is given by the caller."""
        inputs = as_dict(template.get("inputs"))
        given = {name: item for _, item, name in named(arguments.get("parameters"))}
        called = f"templates.{template.get('name') or ''} "
        for _, parameter, name in named(inputs.get("parameters")):
            if any(parameter.get(key) is not None for key in ("value", "default", "valueFrom")):
                continue
            argument = given.get(name, {})
            if argument.get("value") is None and argument.get("valueFrom") is None:
                self.error(base, path, f"{prefix}{called}inputs.parameters.{name} was not supplied")
        artifacts = {name for _, _, name in named(arguments.get("artifacts"))}
        for _, artifact, name in named(inputs.get("artifacts")):
            if not has_location(artifact) and not artifact.get("optional") and name not in artifacts:
                self.error(base, path, f"{prefix}{called}inputs.artifacts.{name} was not supplied")

    # -- one template ------------------------------------------------------------------------

    def _validate_template(self, resolved: Resolved, values: dict[str, Any] | None = None) -> None:
        if resolved.key in self.done:
            return
        self.done.add(resolved.key)
        base, path = resolved.base, resolved.path
        kind = template_type(resolved.template)
        template = substitute(resolved.template, self._replacements(resolved.template, kind, values))
        name = str(template.get("name") or resolved.name)
        present = [key for key in TYPES if template.get(key) is not None]
        if not present:
            self.error(base, path, f"templates.{name} template type unspecified. {TYPE_CHOICES}")
        elif len(present) > 1:
            self.error(base, f"{path}.{present[1]}", f"templates.{name} multiple template types specified. "
                                                     f"{TYPE_CHOICES}")
        leaf = kind in LEAF_TYPES
        scope = Scope(workflow_template=self.workflow_template)
        self._inputs(base, template, name, path, leaf, scope)
        for index, container in enumerate(as_list(template.get("initContainers"))):
            if not as_dict(container).get("name"):
                self.error(base, f"{path}.initContainers[{index}].name",
                           f"templates.{name} initContainers must all have container name")
        if kind in POD_TYPES:
            scope.names.add("pod.name")
        if template.get("retryStrategy") is not None:
            scope.names |= set(RETRY_VARIABLES)
        if leaf:
            outputs = as_dict(template.get("outputs"))
            scope.names |= {f"outputs.artifacts.{n}.path" for _, a, n in named(outputs.get("artifacts"))
                            if a.get("path")}
            scope.names |= {f"outputs.parameters.{n}.path" for _, p, n in named(outputs.get("parameters"))
                            if as_dict(p.get("valueFrom")).get("path")}
        timeout = template.get("timeout")
        if timeout not in (None, ""):
            if kind and not leaf:
                self.error(base, f"{path}.timeout", f"{TYPES[kind]} template doesn't support timeout field")
            elif str(timeout).lstrip("+-").isdigit():
                self.error(base, f"{path}.timeout", f"{name} has invalid duration format in timeout")
            elif not parts.duration_or_variable(timeout):  # ours: Argo only finds out when the pod is due
                self.warning(base, f"{path}.timeout", f"{name} has invalid duration format in timeout")
        scope.globals = self.globals
        if kind == "steps":
            self._steps(base, template, name, path, scope)
        elif kind == "dag":
            self._dag(base, template, name, path, scope)
        elif kind is not None:
            self._leaf(base, template, name, path, scope, kind)
        self._outputs(base, template, name, path, scope, kind)
        self._emit(base, parts.artifact_location(template.get("archiveLocation"), f"{path}.archiveLocation",
                                                 f"templates.{name}.archiveLocation"))
        self._emit(base, parts.reserved_container_names(template, name, path))
        self._emit(base, parts.pod_resources(template.get("podResources"), f"{path}.podResources",
                                             f"templates.{name}."))
        self._emit(base, parts.metrics(template, name, path))
        self._emit(base, parts.metric_kinds(template, name, path), warn=True)
        retry = as_dict(template.get("retryStrategy"))
        policy = str(retry.get("retryPolicy") or "")
        if policy not in RETRY_POLICIES:
            self.error(base, f"{path}.retryStrategy.retryPolicy", f"{policy} is not a valid RetryPolicy")
        limit = retry.get("limit")
        if limit is not None and not at_run_time(limit) and not (
                str(limit).isdigit() and not isinstance(limit, bool | float)):
            self.warning(base, f"{path}.retryStrategy.limit",
                         f"templates.{name}.retryStrategy.limit '{limit}' must be a non-negative integer or a "
                       "{{...}} reference")
        backoff = as_dict(retry.get("backoff"))
        for key in ("duration", "maxDuration"):
            value = backoff.get(key)
            if value is not None and not (parts.seconds(value) or parts.duration_or_variable(value)):
                self.warning(base, f"{path}.retryStrategy.backoff.{key}",
                             f"templates.{name}.retryStrategy.backoff.{key} '{value}' is not a duration (e.g. 30s, 5m)")
        duration = as_dict(template.get("suspend")).get("duration")
        if duration is not None and not (parts.seconds(duration) or parts.duration_or_variable(duration)):
            self.warning(base, f"{path}.suspend.duration",
                         f"templates.{name}.suspend.duration '{duration}' is not a duration (e.g. 30s, 5m, or "
                         "seconds)")
        self._emit(base, parts.synchronization(template.get("synchronization"), f"{path}.synchronization"), warn=True)
        self._version_forms(base, template.get("synchronization"), f"{path}.synchronization")

    def _replacements(self, template: dict[str, Any], kind: str | None,
                      values: dict[str, Any] | None) -> Callable[[str], str | None]:
        """What Argo's ``ProcessArgs`` substitutes in ``template`` before checking it, as a lookup.

        ``values`` are the caller's arguments; ``None`` stands for any caller (Argo's
        ``FakeArguments``), every input then being a placeholder. Globals are looked up only
        for the tags the template has; each gets one placeholder, as in Argo's map.
        """
        local: dict[str, str] = {}
        if kind in POD_TYPES:
            local["pod.name"] = self.placeholders.next()
        if template.get("retryStrategy") is not None:
            local.update({name: self.placeholders.next() for name in RETRY_VARIABLES})
        inputs = as_dict(template.get("inputs"))
        given = {} if values is None else {name: item for _, item, name in named(values.get("parameters"))}
        for _, parameter, name in named(inputs.get("parameters")):
            value = parameter.get("value", parameter.get("default"))
            if values is None:
                value = self.placeholders.next()
            elif given.get(name, {}).get("value") is not None:
                value = given[name]["value"]
            if value is not None:
                local[f"inputs.parameters.{name}"] = as_text(value)
        if as_list(inputs.get("parameters")):
            local["inputs.parameters"] = self.placeholders.next()
        outputs = as_dict(template.get("outputs"))
        for prefix, holder in (("inputs", inputs), ("outputs", outputs)):
            for _, artifact, name in named(holder.get("artifacts")):
                if isinstance(artifact.get("path"), str) and artifact["path"]:
                    local[f"{prefix}.artifacts.{name}.path"] = artifact["path"]
        for _, parameter, name in named(outputs.get("parameters")):
            if isinstance(source := as_dict(parameter.get("valueFrom")).get("path"), str) and source:
                local[f"outputs.parameters.{name}.path"] = source

        def lookup(tag: str) -> str | None:
            if tag in local:
                return local[tag]
            # A literal list of objects looped over keeps its reference, so its item keys stay known.
            looped = tag.startswith("workflow.parameters.") and tag[len("workflow.parameters."):] in self.item_keys
            if tag not in self.globals or tag.endswith("*") or looped:
                return None
            local[tag] = self.values.get(tag) or self.placeholders.next()
            return local[tag]

        return lookup

    def _inputs(self, base: Base, template: dict[str, Any], name: str, path: str, leaf: bool, scope: Scope) -> None:
        inputs = as_dict(template.get("inputs"))
        for field_name in ("parameters", "artifacts"):
            for index, message in names.list_name_problems(inputs.get(field_name), params=True):
                self.error(base, f"{path}.inputs.{field_name}[{index}].name",
                           f"templates.{name}.inputs.{field_name}{message}")
        parameters = list(named(inputs.get("parameters")))
        scope.names |= {f"inputs.parameters.{n}" for _, _, n in parameters}
        if parameters:
            scope.names.add("inputs.parameters")
        for index, artifact, art_name in named(inputs.get("artifacts")):
            ref = f"inputs.artifacts.{art_name}"
            art_path = f"{path}.inputs.artifacts[{index}]"
            scope.names.add(ref)
            if leaf:
                scope.names.add(f"{ref}.path")
                if problem := parts.artifact_path_error(artifact, art_name):
                    self.error(base, f"{art_path}.path", f"error in templates.{name}.{ref}: {problem}")
            elif artifact.get("path"):
                self.error(base, f"{art_path}.path", f"templates.{name}.{ref}.path only valid in container/script "
                                                     "templates")
            if artifact.get("from"):
                self.error(base, f"{art_path}.from", f"templates.{name}.{ref}.from not valid in inputs")
            self._emit(base, parts.artifact_location(artifact, art_path, f"templates.{name}.{ref}"))

    def _leaf(self, base: Base, template: dict[str, Any], name: str, path: str, scope: Scope, kind: str) -> None:
        self._unresolved(base, scope, template, path, f"templates.{name}: ")
        defaults = as_dict(base.spec.get("templateDefaults"))
        if kind in ("container", "script"):
            body = as_dict(template.get(kind))
            if not body.get("image") and not as_dict(defaults.get(kind)).get("image"):
                self.error(base, f"{path}.{kind}.image", f"templates.{name}.{kind}.image may not be empty")
        if kind == "container":
            mounts: dict[str, str] = {}
            for index, mount in enumerate(as_list(as_dict(template.get("container")).get("volumeMounts"))):
                mount_path = str(as_dict(mount).get("mountPath") or "")
                if mount_path in mounts:
                    self.error(base, f"{path}.container.volumeMounts[{index}].mountPath",
                               f"templates.{name}.container.volumeMounts[{index}].mountPath '{mount_path}' already "
                               f"mounted in {mounts[mount_path]}")
                mounts[mount_path] = f"container.volumeMounts.{as_dict(mount).get('name')}"
            for index, artifact, art_name in named(as_dict(template.get("inputs")).get("artifacts")):
                art_path = str(artifact.get("path") or "")
                if art_path in mounts:
                    self.error(base, f"{path}.inputs.artifacts[{index}].path",
                               f"templates.{name}.inputs.artifacts[{index}].path '{art_path}' already mounted in "
                               f"{mounts[art_path]}")
                mounts[art_path] = f"inputs.artifacts.{art_name}"
        if kind == "containerSet":
            self._emit(base, parts.container_set(template, name, path))
        if kind == "resource":
            self._emit(base, parts.resource(template, name, path))
        self._emit(base, parts.volume_mounts(base.spec, template, name, path), warn=True)
        deadline = template.get("activeDeadlineSeconds")
        if deadline is not None and not parts.valid_deadline(deadline):
            self.error(base, f"{path}.activeDeadlineSeconds",
                       f"templates.{name}.activeDeadlineSeconds must be a positive integer > 0 or an argo variable")
        if template.get("parallelism") is not None:
            self.error(base, f"{path}.parallelism",
                       f"templates.{name}.parallelism is only valid for steps and dag templates")

    def _outputs(self, base: Base, template: dict[str, Any], name: str, path: str, scope: Scope,
                 kind: str | None) -> None:
        outputs = as_dict(template.get("outputs"))
        for field_name in ("parameters", "artifacts"):
            for index, message in names.list_name_problems(outputs.get(field_name), params=True):
                self.error(base, f"{path}.outputs.{field_name}[{index}].name",
                           f"templates.{name}.outputs.{field_name} {message}")
        if kind in LEAF_TYPES or kind is None:
            pass  # a leaf's outputs were checked with the whole template
        else:
            self._unresolved(base, scope, outputs, f"{path}.outputs", f"templates.{name}.outputs ")
        leaf = kind in LEAF_TYPES
        for index, artifact, art_name in named(outputs.get("artifacts")):
            ref = f"outputs.artifacts.{art_name}"
            if not leaf and artifact.get("path"):
                self.error(base, f"{path}.outputs.artifacts[{index}].path",
                           f"templates.{name}.{ref}.path only valid in container/script templates")
            elif leaf and (problem := parts.artifact_path_error(artifact, art_name)):
                self.error(base, f"{path}.outputs.artifacts[{index}].path",
                           f"error in templates.{name}.{ref}: {problem}")
            self._emit(base, parts.global_name(artifact, f"{path}.outputs.artifacts[{index}]",
                                               f"templates.{name}.{ref}"))
        for index, parameter, param_name in named(outputs.get("parameters")):
            ref = f"templates.{name}.outputs.parameters.{param_name}"
            where = f"{path}.outputs.parameters[{index}]"
            self._emit(base, parts.output_parameter(parameter, ref, where, kind))
            self._emit(base, parts.global_name(parameter, where, ref))

    # -- steps -------------------------------------------------------------------------------

    def _non_leaf(self, base: Base, template: dict[str, Any], name: str, path: str) -> None:
        if template.get("activeDeadlineSeconds") is not None:
            self.error(base, f"{path}.activeDeadlineSeconds",
                       f"templates.{name}.activeDeadlineSeconds is only valid for leaf templates")

    def _steps(self, base: Base, template: dict[str, Any], name: str, path: str, scope: Scope) -> None:
        self._non_leaf(base, template, name, path)
        seen: set[str] = set()
        for group_index, group in enumerate(as_list(template.get("steps"))):
            for step_index, step in enumerate(as_list(group)):
                if not isinstance(step, dict):
                    continue
                where = f"{path}.steps[{group_index}][{step_index}]"
                step_name = str(step.get("name") or "")
                tag = f"templates.{name}.steps[{group_index}]"
                if not step_name:
                    self.error(base, f"{where}.name", f"{tag}.name is required")
                elif step_name in seen:
                    self.error(base, f"{where}.name", f"{tag}.name '{step_name}' is not unique")
                elif "{{=" not in step_name and (errors := names.field_name_errors(step_name)):
                    self.error(base, f"{where}.name", f"{tag}.name '{step_name}' is invalid: {';'.join(errors)}")
                seen.add(step_name)
                prefix = f"{tag}.{step_name} "
                scope.names.add(f"steps.{step_name}.status")
                self._emit(base, parts.arguments(as_dict(step.get("arguments")), f"{where}.arguments",
                                                 f"{tag}.{step_name}.arguments.", False))
                resolved = self._call(base, step, where, prefix, as_dict(step.get("arguments")))
                self._emit(base, parts.hooks(step.get("hooks"), f"{where}.hooks", f"{tag}.{step_name}"))
                self._handlers(base, step, where, f"{tag}.{step_name}")
                if "exit" in as_dict(step.get("hooks")) or step.get("onExit"):
                    self._add_outputs(resolved, f"steps.{step_name}", scope, aggregate=False)
                step_scope = scope.child()
                self._loop(base, step, where, prefix, step_scope)
                self._references(base, step, where, f"templates.{name}.steps ", step_scope)
                aggregate = bool(step.get("withItems")) or bool(step.get("withParam"))
                self._add_outputs(resolved, f"steps.{step_name}", scope, aggregate=aggregate)

    def _loop(self, base: Base, holder: dict[str, Any], path: str, prefix: str, scope: Scope) -> None:
        """Argo's ``addItemsToScope``: at most one loop, and the ``{{item}}`` forms it defines."""
        loops = [key for key in ("withItems", "withParam", "withSequence") if holder.get(key)]
        if len(loops) > 1:
            self.error(base, f"{path}.{loops[1]}", f"{prefix}only one of withItems, withParam, withSequence can be "
                                                   "specified")
        items, sequence = holder.get("withItems"), holder.get("withSequence")
        if items is not None and not isinstance(items, list):
            self.error(base, f"{path}.withItems", f"{prefix}withItems must be a list")
        if isinstance(items, list) and items:
            for item in items:
                if isinstance(item, dict):
                    scope.names |= {f"item.{key}" for key in item}
                elif isinstance(item, list):
                    scope.names |= {f"item.[{i}]" for i in range(len(item))}
                else:
                    scope.names.add("item")
        elif holder.get("withParam"):
            param = str(holder["withParam"])
            keys = self.item_keys.get(parts.workflow_parameter(param) or "")
            scope.names |= {"item", ANY_ITEM} if keys is None else {"item", *(f"item.{key}" for key in keys)}
            if not at_run_time(param) and not parts.json_list(param):
                self.warning(base, f"{path}.withParam", f"{prefix}withParam value could not be parsed as a JSON list: "
                                                      f"{param}")
        elif isinstance(sequence, dict):
            if sequence.get("count") is not None and sequence.get("end") is not None:
                self.error(base, f"{path}.withSequence", "only one of count or end can be defined in withSequence")
            for key in ("start", "end", "count"):
                value = sequence.get(key)
                if value is not None and not at_run_time(value) and not str(value).lstrip("-").isdigit():
                    self.warning(base, f"{path}.withSequence.{key}",
                               f"{prefix}withSequence.{key} '{value}' must be an integer or a {{{{...}}}} reference")
            scope.names.add("item")

    def _unresolved(self, base: Base, scope: Scope, value: Any, path: str, prefix: str) -> None:
        """Every ``{{...}}`` in ``value`` that ``scope`` cannot resolve. A workflow label or annotation
        nobody declared is a warning: the controller's ``workflowDefaults`` may add it, unseen here."""
        for where, message, hint in scope.unresolved(value, path):
            by_defaults = message.startswith(("failed to resolve {{workflow.labels.",
                                              "failed to resolve {{workflow.annotations."))
            (self.warning if by_defaults else self.error)(base, where, prefix + message, hint)

    def _references(self, base: Base, holder: dict[str, Any], path: str, prefix: str, scope: Scope) -> None:
        """The step's or task's own ``{{...}}`` references; an inline template is checked as a template."""
        body = {k: v for k, v in holder.items() if k != "inline"}
        self._unresolved(base, scope, body, path, prefix)
        if not any(holder.get(key) for key in ("withItems", "withParam", "withSequence")):
            for where, message in loop_items_outside_loop(body, path):
                self.error(base, where, f"{prefix}{message}")

    def _add_outputs(self, resolved: Resolved | None, prefix: str, scope: Scope, *, aggregate: bool,
                     ancestor: bool = False) -> None:
        scope.names |= self._output_names(resolved, prefix, aggregate=aggregate, ancestor=ancestor)

    def _output_names(self, resolved: Resolved | None, prefix: str, *, aggregate: bool,
                 ancestor: bool = False) -> set[str]:
        """Argo's ``addOutputsToScope``: what ``steps.X.*`` / ``tasks.X.*`` offer after X ran.

        Output parameters and artifacts with a ``globalName`` become workflow globals.
        """
        names_ = {f"{prefix}.{key}" for key in ("id", "startedAt", "finishedAt", "hostNodeName")}
        if ancestor:
            names_.add(f"{prefix}.status")
        if resolved is None:
            return names_
        template = resolved.template
        if template.get("daemon"):
            names_.add(f"{prefix}.ip")
        if has_output(template):
            names_ |= {f"{prefix}.outputs.result", f"{prefix}.exitCode"}
        outputs = as_dict(template.get("outputs"))
        for field_name, any_global in (("parameters", ANY_WORKFLOW_OUTPUT_PARAMETER),
                                       ("artifacts", ANY_WORKFLOW_OUTPUT_ARTIFACT)):
            for _, item, item_name in named(outputs.get(field_name)):
                names_.add(f"{prefix}.outputs.{field_name}.{item_name}")
                global_name = item.get("globalName")
                if global_name and not is_parameter(str(global_name)):
                    variable = f"workflow.outputs.{field_name}.{global_name}"
                    names_.add(variable)
                    self.globals.add(variable)
                elif global_name:
                    names_.add(any_global)
        if aggregate:
            names_.add(f"{prefix}.outputs.parameters")
            if template_type(template) in ("script", "containerSet"):
                names_ |= {f"{prefix}.outputs.result", f"{prefix}.exitCode"}
        return names_

    # -- DAGs --------------------------------------------------------------------------------

    def _dag(self, base: Base, template: dict[str, Any], name: str, path: str, scope: Scope) -> None:
        self._non_leaf(base, template, name, path)
        body = as_dict(template.get("dag"))
        tasks = list(named(body.get("tasks")))
        if not tasks:
            self.error(base, f"{path}.dag.tasks", f"templates.{name} must have at least one task")
            return
        sorting = f"templates.{name} sorting failed: "  # Argo sorts the tasks before any other check
        for index, message in names.list_name_problems(body.get("tasks")):
            if message.endswith("is not unique"):
                message = f"{sorting}duplicated nodeName {tasks[index][2]} (templates.{name}.tasks{message})"
            else:
                message = f"templates.{name}.tasks{message}"
            self.error(base, f"{path}.dag.tasks[{index}].name", message)
        by_name = {task_name: task for _, task, task_name in tasks}
        graph = {task_name: list(dag.dependencies(task)) for _, task, task_name in tasks}
        using_depends = any(task.get("depends") for _, task, _ in tasks)
        resolved_of: dict[str, Resolved | None] = {}
        rank = {task_name: number for number, task_name in enumerate(dag.topological(graph))}
        sorted_tasks = sorted(tasks, key=lambda item: rank[item[2]])
        for index, task, task_name in sorted_tasks:  # producers of workflow outputs first, as in Argo
            where = f"{path}.dag.tasks[{index}]"
            prefix = f"templates.{name}.tasks.{task_name} "
            if (using_depends or task.get("dependencies")) and task_name[:1].isdigit():
                self.error(base, f"{where}.name", f"templates.{name}.tasks.{task_name} name cannot begin with a digit "
                                                  "when using either 'depends' or 'dependencies'")
            if using_depends and task.get("dependencies"):
                self.error(base, f"{where}.dependencies",
                           f"templates.{name} cannot use both 'depends' and 'dependencies' in the same DAG template")
            if using_depends and task.get("continueOn") is not None:
                self.error(base, f"{where}.continueOn", f"templates.{name} cannot use 'continueOn' when using "
                                                        "'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'")
            resolved = self._call(base, task, where, prefix, as_dict(task.get("arguments")))
            resolved_of[task_name] = resolved
            aggregate = bool(task.get("withItems")) or bool(task.get("withParam"))
            self._add_outputs(resolved, f"tasks.{task_name}", scope, aggregate=aggregate)
            for message in dag.invalid_results(task):
                self.error(base, f"{where}.depends", prefix + message)
            for dependency, items_based in dag.dependencies(task).items():
                other = by_name.get(dependency)
                field_name = "depends" if task.get("depends") else "dependencies"
                if other is None:
                    self.error(base, f"{where}.{field_name}", f"{sorting}invalid dependency {dependency} "
                                                              f"({prefix}dependency '{dependency}' not defined)")
                elif items_based and not any(other.get(k) for k in ("withItems", "withParam", "withSequence")):
                    self.error(base, f"{where}.depends", f"{prefix}dependency '{dependency}' uses an items-based "
                                                         "condition such as .AnySucceeded or .AllFailed but does not "
                                                         "contain any items")
        cycle = dag.first_cycle({n: [d for d in deps if d in by_name] for n, deps in graph.items()})
        if cycle:
            self.error(base, f"{path}.dag.tasks", f"{sorting}graph with cycle (templates.{name}.tasks dependency "
                                                  f"cycle detected: {'->'.join(cycle)})")
        target = body.get("target")
        if target:
            self._unresolved(base, scope, target, f"{path}.dag.target", f"templates.{name}.targets ")
            for target_name in str(target).split(" "):
                if not is_parameter(target_name) and target_name not in by_name:
                    self.error(base, f"{path}.dag.target",
                               f"templates.{name}.targets: target '{target_name}' is not defined")
        ancestry = dag.Ancestry({n: [d for d in deps if d in by_name] for n, deps in graph.items()}) \
            if not cycle else None

        @functools.cache
        def offered_by(ancestor: str) -> set[str]:
            other = by_name.get(ancestor, {})
            return self._output_names(resolved_of.get(ancestor), f"tasks.{ancestor}", ancestor=True,
                                      aggregate=bool(other.get("withItems")) or bool(other.get("withParam")))

        for index, task, task_name in tasks:
            where = f"{path}.dag.tasks[{index}]"
            prefix = f"templates.{name}.tasks.{task_name} "
            resolved = resolved_of.get(task_name)
            if task.get("hooks") is not None:
                scope.names.add(f"tasks.{task_name}.status")
            self._add_outputs(resolved, f"tasks.{task_name}", scope, aggregate=False)
            task_scope = scope.child()
            ancestors: AbstractSet[str] = ancestry.of(task_name) if ancestry else frozenset()
            task_scope.ancestors = _Offered(ancestors, offered_by)
            self._loop(base, task, where, prefix, task_scope)
            self._references(base, task, where, prefix, task_scope)
            self._emit(base, parts.arguments(as_dict(task.get("arguments")), f"{where}.arguments",
                                             f"templates.{name}.tasks.{task_name}.arguments.", False))
            self._emit(base, parts.hooks(task.get("hooks"), f"{where}.hooks", f"templates.{name}.tasks.{task_name}"))
            self._handlers(base, task, where, f"templates.{name}.tasks.{task_name}")
            self._argument_dependencies(base, as_dict(task.get("arguments")), ancestors, where, prefix)

    def _argument_dependencies(self, base: Base, arguments: dict[str, Any], ancestors: AbstractSet[str], path: str,
                               prefix: str) -> None:
        """An argument taken from ``{{tasks.X...}}`` needs X among the task's dependencies."""
        for field_name, key, noun in (("parameters", "value", "parameter"), ("artifacts", "from", "artifact")):
            for index, item, item_name in named(arguments.get(field_name)):
                value = str(item.get(key) or "")
                if value.startswith("{{tasks.") and "." in value[len("{{tasks."):]:
                    task = value.split(".")[1]
                    if task not in ancestors:
                        self.error(base, f"{path}.arguments.{field_name}[{index}].{key}",
                                   f"{prefix}missing dependency '{task}' for {noun} '{item_name}'")


class _Offered(Mapping[str, set[str]]):
    """What a DAG task's ancestors offer it (``tasks.X.*``), each worked out on first use: a chain of
    thousands of tasks gives each all the others, and a task refers to few of them."""

    def __init__(self, ancestors: AbstractSet[str], offered_by: Callable[[str], set[str]]) -> None:
        self.ancestors, self.offered_by = ancestors, offered_by

    def __getitem__(self, ancestor: str) -> set[str]:
        if ancestor not in self.ancestors:
            raise KeyError(ancestor)
        return self.offered_by(ancestor)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ancestors)

    def __len__(self) -> int:
        return len(self.ancestors)


def _merge_arguments(own: dict[str, Any], referred: dict[str, Any]) -> dict[str, Any]:
    """Argo's ``MergeParameters``/``MergeArtifacts``: the workflow's own win, the template's fill in."""
    merged: dict[str, Any] = {}
    for field_name in ("parameters", "artifacts"):
        items = [item for item in as_list(own.get(field_name)) if isinstance(item, dict)]
        have = {str(item.get("name")) for item in items}
        items += [item for item in as_list(referred.get(field_name))
                  if isinstance(item, dict) and str(item.get("name")) not in have]
        merged[field_name] = items
    return merged


def _parameter_values(arguments: dict[str, Any]) -> dict[str, str]:
    """``workflow.parameters.<name>`` -> value, for the arguments that have one."""
    return {f"workflow.parameters.{name}": as_text(parameter["value"])
            for _, parameter, name in named(arguments.get("parameters"))
            if name and parameter.get("value") is not None and not isinstance(parameter["value"], dict | list)}


def _parameterised_global_artifacts(base: Base, referred: Base | None) -> bool:
    """Whether a template exports an artifact under a ``globalName`` only known at run time (then
    an exit handler may use any ``{{workflow.outputs.artifacts.*}}``, as in Argo)."""
    for holder in (base, referred):
        for _, template in (holder.templates.values() if holder is not None else ()):
            for _, artifact, _ in named(as_dict(template.get("outputs")).get("artifacts")):
                if artifact.get("globalName") and is_parameter(str(artifact["globalName"])):
                    return True
    return False


def check_name_length(report: Report, name: Any, noun: str, limit: int = MAX_NAME) -> None:
    """Argo's limit on a resource's name, counted in bytes as Go's ``len`` does."""
    if isinstance(name, str) and len(name.encode()) > limit:
        report.error("metadata.name", f'{noun} name "{name}" must not be more than {limit} characters long '
                                      f"(currently {len(name.encode())})")
