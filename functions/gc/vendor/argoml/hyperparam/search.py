"""Hyperparameter search spaces: read from a HyperparamWorkflow's spec, expanded into trials.

The hyperparam function expands a space into the trials of a Workflow; the validate
function reads the same space to reject a bad one before it is stored. So reading
never stops at the first problem: every problem becomes a :class:`SpecError` naming
its field path, and all of them are raised together as one :class:`InvalidSpec`.

Order and exactness, which users can rely on (docs/hyperparam.md):

- Axes are ordered by hyperparameter name (code-point order). The API server stores a
  custom resource as JSON with its keys sorted, so the order a user wrote is gone by
  the time the object is read back; sorting gives the same order offline and on the
  cluster. The grid is the cartesian product with the *last* axis varying fastest.
- ``range`` bounds and steps are decimal: ``0.1..0.5 step 0.1`` is exactly 0.1, 0.2,
  0.3, 0.4, 0.5. Ranges are lazy sequences, so sizes are known (and capped) before any
  combination is built.
- ``random`` and ``sobol`` are deterministic for a given ``seed`` (default 0).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import sys
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from argoml.errors import Unprocessable
from argoml.jsontypes import described

Scalar = str | int | float | bool
Trial = dict[str, Scalar]

ALGORITHMS = ("grid", "random", "sobol", "tpe", "cmaes")
# Adaptive algorithms propose each trial from the results so far (argoml.hyperparam.adaptive), one Workflow each.
ADAPTIVE = ("tpe", "cmaes")
DEFAULT_ALGORITHM = "grid"
SCALES = ("linear", "log")
# The fields of a HyperparamWorkflow's spec that describe the search; the rest is a WorkflowSpec.
SEARCH_FIELDS = ("algorithm", "maxTrials", "seed", "parameterName", "hyperparams", "objective", "parallelTrials",
                 "maxFailedTrials")
RANGE_FIELDS = ("min", "max", "step", "count", "scale")
DEFAULT_PARAMETER = "hyperparams"
DEFAULT_MAX_TRIALS = 10_000
# A Workflow must hold every trial in one parameter under the object size limit; past
# this many trials it cannot, whatever they are (and expansion would cost seconds).
MAX_TRIALS_LIMIT = 100_000
DEFAULT_SEED = 0
# A discrete axis may be far larger than a grid (random samples it); past this it is no longer discrete.
MAX_RANGE_POINTS = 10**15
# Sampling a space with discrete axes can draw a trial twice; it draws at most this many
# points per wanted trial looking for new ones.
DRAWS_PER_TRIAL = 64
# SciPy's Sobol' direction numbers cover this many dimensions (one per hyperparameter).
SOBOL_MAX_DIMENSIONS = 21_201
SOBOL_FIRST_BLOCK = 10  # 2**10 points

_HYPERPARAM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # the CRD's maxLength too


@dataclass(frozen=True)
class SpecError:
    """One problem of a spec, at a field path such as ``spec.hyperparams.lr.range.step``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidSpec(Unprocessable):
    """Every problem found in a spec; retrying cannot fix any of them."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(map(str, self.errors)),
                         details=[{"path": e.path, "message": e.message} for e in self.errors])


class _Lazy(Sequence[Any]):
    """The points of a range, computed on access, so a huge range costs nothing until used."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._point(i) for i in range(*index.indices(self.length))]
        if not -self.length <= index < self.length:
            raise IndexError(index)
        return self._point(index % self.length)

    def __iter__(self) -> Iterator[Any]:
        return (self._point(i) for i in range(self.length))

    @abstractmethod
    def _point(self, index: int) -> Any: ...


class Steps(_Lazy):
    """``start, start + step, ...`` for ``length`` points, exact in decimal; ints when ``integer``."""

    def __init__(self, start: Decimal, step: Decimal, length: int, integer: bool) -> None:
        super().__init__(length)
        self.start, self.step, self.integer = start, step, integer

    def _point(self, index: int) -> int | float:
        return self._convert(self.start + self.step * index)

    def _convert(self, value: Decimal) -> int | float:
        return int(value) if self.integer else float(value)


