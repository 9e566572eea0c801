"""Adaptive search (``tpe``, ``cmaes``): the next trials from the seed and the history, by Optuna.

The functions scale to zero, so no optimizer lives between events: each proposal rebuilds an
in-memory Optuna study from the sweep's history (kept in its status) and asks it, through
Optuna's ask-and-tell interface, for the next trials. A proposal is therefore a pure function
of the seed and the history: a replayed, duplicated or concurrent event proposes the same
trial under the same index, and the API server refuses the second Workflow of that name.

- **tpe**: :class:`optuna.samplers.TPESampler` with ``constant_liar``, so trials still running
  count as (pessimistic) results and parallel proposals spread out. The study holds every
  finished trial (complete, or failed when it has no value) and every running one; the
  sampler's seed is derived from the sweep's seed and the trial's index, so trial 7 does not
  repeat trial 3's random start.
- **cmaes**: :class:`optuna.samplers.CmaEsSampler`, whose state (the evolving distribution)
  exists only inside the sampler. It is rebuilt by replaying the history in the order it
  happened: before trial ``k`` is asked again, every result recorded before ``k`` was proposed
  (``result_at <= k``) is told. The replay asks the same trials the sweep asked; if it does not
  (a different Optuna version mid-sweep), that trial's result is not told, so a wrong point is
  never credited with it.

Discrete axes become integer positions (exact values and order survive, as in the grid), value
lists become categorical choices by position, continuous ranges float (log) distributions. A
proposal that repeats an earlier trial on a discrete space is asked again (a bounded number of
times); a finite space whose every point was tried is exhausted. Optuna is imported here only,
so only sweeps with these algorithms need it (the ``adaptive`` extra).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from argoml.hyperparam import search

DUPLICATE_ATTEMPTS = 16


@dataclass(frozen=True)
class Past:
    """One trial of the history, as the optimizer sees it."""

    index: int
    hyperparams: Mapping[str, search.Scalar]
    finished: bool
    value: float | None  # None when finished without a value: told as failed
    result_at: int  # the number of trials proposed when its result was recorded


def propose(space: search.SearchSpace, goal: str, history: Sequence[Past], count: int) -> list[search.Trial]:
    """The next ``count`` trials (indexes ``len(history)`` onwards); fewer when the space is exhausted."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    distributions = _distributions(space)
    direction: Literal["maximize", "minimize"] = "maximize" if goal == "maximize" else "minimize"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning and independent-sampling notes
        if space.algorithm == "cmaes":
            study = _replayed_cmaes(space, direction, distributions, history)
        else:
            study = _tpe_study(space, direction, distributions, history)
        tried = {_key(past.hyperparams) for past in history}
        proposals: list[search.Trial] = []
        for index in range(len(history), len(history) + count):
            trial = _ask_new(study, space, distributions, index, tried)
            if trial is None:
                break
            tried.add(_key(trial))
            proposals.append(trial)
    return proposals


def exhausted(space: search.SearchSpace, history: Sequence[Past]) -> bool:
    """Whether a finite space has had every one of its points tried."""
    size = space.size
    return size is not None and len({_key(past.hyperparams) for past in history}) >= size


def seed_for(seed: int, index: int, attempt: int = 0) -> int:
    """The sampler seed of trial ``index`` (stable across Python processes, unlike ``hash``)."""
    digest = hashlib.sha256(f"{seed}:{index}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _tpe_study(space: search.SearchSpace, direction: Literal["maximize", "minimize"], distributions: Mapping[str, Any],
               history: Sequence[Past]) -> Any:
    import optuna
    from optuna.trial import TrialState, create_trial

    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=0))
    for past in history:
        params = _internal(past.hyperparams, space)
        used = {name: distributions[name] for name in params}
        if not past.finished:
            state, value = TrialState.RUNNING, None
        elif past.value is None:
            state, value = TrialState.FAIL, None
        else:
            state, value = TrialState.COMPLETE, past.value
        study.add_trial(create_trial(params=params, distributions=used, state=state, value=value))
    return study


Direction = Literal["maximize", "minimize"]


def _replayed_cmaes(space: search.SearchSpace, direction: Direction, distributions: Mapping[str, Any],
                    history: Sequence[Past]) -> Any:
    import optuna

    sampler = optuna.samplers.CmaEsSampler(seed=space.seed, warn_independent_sampling=False)
    study = optuna.create_study(direction=direction, sampler=sampler)
    asked: dict[int, tuple[Any, bool]] = {}  # index -> (the replayed trial, whether it matches the record)
    told: set[int] = set()
    for index in range(len(history)):
        _tell_recorded(study, history, asked, told, index)
        trial = study.ask(dict(distributions))
        asked[index] = (trial, _internal(history[index].hyperparams, space) == trial.params)
    _tell_recorded(study, history, asked, told, len(history))
    return study


