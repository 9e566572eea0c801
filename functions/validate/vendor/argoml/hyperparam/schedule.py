"""The asynchronous schedule of an adaptive sweep (``tpe``, ``cmaes``): one Workflow per trial.

At the start the optimizer proposes ``parallelTrials`` trials; each runs as its own Workflow
``<name>-<index>``. As each one finishes, its result is recorded in the history and the next
trial is proposed, so that ``parallelTrials`` keep running (one slow trial never leaves the
other GPUs idle), until ``maxTrials``, the ``target``, ``maxFailedTrials`` or an exhausted
discrete space ends the sweep. This module decides (pure: no API calls); the reconcile in
:mod:`argoml.hyperparam.reconcile` reads the sweep and its trial Workflows, asks :func:`plan`,
creates and stops Workflows as planned, and writes :func:`status`.

What a history entry becomes (docs/hyperparam.md): a trial whose Workflow is gone before it
finished failed (it is never re-created: the optimizer has already accounted for it); a
Workflow of the sweep that the history lacks (created by an event whose status write was then
lost) is adopted with the hyperparameters it runs; a finished entry never changes again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from argoml import argo
from argoml.hyperparam import adaptive, results, search, trials, tuning
from argoml.hyperparam.workflow import TRIAL_LABEL, trial_workflow_name


@dataclass
class Plan:
    """What to do for an adaptive sweep now."""

    records: list[trials.Record]  # the history, proposals included (as Pending)
    proposals: list[trials.Record] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)  # running trial Workflows to stop (spec.shutdown: Stop)
    stop_reason: str | None = None
    complete_reason: str | None = None  # set once nothing runs and nothing more will


def plan(name: str, space: search.SearchSpace, settings: tuning.Tuning, previous: Sequence[trials.Record],
         owned: Mapping[int, Mapping[str, Any]], loops: Sequence[str] | None, parameter: str) -> Plan:
    """The history brought up to date with the trial Workflows ``owned`` (by index), and what to do next."""
    objective = settings.objective
    metrics = results.Metrics(objective.metric if objective else None, objective.additional if objective else ())
    recorded = {record.trial: record for record in previous}
    result_at = len(recorded)
    for index, workflow in sorted(owned.items()):
        if index not in recorded:
            recorded[index] = trials.Record(index, _trial_of(workflow, parameter), results.PENDING,
                                            trial_workflow_name(name, index))
    for index in range(max(recorded, default=-1) + 1):
        if index not in recorded:  # a Workflow created, never recorded, then deleted: nothing is known of it
            recorded[index] = trials.Record(index, {}, results.FAILED, trial_workflow_name(name, index),
                                            reason="its Workflow was deleted before the trial was recorded",
                                            result_at=result_at)
    records = []
    for index in sorted(recorded):
        record = recorded[index]
        if not record.finished:
            record = _refresh(record, owned.get(index), loops, metrics, result_at)
        records.append(record)
    summary = trials.summarize(records, objective.goal if objective else None)
    decided = Plan(records)
    decided.stop_reason = trials.stop_reason(summary, settings)
    history = [adaptive.Past(r.trial, r.hyperparams, r.finished, r.value if r.state == results.SUCCEEDED else None,
                             r.result_at if r.result_at is not None else len(records)) for r in records]
    wanted = 0
    if decided.stop_reason is None:
        wanted = min(settings.parallel_trials - summary.running, space.max_trials - len(records))
    if wanted > 0 and objective is not None:
        proposed = adaptive.propose(space, objective.goal, history, wanted)
        decided.proposals = [trials.Record(len(records) + offset, trial, results.PENDING,
                                           trial_workflow_name(name, len(records) + offset))
                             for offset, trial in enumerate(proposed)]
        records.extend(decided.proposals)
    running = [r for r in records if not r.finished]
    if decided.stop_reason is not None:
        decided.stop = [r.workflow for r in running if r.trial in owned]
        if not running:
            decided.complete_reason = decided.stop_reason
    elif not running:
        if len(records) >= space.max_trials:
            decided.complete_reason = trials.MAX_TRIALS
        elif adaptive.exhausted(space, history) or wanted > len(decided.proposals):
            decided.complete_reason = trials.EXHAUSTED
    return decided


def _refresh(record: trials.Record, workflow: Mapping[str, Any] | None, loops: Sequence[str] | None,
             metrics: results.Metrics, result_at: int) -> trials.Record:
    if workflow is None:
        return record.failed(f"its Workflow {record.workflow} was deleted before the trial finished", result_at)
    found = results.read(workflow, loops, metrics)
    phase = _phase(workflow)
    if 0 in found.trials:
        result = found.trials[0]
        if result.finished or phase not in argo.FINISHED_PHASES:
            return record.with_result(result, result_at)
        return record.failed(f"the Workflow {phase.lower()} before the trial's node finished", result_at)
    if phase == argo.WorkflowPhase.SUCCEEDED:
        reason = found.reason or "the Workflow succeeded without a trial node (a step looping over the trials)"
        return trials.Record(record.trial, record.hyperparams, results.SUCCEEDED, record.workflow,
                             reason=reason[:tuning.MAX_REASON], result_at=result_at)
    if phase in argo.FAILED_PHASES:
        message = ((workflow.get("status") or {}).get("message") or "") if isinstance(workflow.get("status"),
                                                                                       Mapping) else ""
        return record.failed(f"the Workflow {phase.lower()}" + (f": {message}" if isinstance(message, str)
                                                                and message else ""), result_at)
    return trials.Record(record.trial, record.hyperparams, results.RUNNING if phase == argo.WorkflowPhase.RUNNING else
                         results.PENDING, record.workflow)


def status(decided: Plan, settings: tuning.Tuning, max_trials: int) -> dict[str, Any]:
    """The status fields of an adaptive sweep (phase, message, counts, best trial, history)."""
    objective = settings.objective
    summary = trials.summarize(decided.records, objective.goal if objective else None)
    fields: dict[str, Any] = {"trials": len(decided.records), **summary.as_status(),
                              "history": [record.as_status() for record in decided.records]}
    best = summary.best
    best_text = (f"; best: trial {best.trial}, {objective.metric} = {best.value:g}"
                 if best is not None and objective is not None and best.value is not None else "")
    counts = (f"{len(decided.records)} of {max_trials} trials: {summary.succeeded} succeeded, {summary.failed} "
              f"failed, {summary.running} running")
    if decided.complete_reason is not None:
        failed = decided.complete_reason == trials.MAX_FAILED or best is None
        fields["phase"] = "Failed" if failed else "Succeeded"
        why = {trials.GOAL_REACHED: "the target was reached", trials.MAX_TRIALS: "maxTrials reached",
               trials.EXHAUSTED: "the search space is exhausted",
               trials.MAX_FAILED: "too many trials failed"}[decided.complete_reason]
        if best is None and decided.complete_reason != trials.MAX_FAILED:
            why += "; no trial reported a value"
        fields["message"] = f"sweep {fields['phase'].lower()} ({why}): {counts}{best_text}"
    else:
        fields["phase"] = "Running" if decided.records else "Pending"
        fields["message"] = f"sweep running: {counts}{best_text}"
        if decided.stop_reason is not None:
            fields["message"] += (f"; stopping ({trials.stop_message(decided.stop_reason, summary, settings)}): "
                                  "waiting for the running trials to stop")
    return fields


def owned_index(workflow: Mapping[str, Any], sweep_name: str) -> int | None:
    """The trial index of a Workflow of the sweep: its label, which must match its name."""
    labels = (workflow.get("metadata") or {}).get("labels") or {}
    text = labels.get(TRIAL_LABEL) if isinstance(labels, Mapping) else None
    if not isinstance(text, str) or not text.isdigit() or len(text) > 6:
        return None
    index = int(text)
    return index if workflow["metadata"].get("name") == trial_workflow_name(sweep_name, index) else None


def _trial_of(workflow: Mapping[str, Any], parameter: str) -> dict[str, Any]:
    """The one trial a trial Workflow runs (its trials parameter), or {} if unreadable."""
    arguments = (workflow.get("spec") or {}).get("arguments") or {}
    for argument in arguments.get("parameters") or [] if isinstance(arguments, Mapping) else []:
        if isinstance(argument, Mapping) and argument.get("name") == parameter:
            try:
                value = json.loads(argument.get("value") or "[]")
            except (TypeError, ValueError, RecursionError):
                return {}
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return value[0]
    return {}


def _phase(workflow: Mapping[str, Any]) -> str:
    status = workflow.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase if isinstance(phase, str) else ""