class LinearCount(Steps):
    """``length`` evenly spaced points from ``low`` to ``high``; both ends exact."""

    def __init__(self, low: Decimal, high: Decimal, length: int, integer: bool) -> None:
        super().__init__(low, (high - low) / (length - 1) if length > 1 else Decimal(0), length, integer)
        self.high = high

    def _point(self, index: int) -> int | float:
        return self._convert(self.high) if index == self.length - 1 else super()._point(index)


class LogCount(_Lazy):
    """``length`` points evenly spaced in log scale from ``low`` to ``high`` (15 significant digits).

    Computed in decimal (28 digits) so that decades come out exact (``1e-6..1 count 13``
    holds 0.01, not 0.00999999999999999) and no bound overflows (``1e-300..1e300``).
    """

    def __init__(self, low: float, high: float, length: int) -> None:
        super().__init__(length)
        self.low, self.high = low, high
        self._log_low = _decimal(low).ln()
        self._log_ratio = (_decimal(high).ln() - self._log_low) / (length - 1) if length > 1 else Decimal(0)

    def _point(self, index: int) -> float:
        if index == self.length - 1:
            return self.high
        return float(f"{(self._log_low + self._log_ratio * index).exp():.15g}")


@dataclass(frozen=True)
class Points:
    """A discrete axis: a list of values, or a range with ``step`` or ``count``."""

    name: str
    values: Sequence[Scalar]

    @property
    def size(self) -> int:
        return len(self.values)

    def at(self, u: float) -> Scalar:
        """The point at position ``u`` in [0, 1): every point has an equal share."""
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]


@dataclass(frozen=True)
class Interval:
    """A continuous axis (a range with only ``min``/``max``), for random and sobol sampling.

    Its points are floats whatever the bounds: JSON has one number type and the API server
    stores ``1.0`` as ``1``, so integral bounds cannot mean integers without also turning
    ``0.0..1.0`` into the two points 0 and 1. Integers are sampled from ``step: 1``.
    """

    name: str
    low: float
    high: float
    log: bool

    @property
    def size(self) -> None:
        return None

    def at(self, u: float) -> float:
        """Map ``u`` in [0, 1) uniformly (or log-uniformly) onto the interval."""
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = (1 - u) * self.low + u * self.high  # high - low overflows for -1.7e308..1.7e308
        return min(max(value, self.low), self.high)


Axis = Points | Interval


@dataclass(frozen=True)
class SearchSpace:
    algorithm: str
    axes: tuple[Axis, ...]
    max_trials: int
    seed: int
    parameter_name: str

    @property
    def size(self) -> int | None:
        """How many distinct trials the space holds; None when an axis is continuous."""
        sizes = [axis.size for axis in self.axes]
        return None if None in sizes else math.prod(s for s in sizes if s is not None)

    def trials(self, max_bytes: int | None = None) -> list[Trial]:
        """Every trial, in the order documented for the algorithm.

        With ``max_bytes``, the trials are built one at a time and :class:`InvalidSpec` is raised as
        soon as they pass ``max_bytes`` as JSON inside the Workflow's JSON, so a space far too large
        to store costs what storing would, not what building every trial would.
        """
        found = self._trials()
        return list(found) if max_bytes is None else _within(found, max_bytes, self.wanted)

    @property
    def wanted(self) -> int:
        """How many trials :meth:`trials` gives (fewer only when sampling runs out of distinct ones)."""
        size = self.size
        return size if self.algorithm == "grid" and size is not None else min(self.max_trials, size or self.max_trials)

    def _trials(self) -> Iterator[Trial]:
        if self.algorithm == "grid":
            return grid(self.axes)
        size = self.size
        if size is not None and size <= self.max_trials:
            # Sampling cannot beat trying everything: every combination, once (for random, in an order
            # drawn as random.sample draws a list of them all, without building that list).
            order = random.Random(self.seed).sample(range(size), size) if self.algorithm == "random" else range(size)
            discrete = [axis for axis in self.axes if isinstance(axis, Points)]  # all of them: the size is known
            return (_combination(discrete, index) for index in order)
        if self.algorithm == "random":
            rng = random.Random(self.seed)
            return _distinct(([rng.random() for _ in self.axes] for _ in itertools.count()), self.axes,
                             self.max_trials)
        return _distinct(_sobol_points(len(self.axes), self.seed, self.max_trials), self.axes, self.max_trials)