def _tell_recorded(study: Any, history: Sequence[Past], asked: Mapping[int, tuple[Any, bool]], told: set[int],
                   before: int) -> None:
    from optuna.trial import TrialState

    for past in history:
        if past.index in asked and past.index not in told and past.finished and past.result_at <= before:
            trial, matches = asked[past.index]
            if matches and past.value is not None:
                study.tell(trial, past.value)
            else:
                study.tell(trial, state=TrialState.FAIL)
            told.add(past.index)


def _ask_new(study: Any, space: search.SearchSpace, distributions: Mapping[str, Any], index: int,
             tried: set[tuple[Any, ...]]) -> search.Trial | None:
    import optuna
    from optuna.trial import TrialState

    if space.size is not None and len(tried) >= space.size:
        return None
    for attempt in range(DUPLICATE_ATTEMPTS):
        if space.algorithm == "tpe":
            study.sampler = optuna.samplers.TPESampler(seed=seed_for(space.seed, index, attempt), constant_liar=True)
        asked = study.ask(dict(distributions))
        trial = _external(asked.params, space)
        if _key(trial) not in tried or space.size is None:
            return trial
        study.tell(asked, state=TrialState.FAIL)  # a repeat: not run; asked again
    return None


def _distributions(space: search.SearchSpace) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    distributions: dict[str, Any] = {}
    for axis in space.axes:
        if isinstance(axis, search.Interval):
            distributions[axis.name] = FloatDistribution(axis.low, axis.high, log=axis.log)
        elif isinstance(axis.values, tuple):
            distributions[axis.name] = CategoricalDistribution(tuple(range(axis.size)))
        else:
            distributions[axis.name] = IntDistribution(0, axis.size - 1)
    return distributions


def _external(params: Mapping[str, Any], space: search.SearchSpace) -> search.Trial:
    """Optuna's parameters as a trial: positions become the axis's values; in the axes' (sorted) order."""
    trial: search.Trial = {}
    for axis in space.axes:
        value = params[axis.name]
        trial[axis.name] = float(value) if isinstance(axis, search.Interval) else axis.values[int(value)]
    return trial


def _internal(hyperparams: Mapping[str, Any], space: search.SearchSpace) -> dict[str, Any]:
    """A recorded trial as Optuna's parameters; values the current space does not hold are left out."""
    params: dict[str, Any] = {}
    for axis in space.axes:
        if axis.name not in hyperparams:
            continue
        value = hyperparams[axis.name]
        if isinstance(axis, search.Interval):
            if isinstance(value, int | float) and not isinstance(value, bool) and axis.low <= value <= axis.high:
                params[axis.name] = float(value)
        elif (position := _position(axis.values, value)) is not None:
            params[axis.name] = position
    return params


def _position(values: Sequence[search.Scalar], value: Any) -> int | None:
    """Where ``value`` is among a discrete axis's points, without listing a lazy range."""
    if isinstance(values, tuple):
        for position, candidate in enumerate(values):
            if _key({"v": candidate}) == _key({"v": value}):
                return position
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not values:
        return None
    first, last = float(values[0]), float(values[len(values) - 1])
    if len(values) == 1 or first == last:
        guess = 0
    elif isinstance(values, search.LogCount):
        if value <= 0 or first <= 0:
            return None
        guess = round((math.log(value) - math.log(first)) / (math.log(last) - math.log(first)) * (len(values) - 1))
    else:
        guess = round(float((Decimal(repr(float(value))) - Decimal(repr(first))) /
                            (Decimal(repr(last)) - Decimal(repr(first))) * (len(values) - 1)))
    for position in (guess, guess - 1, guess + 1):
        if 0 <= position < len(values) and values[position] == value:
            return position
    return None


def _key(trial: Mapping[str, Any]) -> tuple[Any, ...]:
    """A trial's identity: the API server gives ``1.0`` back as ``1``, so numbers compare as floats."""
    return tuple(sorted((name, *(("number", float(value)) if isinstance(value, int | float) and
                                 not isinstance(value, bool) else (type(value).__name__, str(value))))
                        for name, value in trial.items()))
