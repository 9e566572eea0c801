"""A sweep's TensorBoard: every trial of a HyperparamWorkflow as a run, with its HParams.

``PUT /tensorboards/<ns>/<name>`` names a sweep when ``<name>`` is a HyperparamWorkflow or a
Workflow it generated (labelled ``argoml.io/hyperparamworkflow`` and controlled by it). Its
trials are the Workflows it controls: for ``grid``, ``random`` and ``sobol`` the one Workflow
``<name>``, whose loop over the trials parameter Argo expands into nodes named
``<step>(<index>:...)`` (a node's trial is the first such index in its full name, so the steps
nested under a trial belong to it); for the adaptive algorithms one Workflow per trial, labelled
``argoml.io/trial: <index>``. Every ``tensorboard`` artifact of a trial is one run, named by the
trial's index and hyperparameters.

A trial's hyperparameters and metric values come from the sweep's status (``status.history``:
``trial``, ``hyperparams``, ``value`` of ``spec.objective.metric`` and ``metrics`` of the
``additionalMetrics``); a sweep without that history (no objective) still has its trials'
hyperparameters in its Workflows' trials parameter. The status and the Workflows are written by
users as much as by the function, so anything malformed is skipped, never trusted.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from argoml import argo, jsontypes, kube
from argoml.hyperparam import workflow as hyperparam
from argoml.kube import Obj
from argoml.tensorboard import artifacts
from argoml.tensorboard.fetch import HParams, Session

SWEEPS = hyperparam.HYPERPARAM_WORKFLOWS
SWEEP_LABEL = hyperparam.LABEL
TRIAL_LABEL = hyperparam.TRIAL_LABEL
PARAMETER_ANNOTATION = hyperparam.PARAMETER_ANNOTATION
DEFAULT_PARAMETER = "hyperparams"


@dataclass(frozen=True)
class SweepRuns:
    """What a sweep's instance shows: each run's artifact with the Workflow it is in, and the HParams."""

    sweep: Obj
    found: tuple[tuple[Obj, artifacts.NodeArtifact], ...]
    hparams: HParams
    skipped: tuple[str, ...] = ()  # artifacts left out (malformed nodes), each with why


def sweep_of(namespace: str, name: str, workflow: Obj | None) -> Obj | None:
    """The HyperparamWorkflow that ``name`` refers to: itself, or the sweep that generated Workflow ``name``."""
    sweep_name = name
    if workflow is not None:
        label = ((workflow.get("metadata") or {}).get("labels") or {}).get(SWEEP_LABEL)
        if not isinstance(label, str) or not label:
            return None
        sweep_name = label
    sweep = kube.get_or_none(SWEEPS, namespace, sweep_name)
    if sweep is None or (workflow is not None and not _controls(sweep, workflow)):
        return None
    return sweep


def trial_workflows(sweep: Obj) -> list[Obj]:
    """The Workflows the sweep controls (a label alone could be put on any Workflow), by name."""
    metadata = sweep["metadata"]
    if len(metadata["name"]) > 63:  # no label value can name it, so no Workflow is labelled with it
        return []
    listed = [workflow for page in kube.list_pages(argo.WORKFLOWS, metadata["namespace"],
                                                   label_selector=f"{SWEEP_LABEL}={metadata['name']}")
              for workflow in page if _controls(sweep, workflow)]
    return sorted(listed, key=lambda w: w["metadata"]["name"])


def runs(sweep: Obj, workflows: Iterable[Obj], artifact_name: str) -> SweepRuns:
    """Every trial's ``artifact_name`` artifacts as runs named by trial, and each run's HParams session."""
    objective = jsontypes.mapping(jsontypes.mapping(sweep.get("spec")).get("objective"))
    metric = objective.get("metric") if isinstance(objective.get("metric"), str) else None
    listed_metrics = objective.get("additionalMetrics")
    additional = [m for m in listed_metrics if isinstance(m, str)] if isinstance(listed_metrics, list) else []
    metric_names = tuple(dict.fromkeys([m for m in [metric, *additional] if m]))
    recorded = _history(sweep, metric)
    found: list[tuple[Obj, artifacts.NodeArtifact]] = []
    skipped: list[str] = []
    sessions: dict[str, Session] = {}
    used: set[str] = set()
    for workflow in workflows:
        listed = _trials_parameter(workflow)
        own_index = _int(jsontypes.mapping(workflow["metadata"].get("labels")).get(TRIAL_LABEL))
        per_trial: dict[int | None, list[artifacts.NodeArtifact]] = {}
        scanned = artifacts.scan(workflow, artifact_name)
        skipped += [f"workflow {workflow['metadata']['name']}: {reason}" for reason in scanned.skipped]
        for node_artifact in scanned.found:
            index = own_index if own_index is not None else _loop_index(node_artifact.node_name)
            per_trial.setdefault(index, []).append(node_artifact)
        for index, produced in sorted(per_trial.items(), key=lambda item: (item[0] is None, item[0] or 0)):
            session = recorded.get(index) if index is not None else None
            if session is None and index is not None:
                hyperparams = listed.get(0 if own_index is not None else index)
                session = Session(index, hyperparams, {}) if hyperparams is not None else None
            for node_artifact in produced:
                step = node_artifact.run if len(produced) > 1 or session is None else ""
                run = artifacts.unique_name(_run_name(index, session, step), used)
                found.append((workflow, dataclasses.replace(node_artifact, run=run)))
                if session is not None:
                    sessions[run] = session
    return SweepRuns(sweep, tuple(found), HParams(metric_names, sessions), tuple(skipped))


def _controls(sweep: Obj, workflow: Obj) -> bool:
    reference = kube.controller_reference(workflow, SWEEPS)
    return reference is not None and reference.get("uid") == sweep["metadata"].get("uid")


def _history(sweep: Obj, metric: str | None) -> dict[int, Session]:
    """Each trial's hyperparameters and metric values from ``status.history``."""
    sessions: dict[int, Session] = {}
    history = jsontypes.mapping(sweep.get("status")).get("history")
    for entry in history if isinstance(history, list) else []:
        if not isinstance(entry, Mapping):
            continue
        index = _int(entry.get("trial", entry.get("index")))
        hyperparams = _hyperparams(entry.get("hyperparams"))
        if index is None or hyperparams is None or index in sessions:
            continue
        values = {str(k): v for k, v in jsontypes.mapping(entry.get("metrics")).items()}
        if metric:
            values[metric] = entry.get("value")
        metrics = {k: float(v) for k, v in values.items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
        sessions[index] = Session(index, hyperparams, metrics)
    return sessions


def _trials_parameter(workflow: Obj) -> dict[int, Mapping[str, str | float | bool]]:
    """The trials list a generated Workflow carries in its trials parameter, by position."""
    name = jsontypes.mapping(workflow["metadata"].get("annotations")).get(PARAMETER_ANNOTATION) or DEFAULT_PARAMETER
    parameters = jsontypes.mapping(jsontypes.mapping(workflow.get("spec")).get("arguments")).get("parameters")
    text = next((p.get("value") for p in parameters if isinstance(p, Mapping) and p.get("name") == name),
                None) if isinstance(parameters, list) else None
    try:
        trials = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(trials, list):
        return {}
    return {i: hyperparams for i, trial in enumerate(trials) if (hyperparams := _hyperparams(trial)) is not None}



def _hyperparams(value: Any) -> dict[str, str | float | bool] | None:
    if not isinstance(value, Mapping):
        return None
    kept: dict[str, str | float | bool] = {}
    for key, item in value.items():
        if isinstance(item, bool | str) or (isinstance(item, int | float) and math.isfinite(item)):
            kept[str(key)] = item
        else:
            kept[str(key)] = json.dumps(item)
    return kept


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


def _loop_index(node_name: str) -> int | None:
    iteration = argo.loop_iteration(node_name)
    return iteration[1] if iteration else None


def _run_name(index: int | None, session: Session | None, step: str) -> str:
    """``trial-3(lr=0.1,model=SVM)``; a step's name is added when a trial has several logs."""
    if index is None:
        return step or "run"
    name = f"trial-{index}" + (f"-{step}" if step else "")
    if session is not None and session.hyperparams:
        shown = ",".join(f"{k}={_shown(v)}" for k, v in sorted(session.hyperparams.items()))
        name += f"({shown})"
    return artifacts.safe_run_name(name)


def _shown(value: str | float | bool) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)
