"""Argo Workflows validation without a cluster or Go: what ``argo lint`` checks, and more.

:func:`validate_object` takes one decoded resource and returns a :class:`Report` of
every problem found, each at its field path with Argo's wording. It dispatches on
``kind`` through :data:`VALIDATORS`. A resource that wraps a workflow spec (the
``HyperparamWorkflow``) is one more entry there: a function that checks its own fields
and hands the embedded spec to :func:`validate_workflow_spec`.

Layers: :mod:`.structure` (fields and types, from Argo's CRD schema), :mod:`.workflow`
(Argo's semantic rules for a workflow spec: resolution, scopes, steps, DAGs), :mod:`.parts`
(checks of one part of a template: arguments, outputs, resources, metrics, ...),
:mod:`.variables` (``{{...}}`` references), :mod:`.dag` (dependencies), :mod:`.cron`
(schedules), :mod:`.resolver` (where referenced WorkflowTemplates come from).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from argoml.validation import structure, versions
from argoml.validation.cron import schedule_error, timezone_error
from argoml.validation.parts import as_dict, as_list
from argoml.validation.report import Problem, Report
from argoml.validation.resolver import ClusterResolver, DocumentResolver, NoResolver, Resolver
from argoml.validation.versions import ArgoVersion
from argoml.validation.workflow import SpecValidator, check_name_length

__all__ = ["VALIDATORS", "ArgoVersion", "ClusterResolver", "DocumentResolver", "NoResolver", "Problem", "Report",
           "Resolver", "validate_object", "validate_spec", "validate_workflow_spec"]

Validator = Callable[[dict[str, Any], Resolver, versions.VersionSource], Report]
CONCURRENCY_POLICIES = frozenset({"Allow", "Forbid", "Replace", ""})
MAX_CRON_NAME = 52
_SCHEMA_WORDING = ("Unsupported value", "should have at least", "Required value")


def validate_object(obj: Any, resolver: Resolver | None = None, *,
                    argo_version: ArgoVersion | versions.VersionSource | None = None) -> Report:
    """Every problem of one resource (a decoded manifest), by its ``kind``, under the rules of
    ``argo_version`` (a version, or a function asked for it only if a rule depends on it; by
    default ``ARGO_VERSION``'s, else :data:`versions.DEFAULT`'s)."""
    report = Report()
    if not isinstance(obj, dict):
        report.error("", "must be an object (a Kubernetes resource)")
        return report
    kind = obj.get("kind")
    validator = VALIDATORS.get(kind) if isinstance(kind, str) else None
    if validator is None:
        report.error("kind", f"cannot validate kind {kind!r}: expected one of {', '.join(sorted(VALIDATORS))}")
        return report
    try:
        return _prefer_argo_wording(validator(obj, resolver or NoResolver(), versions.source(argo_version)))
    except RecursionError:  # the checks recurse with the document; Python's stack is shallower than Go's
        report.error("", "nested too deeply to validate (inline templates or values hundreds of levels deep)")
        return report


def validate_spec(spec: dict[str, Any], resolver: Resolver, *, report: Report, spec_path: str = "spec",
                  metadata: dict[str, Any] | None = None, kind: str = "Workflow", lint: bool = False,
                  message_prefix: str = "", argo_version: versions.VersionSource | None = None,
                  strict_items: bool = False) -> None:
    """Argo's semantic rules for one workflow spec (as a ``kind`` resource would carry it).

    ``lint`` allows arguments without values, as ``argo lint`` does; a Workflow about to
    run needs them. WorkflowTemplates always may leave them to the workflows using them.
    """
    metadata = metadata or {}
    template = kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")
    validator = SpecValidator(report, resolver, metadata.get("namespace"), workflow_template=template,
                              allow_empty_arguments=lint or template, message_prefix=message_prefix,
                              argo_version=argo_version, strict_items=strict_items)
    validator.validate(spec, spec_path, metadata, kind, str(metadata.get("name") or metadata.get("generateName") or ""))


def validate_workflow_spec(spec: Any, resolver: Resolver, report: Report, *, spec_path: str = "spec",
                           metadata: dict[str, Any] | None = None, own_fields: frozenset[str] = frozenset(),
                           argo_version: versions.VersionSource | None = None) -> None:
    """Check a workflow spec carried inside another resource as a Workflow's spec would be.

    ``own_fields`` are the wrapper's fields mixed into the spec (``hyperparams``, ...): the
    wrapper checks those itself; every other field must be Argo's.
    """
    if not isinstance(spec, dict):
        report.error(spec_path, f"must be of type object, got {type(spec).__name__}")
        return
    structure.check_workflow_spec(spec, spec_path, report, ignore=own_fields)
    validate_spec({k: v for k, v in spec.items() if k not in own_fields}, resolver, report=report,
                  spec_path=spec_path, metadata=metadata, argo_version=argo_version, strict_items=True)
    _prefer_argo_wording(report)


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _structure(obj: dict[str, Any], report: Report) -> dict[str, Any] | None:
    """Check fields and types; the spec for Argo's rules, or ``None`` when there is none to check.

    The rules read a malformed spec defensively, so a wrong type deep inside does not hide
    the other problems.
    """
    structure.check(obj, obj["kind"], report)
    spec = obj.get("spec")
    if spec is None:
        report.warning("spec", structure.REQUIRED_BY_CRD)
        return {}
    return spec if isinstance(spec, dict) else None


def _prefer_argo_wording(report: Report) -> Report:
    """Where the schema and an Argo rule reject the same field, keep Argo's message only."""
    argo = {p.path for p in report.problems if not p.message.startswith(_SCHEMA_WORDING)}
    report.discard(lambda p: p.message.startswith(_SCHEMA_WORDING) and p.path in argo)
    return report


