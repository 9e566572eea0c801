"""A sweep's tuning settings: the objective, how many trials run at once, when to give up.

These fields sit beside the search space in a HyperparamWorkflow's spec
(``objective``, ``parallelTrials``, ``maxFailedTrials``). Like the search space they are
read by the hyperparam function and by the validate webhook with this one code, every
problem reported at its field path. They also bound what the sweep may keep in its
status: adaptive algorithms keep every trial there (the functions scale to zero, so the
status is the optimizer's memory), and a spec whose history could not fit is refused
here, before anything runs. Nothing in this module needs Optuna.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoml.hyperparam import search

GOALS = ("maximize", "minimize")
OBJECTIVE_FIELDS = ("metric", "goal", "target", "additionalMetrics")
MAX_ADDITIONAL_METRICS = 10
# Adaptive sweeps keep each trial in the status; this bounds how many (the optimizer reads them all per proposal).
MAX_ADAPTIVE_TRIALS = 1000
DEFAULT_PARALLEL_TRIALS = 3
# The history may use this much of the HyperparamWorkflow (etcd refuses objects over about 1.5 MiB).
MAX_HISTORY_BYTES = 512 << 10
# A history entry without its hyperparameters and metrics: keys, state, value, workflow name, a clipped reason.
ENTRY_BYTES = 360
MAX_REASON = 160
# A number's longest JSON form ('-1.2345678901234567e-308'); lazy ranges are sized by it.
NUMBER_BYTES = 24


@dataclass(frozen=True)
class Objective:
    metric: str
    goal: str
    target: float | None = None
    additional: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tuning:
    """The tuning part of a spec; ``objective`` None for a sweep that only expands its space."""

    objective: Objective | None
    parallel_trials: int
    max_failed_trials: int | None
    entry_bytes: int  # the most one trial's history entry can take

    @property
    def history_limit(self) -> int:
        """How many history entries fit in :data:`MAX_HISTORY_BYTES`."""
        return MAX_HISTORY_BYTES // self.entry_bytes


def read(spec: Mapping[str, Any], space: search.SearchSpace | None, errors: list[search.SpecError],
         path: str = "spec") -> Tuning | None:
    """The tuning fields of ``spec`` (whose search space is ``space``, None if invalid); append problems."""
    before = len(errors)
    algorithm = spec.get("algorithm", search.DEFAULT_ALGORITHM)
    adaptive = algorithm in search.ADAPTIVE
    objective = _objective(spec.get("objective"), errors, f"{path}.objective") if "objective" in spec else None
    if adaptive and "objective" not in spec:
        errors.append(search.SpecError(f"{path}.objective", f"required with algorithm: {algorithm} (the metric to "
                                                            "optimise and its goal)"))
    max_trials = space.max_trials if space is not None else None
    parallel = _parallel_trials(spec, adaptive, max_trials, errors, path)
    max_failed = spec.get("maxFailedTrials")
    if max_failed is not None and (not _integral(max_failed) or max_failed < 0):
        errors.append(search.SpecError(f"{path}.maxFailedTrials", f"expected an integer >= 0, got {_show(max_failed)}"))
    if adaptive and max_trials is not None and max_trials > MAX_ADAPTIVE_TRIALS:
        errors.append(search.SpecError(f"{path}.maxTrials", f"{max_trials:,} is more than the {MAX_ADAPTIVE_TRIALS:,} "
                                       f"trials an adaptive sweep ({algorithm}) keeps in its status"))
    if len(errors) > before or space is None:
        return None
    entry = ENTRY_BYTES + trial_bytes(space) + sum(len(m) + NUMBER_BYTES + 4 for m in
                                                   (objective.additional if objective else ()))
    tuning = Tuning(objective, parallel, int(max_failed) if max_failed is not None else None, entry)
    if adaptive and space.max_trials > tuning.history_limit:
        errors.append(search.SpecError(f"{path}.maxTrials", f"{space.max_trials:,} trials of up to {entry:,} bytes "
                                       f"each would not fit the {MAX_HISTORY_BYTES >> 10} KiB the sweep's status may "
                                       f"use for its history: at most {tuning.history_limit:,} with these values"))
        return None
    return tuning


def trial_bytes(space: search.SearchSpace) -> int:
    """The most one trial's JSON object can take, computed without building any trial."""
    total = 2
    for axis in space.axes:
        total += len(json.dumps(axis.name)) + 2
        if isinstance(axis, search.Points) and isinstance(axis.values, tuple):
            total += max(len(json.dumps(value)) for value in axis.values)
        else:
            total += NUMBER_BYTES
    return total