def grid(axes: Sequence[Axis]) -> Iterator[Trial]:
    """The cartesian product of discrete axes, last axis fastest; a continuous axis has no grid (ValueError)."""
    names = [axis.name for axis in axes]
    columns = [axis.values if isinstance(axis, Points) else _no_grid(axis) for axis in axes]
    return (dict(zip(names, combination, strict=True)) for combination in itertools.product(*columns))


def _no_grid(axis: Interval) -> NoReturn:
    raise ValueError(f"hyperparams.{axis.name} is continuous: it has no grid")


def _combination(axes: Sequence[Points], index: int) -> Trial:
    """Trial ``index`` of the grid of discrete ``axes`` (the last axis fastest), without the others."""
    values: list[Scalar] = []
    for axis in reversed(axes):
        index, position = divmod(index, len(axis.values))
        values.append(axis.values[position])
    return dict(zip((axis.name for axis in axes), reversed(values), strict=True))


def _within(trials: Iterator[Trial], max_bytes: int, wanted: int) -> list[Trial]:
    """``trials`` while their JSON list, as a string inside the Workflow's JSON, fits ``max_bytes``."""
    kept: list[Trial] = []
    used = 2  # the list's brackets
    for trial in trials:
        text = json.dumps(trial, separators=(",", ":"))
        used += len(json.dumps(text)) - 2 + (1 if kept else 0)  # escaped as the value of a string; a comma
        if used > max_bytes:
            raise InvalidSpec([SpecError("spec.hyperparams", (
                f"the generated Workflow would be more than {max_bytes:,} bytes: its trials alone pass that after "
                f"{len(kept):,} of {wanted:,} trials: use fewer or shorter values, or algorithm: random with a smaller "
                "maxTrials"))])
        kept.append(trial)
    return kept


def _distinct(points: Iterator[Sequence[float]], axes: Sequence[Axis], wanted: int) -> Iterator[Trial]:
    """Map unit-cube points onto the axes, skipping trials already drawn, until ``wanted``.

    Gives up after ``DRAWS_PER_TRIAL`` draws per wanted trial: a space with few distinct
    points under a skewed (log) axis could otherwise keep drawing the same ones.
    """
    names = [axis.name for axis in axes]
    seen: set[tuple[tuple[type, Scalar], ...]] = set()
    for point in itertools.islice(points, wanted * DRAWS_PER_TRIAL):
        values = tuple(axis.at(u) for axis, u in zip(axes, point, strict=True))
        key = tuple((type(v), v) for v in values)
        if key not in seen:
            seen.add(key)
            yield dict(zip(names, values, strict=True))
            if len(seen) == wanted:
                return


def _sobol_points(dimensions: int, seed: int, wanted: int) -> Iterator[Sequence[float]]:
    """A scrambled Sobol' sequence, drawn in powers of two (which keep its balance properties).

    Drawn in blocks that double, from at most ``SOBOL_FIRST_BLOCK``: the same sequence as one
    draw of them all, but only as much of it is held as a caller has asked for.
    """
    from scipy.stats import qmc  # only sobol needs SciPy; it is an optional extra

    sampler = qmc.Sobol(d=dimensions, scramble=True, seed=seed)
    block = sampler.random_base2(min(max(0, math.ceil(math.log2(wanted))), SOBOL_FIRST_BLOCK))
    while True:
        for row in block:
            yield row.tolist()
        block = sampler.random(sampler.num_generated)  # doubling keeps the total a power of two


# --- reading a spec ---------------------------------------------------------------------------------


def parse(spec: Any, path: str = "spec") -> SearchSpace:
    """Read the search part of a HyperparamWorkflow's ``spec``; raise every problem at once."""
    errors: list[SpecError] = []
    space = read(spec, errors, path)
    if errors or space is None:
        raise InvalidSpec(errors or [SpecError(path, "invalid")])
    return space


