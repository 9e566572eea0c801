"""HyperparamWorkflow -> Argo Workflow: the pure expansion, shared by the function, the webhook and the CLI.

:func:`generate` turns a HyperparamWorkflow into the Workflow that runs all its trials (same
namespace and name, labelled :data:`LABEL`, controlled by the HyperparamWorkflow, the trials
as one JSON list parameter). It reads nothing from the cluster, so the validate webhook can
refuse exactly the sweeps the hyperparam function could not expand, and ``argoml expand``
previews the Workflow offline. The constants here are the HyperparamWorkflow's API and the
marks a generated Workflow carries; :mod:`~argoml.hyperparam.reconcile` reads them back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoml import argo, jsontypes, kube, names
from argoml.hyperparam import search, tuning

GROUP, VERSION, PLURAL, KIND = "argoml.io", "v1alpha1", "hyperparamworkflows", "HyperparamWorkflow"
API_VERSION = f"{GROUP}/{VERSION}"
HYPERPARAM_WORKFLOWS = kube.Resource(GROUP, VERSION, PLURAL, KIND)
LABEL = "argoml.io/hyperparamworkflow"
GENERATION_ANNOTATION = "argoml.io/generation"  # the HyperparamWorkflow generation a Workflow was made from
TRIALS_ANNOTATION = "argoml.io/trials"
PARAMETER_ANNOTATION = "argoml.io/parameter"
TRIAL_LABEL = "argoml.io/trial"  # on each trial Workflow of an adaptive sweep: the trial's index
# etcd refuses objects over about 1.5 MiB, and Argo writes the status of every trial's
# node into the same object, compressing the nodes once the whole passes 1 MiB: the spec
# may use at most half of that, so the nodes have room before Argo has to compress them.
MAX_WORKFLOW_BYTES = 512 << 10


@dataclass(frozen=True)
class Generated:
    """The Workflow a HyperparamWorkflow expands to, how many trials it carries, and the settings read.

    For an adaptive sweep (``tpe``, ``cmaes``), ``workflow`` is trial 0's Workflow with a stand-in
    trial (what validation checks) and ``trials`` is 0: trials are proposed as results come in.
    """

    workflow: dict[str, Any]
    trials: int
    space: search.SearchSpace
    settings: tuning.Tuning

    @property
    def adaptive(self) -> bool:
        return self.space.algorithm in search.ADAPTIVE


def generate(sweep: Mapping[str, Any]) -> Generated:
    """The Workflow for ``sweep``; raises :class:`~argoml.hyperparam.search.InvalidSpec` naming every problem."""
    errors: list[search.SpecError] = []
    given = sweep.get("metadata")
    metadata: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    name = metadata.get("name")
    if not names.is_dns_label(name):
        # Argo names pods after the Workflow, and the name is the value of LABEL: both need <= 63.
        errors.append(search.SpecError("metadata.name", f"{name!r} cannot name the Workflow: it must be a DNS label "
                                       "(at most 63 lowercase letters, digits and '-')"))
    spec = sweep.get("spec")
    space = search.read(spec, errors)
    settings = tuning.read(spec, space, errors) if isinstance(spec, Mapping) else None
    if space is not None and space.algorithm in search.ADAPTIVE and isinstance(name, str) and names.is_dns_label(name) \
            and \
            not names.is_dns_label(last := trial_workflow_name(name, space.max_trials - 1)):
        errors.append(search.SpecError("metadata.name", f"{name!r} is too long for an adaptive sweep of "
                                       f"{space.max_trials} trials: its trials' Workflows are named <name>-<index>, "
                                       f"and {last!r} is longer than 63 characters"))
    if errors or space is None or settings is None or not isinstance(spec, Mapping) or not isinstance(name, str):
        raise search.InvalidSpec(errors)
    if space.algorithm in search.ADAPTIVE:
        workflow, count = trial_workflow(sweep, space, 0, _stand_in(space)), 0
    else:
        trials = space.trials(max_bytes=MAX_WORKFLOW_BYTES)  # stops as soon as they cannot fit
        workflow, count = _workflow(sweep, space, trials, name), len(trials)
    size = len(json.dumps(workflow, separators=(",", ":")))
    if size > MAX_WORKFLOW_BYTES:
        raise search.InvalidSpec([search.SpecError(
            "spec.hyperparams", f"the generated Workflow would be {size:,} bytes with {count:,} trials, more "
            f"than the {MAX_WORKFLOW_BYTES:,} bytes that are safe to store (Argo compresses a Workflow's nodes past "
            "1 MiB and etcd's limit is about 1.5 MiB: the status of every trial needs room): use fewer or shorter "
            "values, or algorithm: random with a smaller maxTrials")])
    return Generated(workflow, count, space, settings)


def trial_workflow_name(sweep_name: str, index: int) -> str:
    """An adaptive sweep's trial ``index`` runs as the Workflow ``<sweep>-<index>``."""
    return f"{sweep_name}-{index}"


