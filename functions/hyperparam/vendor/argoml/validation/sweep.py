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

import difflib
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
    for key in sorted(set(obj) - TOP_LEVEL, key=str):
        report.error(str(key), f'unknown field "{key}"',
                     structure.did_you_mean(str(key), TOP_LEVEL, {f: f"spec.{f}" for f in OWN_FIELDS}))
    given = obj.get("metadata")
    metadata: dict[str, Any] = given if isinstance(given, dict) else {}
    for key in sorted(set(metadata) - structure.OBJECT_META, key=str):
        report.error(f"metadata.{key}", f'unknown field "{key}"',
                     structure.did_you_mean(str(key), structure.OBJECT_META))
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        report.error("spec", "Required value" if spec is None else "must be of type object")
        return report
    try:
        generated: workflow.Generated | None = workflow.generate(obj)
    except search.InvalidSpec as exc:
        generated = None
        misspelt = _misspelt_own_fields(obj, spec)
        for error in exc.errors:
            if error.path not in misspelt:  # the unknown field's "did you mean" says it better
                report.error(error.path, error.message)
    workflow_spec = generated.workflow["spec"] if generated else _with_stand_in_parameter(spec)
    validate_workflow_spec(workflow_spec, resolver, report, metadata=metadata, own_fields=OWN_FIELDS)
    if generated is not None:
        _warn_about_the_loop(spec, generated, report)
        _warn_about_metrics(spec, generated, report)
    return report


def _misspelt_own_fields(obj: dict[str, Any], spec: dict[str, Any]) -> set[str]:
    """Paths of missing argoml fields (``spec.hyperparams``) that an unknown field nearby probably means."""
    missing = {name for name in OWN_FIELDS if name not in spec}
    present = [key for key in (*spec, *obj) if isinstance(key, str)]
    return {f"spec.{name}" for name in missing
            if difflib.get_close_matches(name, present, n=1, cutoff=0.75)}


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


def _warn_about_the_loop(spec: dict[str, Any], generated: workflow.Generated, report: Report) -> None:
    parameter = generated.workflow["metadata"]["annotations"][workflow.PARAMETER_ANNOTATION]
    reference = f"{{{{workflow.parameters.{parameter}}}}}"
    if reference not in json.dumps(spec.get("templates") or []):
        trials = "each trial" if generated.adaptive else f"the {generated.trials} trials"
        report.warning("spec.templates", f"no step or task loops over {trials}: use "
                                         f'withParam: "{reference}" and {{{{item.<hyperparameter>}}}}')


def _warn_about_metrics(spec: dict[str, Any], generated: workflow.Generated, report: Report) -> None:
    """A warning for each objective metric that no template a trial runs declares as an output parameter.

    A warning, not an error: the template may come from a templateRef or a WorkflowTemplate, which
    this check does not follow.
    """
    objective = generated.settings.objective
    if objective is None:
        return
    templates = {t.get("name"): (index, t) for index, t in enumerate(spec.get("templates") or [])
                 if isinstance(t, dict)}
    parameter = generated.space.parameter_name
    for name in workflow.loop_templates(generated.workflow["spec"], parameter):
        if name is None or name not in templates:
            report.warning("spec.templates", f"the trials run a template this spec does not define (a templateRef?): "
                                             f"cannot check that it outputs the metric {objective.metric!r}")
            continue
        index, _ = templates[name]
        declared = _outputs_below(name, templates)
        for metric in (objective.metric, *objective.additional):
            if metric not in declared:
                report.warning(f"spec.templates[{index}].outputs.parameters",
                               f"template {name!r} runs each trial but declares no output parameter {metric!r} "
                               f"(nor do the templates it calls): add {{name: {metric}, valueFrom: {{path: ...}}}} "
                               "so that the trial's result reaches its node in status.nodes")


def _outputs_below(name: str, templates: dict[Any, tuple[int, dict[str, Any]]], limit: int = 64) -> set[str]:
    """The output parameter names of template ``name`` and of every template it calls (breadth first, bounded)."""
    declared: set[str] = set()
    queue: list[str] = [name]
    seen: set[str] = set()
    while queue and len(seen) < limit:
        current = queue.pop(0)
        if current in seen or current not in templates:
            continue
        seen.add(current)
        template = templates[current][1]
        outputs = template.get("outputs")
        parameters = outputs.get("parameters") if isinstance(outputs, dict) else None
        declared |= {str(p.get("name")) for p in parameters or [] if isinstance(p, dict)}
        steps = [s for group in template.get("steps") or [] if isinstance(group, list) for s in group]
        dag = template.get("dag")
        tasks = dag.get("tasks") if isinstance(dag, dict) else None
        for step in [*steps, *(tasks if isinstance(tasks, list) else [])]:
            if isinstance(step, dict) and isinstance(step.get("template"), str):
                queue.append(step["template"])
    return declared