def read(spec: Any, errors: list[SpecError], path: str = "spec") -> SearchSpace | None:
    """Like :func:`parse`, but append problems to ``errors`` (for callers that check more)."""
    if not isinstance(spec, Mapping):
        errors.append(SpecError(path, f"expected an object, got {described(spec)}"))
        return None
    before = len(errors)
    algorithm = spec.get("algorithm", DEFAULT_ALGORITHM)
    if algorithm not in ALGORITHMS:
        errors.append(SpecError(f"{path}.algorithm", f"unknown algorithm {algorithm!r}: expected grid, random, "
                                                     "sobol, tpe or cmaes"))
    max_trials = _max_trials(spec, algorithm, errors, path)
    seed = spec.get("seed", DEFAULT_SEED)
    if not _integral(seed) or seed < 0:
        errors.append(SpecError(f"{path}.seed", f"expected an integer from 0 to 2^63-1, got {_show(seed)}"))
    seed = int(seed) if _integral(seed) else DEFAULT_SEED
    parameter = _parameter_name(spec, errors, path)
    axes = _axes(spec.get("hyperparams"), algorithm, errors, f"{path}.hyperparams")
    if algorithm == "sobol" and len(axes) > SOBOL_MAX_DIMENSIONS:
        errors.append(SpecError(f"{path}.hyperparams", f"{len(axes):,} hyperparameters, more than the "
                                f"{SOBOL_MAX_DIMENSIONS:,} dimensions a Sobol' sequence has: use algorithm: random"))
    if len(errors) > before:
        return None
    space = SearchSpace(algorithm, axes, max_trials, seed, parameter)
    if algorithm == "grid" and (size := space.size) is not None and size > max_trials:
        shape = " x ".join(f"{axis.size:,}" for axis in axes)
        errors.append(SpecError(
            f"{path}.hyperparams", f"the grid has {size:,} combinations ({shape}), more than maxTrials "
            f"({max_trials:,}) allows; sample it instead with algorithm: random (or sobol) and maxTrials, or "
            f"raise {path}.maxTrials (at most {MAX_TRIALS_LIMIT:,})"))
        return None
    return space


def _max_trials(spec: Mapping[str, Any], algorithm: Any, errors: list[SpecError], path: str) -> int:
    if "maxTrials" not in spec:
        if algorithm in ("random", "sobol", *ADAPTIVE):
            errors.append(SpecError(f"{path}.maxTrials", f"required with algorithm: {algorithm}"))
        return DEFAULT_MAX_TRIALS
    value = spec["maxTrials"]
    if not _integral(value) or value < 1:
        errors.append(SpecError(f"{path}.maxTrials", f"expected a positive integer, got {_show(value)}"))
    elif value > MAX_TRIALS_LIMIT:
        errors.append(SpecError(f"{path}.maxTrials", f"{value:,} is more than the {MAX_TRIALS_LIMIT:,} trials one "
                                                     "Workflow can carry"))
    else:
        return int(value)
    return DEFAULT_MAX_TRIALS


def is_parameter_name(name: str) -> bool:
    """Whether ``name`` may name a workflow parameter (Argo's rule, and the CRD's maxLength)."""
    return bool(_PARAMETER_NAME.fullmatch(name))


def _parameter_name(spec: Mapping[str, Any], errors: list[SpecError], path: str) -> str:
    name = spec.get("parameterName", DEFAULT_PARAMETER)
    if not isinstance(name, str) or not _PARAMETER_NAME.match(name):
        errors.append(SpecError(f"{path}.parameterName", f"expected a workflow parameter name (1-128 letters, "
                                                         f"digits, '-' and '_'), got {_show(name)}"))
        return DEFAULT_PARAMETER
    arguments = spec.get("arguments")
    if arguments is None:
        return name
    if not isinstance(arguments, Mapping):
        errors.append(SpecError(f"{path}.arguments", f"expected an object, got {described(arguments)}"))
        return name
    parameters = arguments.get("parameters") or []
    if not isinstance(parameters, list):
        errors.append(SpecError(f"{path}.arguments.parameters", f"expected a list, got {described(parameters)}"))
        return name
    for index, parameter in enumerate(parameters):
        if isinstance(parameter, Mapping) and parameter.get("name") == name:
            errors.append(SpecError(f"{path}.parameterName", f"{name!r} collides with the existing argument "
                                    f"{path}.arguments.parameters[{index}]: the trials need a parameter of their "
                                    "own; set parameterName to another name or rename that argument"))
    return name


