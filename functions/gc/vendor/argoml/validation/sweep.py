"""Validation of a HyperparamWorkflow: its search space, then the Workflow it generates.

The search space is checked by the very code the hyperparam function runs
(:func:`argoml.hyperparam.workflow.generate`), so the webhook cannot accept a sweep the function
would refuse. The Workflow it would create is then checked by Argo's rules; since that
Workflow's spec is the sweep's spec without the search fields, every path still points
at the HyperparamWorkflow's own fields. Where the search space itself is invalid, the
rest of the spec is still checked, with the trials parameter standing in, so all
problems are reported at once.
"""

from __future__ import annotations

import json
from typing import Any

from argoml.hyperparam import search, workflow
from argoml.validation import structure
from argoml.validation.report import Report
from argoml.validation.resolver import Resolver

OWN_FIELDS = frozenset(search.SEARCH_FIELDS)


TOP_LEVEL = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


def validate_sweep(obj: dict[str, Any], resolver: Resolver, validate_workflow_spec: Any) -> Report:
    """Every problem of a HyperparamWorkflow; ``validate_workflow_spec`` checks the embedded spec."""
    report = Report()
    if obj.get("apiVersion") not in (None, workflow.API_VERSION):
        report.error("apiVersion", f'Unsupported value: "{obj["apiVersion"]}": supported values: '
                                   f'"{workflow.API_VERSION}"')
    for key in sorted(set(obj) - TOP_LEVEL):
        report.error(key, f'unknown field "{key}"')
    given = obj.get("metadata")
    metadata: dict[str, Any] = given if isinstance(given, dict) else {}
    for key in sorted(set(metadata) - structure.OBJECT_META):
        report.error(f"metadata.{key}", f'unknown field "{key}"')
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        report.error("spec", "Required value" if spec is None else "must be of type object")
        return report
    try:
        generated: workflow.Generated | None = workflow.generate(obj)
    except search.InvalidSpec as exc:
        generated = None
        for error in exc.errors:
            report.error(error.path, error.message)
    workflow_spec = generated.workflow["spec"] if generated else _with_stand_in_parameter(spec)
    validate_workflow_spec(workflow_spec, resolver, report, metadata=metadata, own_fields=OWN_FIELDS)
    if generated is not None:
        _warn_about_scale(spec, generated, report)
    return report


def _with_stand_in_parameter(spec: dict[str, Any]) -> dict[str, Any]:
    name = spec.get("parameterName")
    name = name if isinstance(name, str) and name else search.DEFAULT_PARAMETER
    workflow_spec = {key: value for key, value in spec.items() if key not in OWN_FIELDS}
    arguments = dict(workflow_spec.get("arguments") or {}) if isinstance(workflow_spec.get("arguments"), dict) else {}
    given = arguments.get("parameters")
    parameters: list[Any] = given if isinstance(given, list) else []
    arguments["parameters"] = [*parameters, {"name": name, "value": "[]"}]
    workflow_spec["arguments"] = arguments
    return workflow_spec


def _warn_about_scale(spec: dict[str, Any], generated: workflow.Generated, report: Report) -> None:
    parameter = generated.workflow["metadata"]["annotations"][workflow.PARAMETER_ANNOTATION]
    reference = f"{{{{workflow.parameters.{parameter}}}}}"
    if reference not in json.dumps(spec.get("templates") or []):
        report.warning("spec.templates", f"no step or task loops over the {generated.trials} trials: use "
                                         f'withParam: "{reference}" and {{{{item.<hyperparameter>}}}}')
    parallelism = spec.get("parallelism")
    if isinstance(parallelism, int) and 0 < parallelism < generated.trials:
        report.warning("spec.parallelism", f"{generated.trials} trials, at most {parallelism} running at a time "
                                           f"(about {-(-generated.trials // parallelism)} rounds)")