def _objective(value: Any, errors: list[search.SpecError], path: str) -> Objective | None:
    if not isinstance(value, Mapping):
        errors.append(search.SpecError(path, f"expected an object with metric and goal, got {_show(value)}"))
        return None
    before = len(errors)
    errors += [search.SpecError(f"{path}.{key}", f"unknown field: expected {', '.join(OBJECTIVE_FIELDS)}")
               for key in sorted(set(value) - set(OBJECTIVE_FIELDS), key=str)]
    metric = value.get("metric")
    if metric is None:
        errors.append(search.SpecError(f"{path}.metric", "required: the output parameter each trial reports"))
    elif not isinstance(metric, str) or not search.is_parameter_name(metric):
        errors.append(search.SpecError(f"{path}.metric", f"{_show(metric)} is not a valid parameter name (1-128 "
                                                         "letters, digits, '-' and '_'): trials report it as an "
                                                         "output parameter"))
    goal = value.get("goal")
    if goal not in GOALS:
        errors.append(search.SpecError(f"{path}.goal", "required: maximize or minimize" if goal is None else
                                       f"unknown goal {_show(goal)}: expected maximize or minimize"))
    target = value.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)
                               or not math.isfinite(target)):
        errors.append(search.SpecError(f"{path}.target", f"expected a number, got {_show(target)}"))
    additional = value.get("additionalMetrics") or []
    if not isinstance(additional, list):
        errors.append(search.SpecError(f"{path}.additionalMetrics", f"expected a list of output parameter names, "
                                                                    f"got {_show(additional)}"))
        additional = []
    if len(additional) > MAX_ADDITIONAL_METRICS:
        errors.append(search.SpecError(f"{path}.additionalMetrics", f"at most {MAX_ADDITIONAL_METRICS} metrics, got "
                                                                    f"{len(additional)}"))
    seen = {metric}
    for index, name in enumerate(additional[:MAX_ADDITIONAL_METRICS]):
        if not isinstance(name, str) or not search.is_parameter_name(name):
            errors.append(search.SpecError(f"{path}.additionalMetrics[{index}]", f"{_show(name)} is not a valid "
                                                                                 "parameter name"))
        elif name in seen:
            errors.append(search.SpecError(f"{path}.additionalMetrics[{index}]", f"{name!r} is listed twice (or is "
                                                                                 "the objective's metric)"))
        seen.add(name)
    if len(errors) > before or not isinstance(metric, str) or not isinstance(goal, str):
        return None
    return Objective(metric, goal, float(target) if target is not None else None, tuple(additional))


def _parallel_trials(spec: Mapping[str, Any], adaptive: bool, max_trials: int | None,
                     errors: list[search.SpecError], path: str) -> int:
    if "parallelTrials" not in spec:
        return min(DEFAULT_PARALLEL_TRIALS, max_trials or DEFAULT_PARALLEL_TRIALS)
    value = spec["parallelTrials"]
    if not adaptive:
        errors.append(search.SpecError(f"{path}.parallelTrials", "only for algorithm: tpe or cmaes (one Workflow per "
                                                                 "trial); grid, random and sobol run every trial in "
                                                                 "one Workflow: limit them with spec.parallelism"))
    elif not _integral(value) or value < 1:
        errors.append(search.SpecError(f"{path}.parallelTrials", f"expected a positive integer, got {_show(value)}"))
    elif max_trials is not None and value > max_trials:
        errors.append(search.SpecError(f"{path}.parallelTrials", f"{int(value):,} is more than maxTrials "
                                                                 f"({max_trials:,})"))
    else:
        return int(value)
    return 1


def _integral(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and -(2**63) <= value < 2**63 \
        and float(value).is_integer()


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value[:80])
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)