def _workflow(obj: dict[str, Any], resolver: Resolver, version: versions.VersionSource) -> Report:
    report = Report()
    metadata = _metadata(obj)
    if (spec := _structure(obj, report)) is not None:
        check_name_length(report, metadata.get("name"), "workflow")
        validate_spec(spec, resolver, report=report, metadata=metadata, kind=obj["kind"], argo_version=version)
    return report


def _workflow_template(obj: dict[str, Any], resolver: Resolver, version: versions.VersionSource) -> Report:
    report = Report()
    metadata = _metadata(obj)
    if (spec := _structure(obj, report)) is not None:
        noun = "workflow template" if obj["kind"] == "WorkflowTemplate" else "cluster workflow template"
        check_name_length(report, metadata.get("name"), noun)
        validate_spec(spec, resolver, report=report, metadata=metadata, kind=obj["kind"], argo_version=version)
    return report


def _cron_workflow(obj: dict[str, Any], resolver: Resolver, version: versions.VersionSource) -> Report:
    report = Report()
    if (spec := _structure(obj, report)) is None:
        return report
    metadata = _metadata(obj)
    schedules = [s for s in as_list(spec.get("schedules")) if s is not None]
    single = spec.get("schedule") if spec.get("schedule") and version().has_single_forms else None
    if single and schedules:
        report.error("spec.schedules", "cron workflow cant be configured with both Spec.Schedule and Spec.Schedules")
    check_name_length(report, metadata.get("name"), "cron workflow", MAX_CRON_NAME)
    for path, message, is_error in versions.single_forms(version, spec, "spec", (("schedule", "schedules"),)):
        (report.error if is_error else report.warning)(path, message)
    located = [("spec.schedule", single)] if single else []
    located += [(f"spec.schedules[{i}]", s) for i, s in enumerate(schedules)]
    if not located:
        # Argo 3.6 and 3.7 run a CronWorkflow without a schedule (never); 3.5 and 4 refuse it.
        (report.warning if version().has_lists and version().has_single_forms else report.error)(
            "spec.schedules", "cron workflow must have at least one schedule")
    zone = spec.get("timezone")
    if zone and (problem := timezone_error(str(zone))):
        report.error("spec.timezone", f"invalid timezone {json.dumps(str(zone))}: {problem}")
    for path, schedule in located:
        if problem := schedule_error(str(schedule)):
            report.error(path, f"cron schedule {schedule} is malformed: {problem}")
    policy = str(spec.get("concurrencyPolicy") or "")
    if policy not in CONCURRENCY_POLICIES:
        report.error("spec.concurrencyPolicy", f"'{policy}' is not a valid concurrencyPolicy")
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and deadline < 0:
        report.error("spec.startingDeadlineSeconds", "startingDeadlineSeconds must be positive")
    workflow_metadata = dict(as_dict(spec.get("workflowMetadata")), namespace=metadata.get("namespace"),
                             name=metadata.get("name"))
    validate_spec(as_dict(spec.get("workflowSpec")), resolver, report=report, spec_path="spec.workflowSpec",
                  metadata=workflow_metadata, message_prefix="cannot validate Workflow: ", argo_version=version)
    return report


def _hyperparam_workflow(obj: dict[str, Any], resolver: Resolver, version: versions.VersionSource) -> Report:
    from argoml.validation.sweep import validate_sweep

    return validate_sweep(obj, resolver, functools.partial(validate_workflow_spec, argo_version=version))


VALIDATORS: dict[str, Validator] = {
    "HyperparamWorkflow": _hyperparam_workflow,
    "Workflow": _workflow,
    "WorkflowTemplate": _workflow_template,
    "ClusterWorkflowTemplate": _workflow_template,
    "CronWorkflow": _cron_workflow,
}
