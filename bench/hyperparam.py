"""Hyperparameter search spaces: expansion speed and memory, next to ``itertools.product``.

``itertools.product`` of the same axes is the least any grid expansion can cost, so it
is the baseline. Target: a 100k grid expands in under 1 s. A 1M grid is rejected by the
cap from the product of its axis lengths, before anything is built; the library's
uncapped expansion of it is measured too, for scale. Event handling latency is in
:mod:`bench.hyperparam_events`.
"""

from __future__ import annotations

import copy
import functools
import itertools
from typing import Any

from argoml import manifests
from argoml.dev import runner
from argoml.hyperparam import search
from argoml.hyperparam.workflow import MAX_WORKFLOW_BYTES, generate
from bench.table import Table, peak_memory, ratio, timed

MiB = 1 << 20


def _axes(*sizes: int) -> dict[str, Any]:
    return {f"p{i}": {"range": {"min": 0, "max": size - 1, "step": 1}} for i, size in enumerate(sizes)}


def run() -> Table:
    table = Table("Search-space expansion (median of 5; peak = Python heap while expanding)",
                  ["case", "trials", "median s", "peak MiB", "vs itertools.product", "target"])
    grids = {"grid 1k (10x10x10)": (10, 10, 10), "grid 100k (100x100x10, maxTrials 100000)": (100, 100, 10)}
    for label, sizes in grids.items():
        space = search.parse({"maxTrials": 100_000, "hyperparams": _axes(*sizes)})
        seconds = timed(space.trials)
        baseline = timed(functools.partial(_product, sizes))
        table.add(label, space.size, seconds, peak_memory(space.trials) / MiB, ratio(seconds, baseline),
                  "< 1 s" if space.size == 100_000 else "")

    million = {"hyperparams": _axes(100, 100, 100)}
    rejection = timed(lambda: _rejected(million), repeat=20)
    table.add("grid 1M, default cap: rejected before expanding", 1_000_000, rejection,
              peak_memory(lambda: _rejected(million)) / MiB, "", "microseconds")
    # The cap stops this in the function; the library can still build it, for scale.
    axes = search.parse({"algorithm": "random", "maxTrials": 1, "hyperparams": million["hyperparams"]}).axes
    seconds = timed(lambda: list(search.grid(axes)), repeat=3)
    baseline = timed(lambda: list(itertools.product(range(100), range(100), range(100))), repeat=3)
    table.add("grid 1M uncapped (search.grid, bench only)", 1_000_000, seconds,
              peak_memory(lambda: list(search.grid(axes))) / MiB, ratio(seconds, baseline), "")

    sampled = {"lr": {"range": {"min": 1e-5, "max": 1e-1, "scale": "log"}}, "dropout": {"range": {"min": 0.0,
                                                                                                   "max": 0.5}},
               "layers": {"range": {"min": 1, "max": 12, "step": 1}}, "model": {"values": ["a", "b", "c"]}}
    for algorithm in ("random", "sobol"):
        space = search.parse({"algorithm": algorithm, "maxTrials": 10_000, "seed": 1, "hyperparams": sampled})
        seconds = timed(space.trials)
        table.add(f"{algorithm} 10k (4 axes, log/linear/int/list)", 10_000, seconds,
                  peak_memory(space.trials) / MiB, "", "")

    example = manifests.load_all((runner.ROOT / "examples" / "hparam.yaml").read_text())[0]
    big = copy.deepcopy(example)
    big["spec"]["hyperparams"] = _axes(100, 100)
    table.add("generate: 10k-trial grid -> Workflow (JSON, size check)", 10_000,
              timed(lambda: generate(big)), peak_memory(lambda: generate(big)) / MiB, "", "")
    _hostile_rows(table, example)
    table.notes.append("the 1M row rejects on the product of the axis lengths; ranges are lazy, nothing is built")
    table.notes.append(f"the sweeps of 100,000 random trials stop as soon as their trials pass {MAX_WORKFLOW_BYTES:,} "
                       "bytes (about 2,000 trials of 20 floats); before issue 11 all 100,000 were built first: 452 MB "
                       "for 20 axes, 2.1 GB for 100; 'vs' is against generating examples/hparam.yaml here")
    return table


def _hostile_rows(table: Table, example: dict[str, Any]) -> None:
    """The worst sweeps of issue 11: 1 KB of spec asking for far more than a Workflow can hold."""
    seconds = timed(lambda: generate(example))
    table.add("generate: examples/hparam.yaml (baseline for the rows below)", generate(example).trials, seconds,
              peak_memory(lambda: generate(example)) / MiB, "1.00x", "")
    for axes in (20, 100):
        sweep = copy.deepcopy(example)
        sweep["spec"] |= {"algorithm": "random", "maxTrials": 100_000,
                          "hyperparams": {f"p{i}": {"range": {"min": 0, "max": 1}} for i in range(axes)}}
        refused = functools.partial(_refused, sweep)
        taken = timed(refused, repeat=3)
        table.add(f"random 100k x {axes} axes (min 0, max 1): refused", 0, taken, peak_memory(refused) / MiB,
                  ratio(taken, seconds), f"< {MAX_WORKFLOW_BYTES >> 20} MiB of trials built")


def _refused(sweep: dict[str, Any]) -> None:
    try:
        generate(sweep)
    except search.InvalidSpec:
        return
    raise AssertionError("a sweep of 100,000 trials of 20 floats cannot fit a Workflow")


def _rejected(spec: dict[str, Any]) -> None:
    try:
        search.parse(spec)
    except search.InvalidSpec:
        return
    raise AssertionError("a 1M grid must be rejected")


def _product(sizes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The baseline: the same number of combinations from itertools, with nothing to parse."""
    return list(itertools.product(*(range(s) for s in sizes)))