def _axes(hyperparams: Any, algorithm: Any, errors: list[SpecError], path: str) -> tuple[Axis, ...]:
    if not isinstance(hyperparams, Mapping) or not hyperparams:
        got = "an empty object" if isinstance(hyperparams, Mapping) else described(hyperparams)
        errors.append(SpecError(path, f"expected an object of hyperparameters, each with values or range; got "
                                      f"{got}"))
        return ()
    axes: list[Axis] = []
    for name in sorted(hyperparams, key=str):
        axis_path = f"{path}.{name}" if isinstance(name, str) and _HYPERPARAM_NAME.match(name) else f"{path}[{name!r}]"
        if not isinstance(name, str) or not _HYPERPARAM_NAME.match(name):
            errors.append(SpecError(axis_path, "a hyperparameter name must be 1-63 letters, digits, '-' or '_' "
                                               "(it is used as {{item.<name>}} in the workflow)"))
            continue
        if axis := _axis(name, hyperparams[name], algorithm, errors, axis_path):
            axes.append(axis)
    return tuple(axes)


def _axis(name: str, entry: Any, algorithm: Any, errors: list[SpecError], path: str) -> Axis | None:
    if not isinstance(entry, Mapping):
        errors.append(SpecError(path, f"expected an object with values or range, got {described(entry)}"))
        return None
    kinds = [key for key in ("values", "range") if key in entry]
    unknown = sorted(set(entry) - {"values", "range"})
    if unknown:
        errors.append(SpecError(f"{path}.{unknown[0]}", "unknown field: expected values or range"))
    if len(kinds) != 1:
        errors.append(SpecError(path, "expected exactly one of values or range"))
        return None
    if kinds == ["values"]:
        return _values(name, entry["values"], errors, f"{path}.values")
    return _range(name, entry["range"], algorithm, errors, f"{path}.range")


def _values(name: str, values: Any, errors: list[SpecError], path: str) -> Points | None:
    if not isinstance(values, list) or not values:
        errors.append(SpecError(path, f"expected a non-empty list, got "
                                      f"{'an empty list' if isinstance(values, list) else described(values)}"))
        return None
    seen: dict[tuple[type, Any], int] = {}
    ok = True
    for index, value in enumerate(values):
        if not isinstance(value, str | int | float) or (not isinstance(value, str) and not _finite(value)):
            errors.append(SpecError(f"{path}[{index}]", f"expected a string, number or boolean, got {_show(value)}"))
            ok = False
        elif (key := (int, value) if _integral(value) else (type(value), value)) in seen:
            errors.append(SpecError(f"{path}[{index}]", f"{_show(value)} repeats {path}[{seen[key]}]: it would "
                                                        "run the same trials twice"))
            ok = False
        else:
            seen[key] = index
    return Points(name, tuple(map(_as_stored, values))) if ok else None


