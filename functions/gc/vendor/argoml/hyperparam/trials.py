"""A sweep's trial history and what its status says about it: counts, the best trial, when to stop.

The history is a list in the HyperparamWorkflow's status, one entry per trial::

    {trial: 3, hyperparams: {...}, state: Succeeded, value: 0.93, metrics: {loss: 0.2},
     workflow: sweep-3, reason: "...", resultAt: 5}

``trial`` is the trial's index, ``state`` Pending | Running | Succeeded | Failed, ``value`` the
objective's value (absent when the trial has none, with the ``reason``), ``resultAt`` the
number of trials proposed when the result was recorded (the adaptive optimizer replays the
history in that order). It is read back from the status on every event, so it is parsed like
any input a user could have written: entries that are not of this shape are dropped.
``status.bestTrial`` is ``{trial, hyperparams, value, metrics, workflow}``; the TensorBoard
function reads both to write HParams summaries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from argoml.hyperparam import results, tuning

STATES = (results.PENDING, results.RUNNING, results.SUCCEEDED, results.FAILED)
# Why a sweep completed: the reasons of its Complete condition.
GOAL_REACHED, MAX_TRIALS, EXHAUSTED, MAX_FAILED = ("GoalReached", "MaxTrialsReached", "SearchSpaceExhausted",
                                                   "MaxFailedTrialsReached")


@dataclass(frozen=True)
class Record:
    """One trial of the history."""

    trial: int
    hyperparams: Mapping[str, Any]
    state: str
    workflow: str
    value: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    result_at: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in (results.SUCCEEDED, results.FAILED)

    def with_result(self, result: results.TrialResult, result_at: int) -> Record:
        if not result.finished:
            return replace(self, state=result.state)
        return replace(self, state=result.state, value=result.value, metrics=dict(result.metrics),
                       reason=_clip(result.reason), result_at=result_at)

    def failed(self, reason: str, result_at: int) -> Record:
        return replace(self, state=results.FAILED, value=None, reason=_clip(reason), result_at=result_at)

    def as_status(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"trial": self.trial, "hyperparams": dict(self.hyperparams), "state": self.state,
                                 "workflow": self.workflow}
        if self.value is not None:
            entry["value"] = self.value
        if self.metrics:
            entry["metrics"] = dict(self.metrics)
        if self.reason:
            entry["reason"] = self.reason
        if self.result_at is not None:
            entry["resultAt"] = self.result_at
        return entry


def of_workflow(workflow: str, planned: list[dict[str, Any]], found: results.Results) -> list[Record]:
    """The history of a sweep run in one Workflow: each planned trial with what its nodes say (Pending if nothing)."""
    return [replace(Record(index, trial, results.PENDING, workflow).with_result(
        found.trials.get(index, results.TrialResult(index, results.PENDING)), 0), result_at=None)
        for index, trial in enumerate(planned)]


def parse_history(value: Any) -> list[Record]:
    """The history a status holds, skipping what is not an entry; sorted by trial, one entry per trial."""
    records: dict[int, Record] = {}
    for entry in value if isinstance(value, list) else []:
        record = _record(entry)
        if record is not None and record.trial not in records:
            records[record.trial] = record
    return [records[index] for index in sorted(records)]


def _record(entry: Any) -> Record | None:
    if not isinstance(entry, Mapping):
        return None
    trial, hyperparams, state = entry.get("trial"), entry.get("hyperparams"), entry.get("state")
    workflow, value, metrics = entry.get("workflow"), entry.get("value"), entry.get("metrics")
    result_at = entry.get("resultAt")
    if not (isinstance(trial, int) and _count(trial) and isinstance(hyperparams, Mapping) and state in STATES
            and isinstance(workflow, str)):
        return None
    reason = entry.get("reason")
    return Record(trial, {k: v for k, v in hyperparams.items() if isinstance(v, str | int | float | bool)}, state,
                  workflow, value=value if _finite(value) else None,
                  metrics={k: v for k, v in metrics.items() if isinstance(k, str) and _finite(v)}
                  if isinstance(metrics, Mapping) else {},
                  reason=_clip(reason) if isinstance(reason, str) else None,
                  result_at=result_at if _count(result_at) else None)


@dataclass(frozen=True)
class Summary:
    """The status fields a history gives: counts and the best trial."""

    succeeded: int
    failed: int
    without_value: int
    running: int
    best: Record | None

    def as_status(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"trialsSucceeded": self.succeeded, "trialsFailed": self.failed,
                                  "trialsWithoutValue": self.without_value, "trialsRunning": self.running}
        if self.best is not None:
            fields["bestTrial"] = {"trial": self.best.trial, "hyperparams": dict(self.best.hyperparams),
                                   "value": self.best.value, "metrics": dict(self.best.metrics),
                                   "workflow": self.best.workflow}
        return fields


def summarize(records: Iterable[Record], goal: str | None) -> Summary:
    """Counts and the best trial (the first to reach the best value: ties keep the earlier trial)."""
    succeeded = failed = without_value = running = 0
    best: Record | None = None
    for record in records:
        if record.state == results.SUCCEEDED:
            succeeded += 1
            if record.value is None:
                without_value += 1
            elif goal is not None and results.better(goal, record.value, best.value if best else None):
                best = record
        elif record.state == results.FAILED:
            failed += 1
        else:
            running += 1
    return Summary(succeeded, failed, without_value, running, best)


def stop_reason(summary: Summary, settings: tuning.Tuning | None) -> str | None:
    """Why the sweep must stop now (the target reached, too many failures), or None."""
    if settings is None:
        return None
    objective = settings.objective
    if (objective is not None and objective.target is not None and summary.best is not None
            and summary.best.value is not None and results.reaches(objective.goal, summary.best.value,
                                                                    objective.target)):
        return GOAL_REACHED
    if settings.max_failed_trials is not None and summary.failed > settings.max_failed_trials:
        return MAX_FAILED
    return None


def stop_message(reason: str, summary: Summary, settings: tuning.Tuning) -> str:
    if reason == GOAL_REACHED and summary.best is not None and settings.objective is not None:
        sign = ">=" if settings.objective.goal == "maximize" else "<="
        return (f"trial {summary.best.trial} reached the target: {settings.objective.metric} = {summary.best.value:g} "
                f"{sign} {settings.objective.target:g}")
    return f"{summary.failed} trials failed, more than maxFailedTrials ({settings.max_failed_trials})"


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) < 2**63 if isinstance(value, int) else math.isfinite(value)


def _clip(reason: str | None) -> str | None:
    if reason is None or len(reason) <= tuning.MAX_REASON:
        return reason
    return reason[:tuning.MAX_REASON - 3] + "..."
