"""A sweep's trials as a table, best first: what ``argoml results`` prints.

The rows come from where the trials are recorded: a HyperparamWorkflow's ``status.history``
(adaptive sweeps always keep it; the others when it fits), or else its Workflow's
``status.nodes``, read by :mod:`argoml.hyperparam.results` as the function reads them. So
nobody reads status JSON by hand to learn which trial won.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from argoml.hyperparam import results, search, trials, tuning
from argoml.hyperparam.workflow import KIND, PARAMETER_ANNOTATION, trial_loops, trials_of


def records_of(obj: Mapping[str, Any], objective: tuning.Objective | None) -> list[trials.Record]:
    """The trials of a HyperparamWorkflow (its history) or of a Workflow it generated (its nodes)."""
    status = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    if obj.get("kind") == KIND:
        return trials.parse_history((status or {}).get("history"))
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    annotations = (metadata or {}).get("annotations") or {}
    parameter = str(annotations.get(PARAMETER_ANNOTATION, search.DEFAULT_PARAMETER))
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    metrics = results.Metrics(objective.metric if objective else None, objective.additional if objective else ())
    found = results.read(obj, sorted(trial_loops(spec or {}, parameter)) or None, metrics)
    if not found.known:
        raise ValueError(found.reason)
    return trials.of_workflow(str((metadata or {}).get("name", "")), trials_of(obj, parameter), found)


def render(records: Sequence[trials.Record], objective: tuning.Objective | None) -> str:
    """A fixed-width table: rank, trial, state, value, the additional metrics, hyperparameters, reason."""
    goal = objective.goal if objective else "maximize"
    ranked = sorted(records, key=lambda r: _rank(r, goal))
    hyperparams = sorted({name for record in records for name in record.hyperparams})
    extra = list(objective.additional) if objective else []
    header = ["#", "trial", "state", objective.metric if objective else "value", *extra, *hyperparams, "workflow",
              "reason"]
    rows = [header]
    for position, record in enumerate(ranked, start=1):
        best = record.value is not None and position == 1
        rows.append([str(position) + ("*" if best else ""), str(record.trial), record.state, _number(record.value),
                     *(_number(record.metrics.get(name)) for name in extra),
                     *(_text(record.hyperparams.get(name)) for name in hyperparams), record.workflow,
                     record.reason or ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _rank(record: trials.Record, goal: str) -> tuple[int, float, int]:
    if record.value is None:
        return 1, 0.0, record.trial
    return 0, -record.value if goal == "maximize" else record.value, record.trial


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).lower() if isinstance(value, bool) else str(value)