def trial_workflow(sweep: Mapping[str, Any], space: search.SearchSpace, index: int,
                   trial: search.Trial) -> dict[str, Any]:
    """The Workflow of trial ``index`` of an adaptive sweep: its trials parameter is ``[trial]``."""
    name = sweep["metadata"]["name"]
    workflow = _workflow(sweep, space, [trial], trial_workflow_name(name, index))
    workflow["metadata"]["labels"][TRIAL_LABEL] = str(index)
    return workflow


def _workflow(sweep: Mapping[str, Any], space: search.SearchSpace, trials: list[search.Trial],
              workflow_name: str) -> dict[str, Any]:
    metadata, spec = sweep["metadata"], sweep["spec"]
    name = metadata["name"]
    workflow_spec = {key: value for key, value in spec.items() if key not in search.SEARCH_FIELDS}
    arguments = dict(workflow_spec.get("arguments") or {})
    arguments["parameters"] = [*(arguments.get("parameters") or []),
                               {"name": space.parameter_name, "value": json.dumps(trials, separators=(",", ":"))}]
    workflow_spec["arguments"] = arguments
    workflow_metadata: dict[str, Any] = {
        "name": workflow_name,
        "labels": {LABEL: name},
        "annotations": {GENERATION_ANNOTATION: str(metadata.get("generation", 1)),
                        TRIALS_ANNOTATION: str(len(trials)), PARAMETER_ANNOTATION: space.parameter_name},
    }
    if metadata.get("namespace"):
        workflow_metadata["namespace"] = metadata["namespace"]
    if metadata.get("uid"):
        workflow_metadata["ownerReferences"] = [kube.owner_reference(HYPERPARAM_WORKFLOWS, name, metadata["uid"],
                                                                     controller=True)]
    return {"apiVersion": argo.WORKFLOWS.api_version, "kind": argo.WORKFLOWS.kind,
            "metadata": workflow_metadata, "spec": workflow_spec}


def _stand_in(space: search.SearchSpace) -> search.Trial:
    """A trial of ``space`` to check an adaptive sweep's Workflow with: each axis's first point."""
    return {axis.name: axis.low if isinstance(axis, search.Interval) else axis.values[0] for axis in space.axes}


def trial_loops(spec: Mapping[str, Any], parameter: str) -> set[str]:
    """The names of the steps and DAG tasks of ``spec`` that loop over the trials parameter ``parameter``.

    Argo names the nodes it expands from them ``<step>(<index>:<item>)``: those nodes are the trials.
    """
    return {str(step.get("name", "")) for step, _ in _loop_steps(spec, parameter)}


def loop_templates(spec: Mapping[str, Any], parameter: str) -> list[str | None]:
    """For each step or task looping over the trials, the template it runs (None for a ``templateRef``)."""
    return [step.get("template") if isinstance(step.get("template"), str) else None
            for step, _ in _loop_steps(spec, parameter)]


def _loop_steps(spec: Mapping[str, Any], parameter: str) -> list[tuple[Mapping[str, Any], int]]:
    reads = re.compile(rf"workflow\.parameters\.{re.escape(parameter)}(?![\w-])")
    found = []
    for index, template in enumerate(_list(spec.get("templates"))):
        if not isinstance(template, Mapping):
            continue
        steps = [step for group in _list(template.get("steps")) for step in _list(group)]
        dag = template.get("dag")
        tasks = _list(dag.get("tasks")) if isinstance(dag, Mapping) else []
        for step in [*steps, *tasks]:
            if isinstance(step, Mapping) and isinstance(step.get("withParam"), str) and reads.search(step["withParam"]):
                found.append((step, index))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def trials_of(workflow: Mapping[str, Any], parameter: str) -> list[dict[str, Any]]:
    """The trials a generated Workflow runs (its trials parameter); [] when unreadable."""
    spec = jsontypes.mapping(workflow.get("spec"))
    arguments = jsontypes.mapping(spec.get("arguments"))
    for argument in _list(arguments.get("parameters")):
        if isinstance(argument, Mapping) and argument.get("name") == parameter:
            try:
                value = json.loads(argument.get("value") or "[]")
            except (TypeError, ValueError, RecursionError):
                return []
            if isinstance(value, list):
                return [{k: v for k, v in trial.items() if isinstance(v, str | int | float | bool)}
                        if isinstance(trial, dict) else {} for trial in value]
    return []