def _as_stored(value: Scalar) -> Scalar:
    """The number the API server gives back: 2.0 is stored as 2, an integer beyond int64 as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return int(value) if _integral(value) else float(value)


def _range(name: str, spec: Any, algorithm: Any, errors: list[SpecError], path: str) -> Axis | None:
    if not isinstance(spec, Mapping):
        errors.append(SpecError(path, f"expected an object with min and max, got {described(spec)}"))
        return None
    before = len(errors)
    errors += [SpecError(f"{path}.{key}", f"unknown field: expected {', '.join(RANGE_FIELDS)}")
               for key in sorted(set(spec) - set(RANGE_FIELDS), key=str)]
    low, high = (_number(spec, key, errors, path, required=True) for key in ("min", "max"))
    step = _number(spec, "step", errors, path, required=False)
    count = spec.get("count")
    if count is not None and (not _integral(count) or count < 1):
        errors.append(SpecError(f"{path}.count", f"expected a positive integer, got {_show(count)}"))
        count = None
    scale = spec.get("scale", "linear")
    if scale not in SCALES:
        errors.append(SpecError(f"{path}.scale", f"expected linear or log, got {_show(scale)}"))
    if len(errors) > before or low is None or high is None:
        return None
    log = scale == "log"
    if step is not None and count is not None:
        errors.append(SpecError(path, "give step or count, not both"))
    elif log and step is not None:
        errors.append(SpecError(f"{path}.step", "scale: log spaces points by count, not by step"))
    elif log and (low <= 0 or high <= 0):
        errors.append(SpecError(f"{path}.{'min' if low <= 0 else 'max'}", f"must be > 0 with scale: log, got "
                                f"{_show(low if low <= 0 else high)}"))
    elif step is not None:
        return _stepped(name, low, high, step, errors, path)
    elif count is not None:
        return _counted(name, low, high, int(count), log, errors, path)
    elif algorithm == "grid":
        errors.append(SpecError(path, "a grid needs step or count to know which points to try (without them the "
                                      "range is sampled continuously, by algorithm: random or sobol)"))
    elif low > high:
        errors.append(SpecError(path, f"min {_show(low)} is greater than max {_show(high)}: swap them "
                                      f"(min: {_show(high)}, max: {_show(low)})"))
    else:
        return Interval(name, float(low), float(high), log)
    return None


def _stepped(name: str, low: int | float, high: int | float, step: int | float, errors: list[SpecError],
             path: str) -> Points | None:
    start, stop, delta = _decimal(low), _decimal(high), _decimal(step)
    if delta == 0:
        errors.append(SpecError(f"{path}.step", "must not be 0"))
        return None
    if start <= stop and delta < 0:
        errors.append(SpecError(f"{path}.step", f"must be > 0 when min <= max, got {_show(step)} (to count down, "
                                                "give min > max with a negative step)"))
        return None
    if start > stop and delta > 0:
        errors.append(SpecError(path, f"min {_show(low)} is greater than max {_show(high)} with a positive step "
                                      f"{_show(step)}: swap them, or use a negative step to count down"))
        return None
    count = int((stop - start) / delta) + 1
    if count > MAX_RANGE_POINTS:
        errors.append(SpecError(path, f"the range has {count:,} points, more than {MAX_RANGE_POINTS:,}: give a larger "
                                      "step, or no step to sample it continuously (algorithm: random or sobol)"))
        return None
    integer = all(_integral(v) for v in (low, high, step))
    return Points(name, Steps(start, delta, count, integer))


def _counted(name: str, low: int | float, high: int | float, count: int, log: bool, errors: list[SpecError],
             path: str) -> Points | None:
    if count > MAX_RANGE_POINTS:
        errors.append(SpecError(f"{path}.count", f"at most {MAX_RANGE_POINTS:,}, got {count:,}"))
        return None
    if count == 1 and low != high:
        errors.append(SpecError(f"{path}.count", "must be at least 2 to include both min and max"))
        return None
    if log:
        return Points(name, LogCount(float(low), float(high), count))
    start, stop = _decimal(low), _decimal(high)
    integer = _integral(low) and _integral(high) and (count == 1 or (stop - start) % (count - 1) == 0)
    return Points(name, LinearCount(start, stop, count, integer))


def _number(spec: Mapping[str, Any], key: str, errors: list[SpecError], path: str, *,
            required: bool) -> int | float | None:
    if key not in spec:
        if required:
            errors.append(SpecError(f"{path}.{key}", "required"))
        return None
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        errors.append(SpecError(f"{path}.{key}", f"expected a number, got {_show(value)}"))
        return None
    return value


def _finite(value: int | float) -> bool:
    """A number a Kubernetes object can hold: within float64's range (the API server refuses others)."""
    return abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)


def _decimal(value: int | float) -> Decimal:
    # repr() is the shortest text that reads back as the same float: 0.1 -> "0.1", so 0.1 is exactly 1/10 here.
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _integral(value: Any) -> bool:
    """An integer as the API server stores it: ``16.0`` is written back as ``16``, and an
    integer beyond int64 as a float; offline and on the cluster a number must mean the same."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (isinstance(value, int) or value.is_integer()) and -(2**63) <= value < 2**63


def _show(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return repr(value)
    return described(value) if not isinstance(value, bool) else str(value).lower()
