"""Adaptive search: what a proposal costs, and how much sooner it finds good trials than random search.

1. The time to propose the next trial from a history of 100 and 1,000 trials (the function
   rebuilds the optimizer from the history on every event), next to expanding a random sweep
   of the same size (what the function does for ``algorithm: random``) as the baseline.
2. The best value found after the same number of trials by ``tpe`` (and ``cmaes``) and by
   ``random``, on a function whose optimum is known (Branin, minimum 0.397887), over several
   seeds, run the way the function runs them: 3 at a time, each proposal made when a trial
   finishes, from the history so far.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Mapping
from typing import Any

from argoml.hyperparam import adaptive, search
from bench.table import Table, ratio, timed

BRANIN_MINIMUM = 0.397887
SPACE = {"x1": {"range": {"min": -5, "max": 10}}, "x2": {"range": {"min": 0, "max": 15}}}
MIXED = {"lr": {"range": {"min": 1e-5, "max": 1, "scale": "log"}}, "dropout": {"range": {"min": 0.0, "max": 0.5}},
         "layers": {"range": {"min": 1, "max": 12, "step": 1}}, "model": {"values": ["a", "b", "c"]}}
TRIALS, PARALLEL, SEEDS = 40, 3, 8


def branin(trial: Mapping[str, Any]) -> float:
    x1, x2 = float(trial["x1"]), float(trial["x2"])
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def run() -> Table:
    table = Table("Adaptive search: proposing the next trial, and the best value found (Branin, minimise)",
                  ["case", "trials", "median s", "vs random expansion", "best: mean", "median", "vs random"])
    for size in (100, 1000):
        random_space = search.parse({"algorithm": "random", "maxTrials": size, "seed": 1, "hyperparams": MIXED})
        baseline = timed(random_space.trials, repeat=5)
        table.add(f"random: expand a sweep of {size} trials (baseline)", size, baseline, "1.00x", "", "", "")
        for algorithm in ("tpe", "cmaes"):
            space = search.SearchSpace(algorithm, random_space.axes, size + 1, 1, search.DEFAULT_PARAMETER)
            history = _history(random_space.trials(), size)
            seconds = timed(functools.partial(adaptive.propose, space, "maximize", history, 1),
                            repeat=3 if size == 100 else 1)
            table.add(f"{algorithm}: propose trial {size} from a history of {size}", size, seconds,
                      ratio(seconds, baseline), "", "", "")
    bests = {algorithm: [_sweep(algorithm, seed) for seed in range(SEEDS)] for algorithm in ("random", "tpe", "cmaes")}
    regret = {algorithm: statistics.mean(v - BRANIN_MINIMUM for v in values) for algorithm, values in bests.items()}
    for algorithm, values in bests.items():
        table.add(f"{algorithm}: best after {TRIALS} trials, {PARALLEL} at a time ({SEEDS} seeds)", TRIALS, "", "",
                  statistics.mean(values), statistics.median(values), "" if algorithm == "random" else
                  f"{regret['random'] / regret[algorithm]:.1f}x closer")
    table.notes.append("best values per seed: " + "; ".join(
        f"{algorithm} " + " ".join(f"{v:.3f}" for v in values) for algorithm, values in bests.items()))
    table.notes.append(f"Branin's minimum is {BRANIN_MINIMUM}; 'closer' compares the mean distance to it "
                       "(random's / the algorithm's)")
    table.notes.append("a proposal rebuilds the study from the history (tpe: the trials added as they are; cmaes: "
                       "the history replayed in the order its results came), so it grows with the history; "
                       "maxTrials of an adaptive sweep is at most 1,000")
    return table


def _history(trials: list[search.Trial], size: int) -> list[adaptive.Past]:
    rng = random.Random(3)
    return [adaptive.Past(index, trial, True, rng.random(), index + 1) for index, trial in enumerate(trials[:size])]


def _sweep(algorithm: str, seed: int) -> float:
    """The best Branin value after TRIALS trials: random's are drawn up front, adaptive ones as results come in."""
    if algorithm == "random":
        space = search.parse({"algorithm": "random", "maxTrials": TRIALS, "seed": seed, "hyperparams": SPACE})
        return min(branin(trial) for trial in space.trials())
    space = search.parse({"algorithm": algorithm, "maxTrials": TRIALS, "seed": seed, "hyperparams": SPACE})
    history: list[adaptive.Past] = []
    finishing = random.Random(seed)  # trials finish in an order of their own
    while True:
        running = [p for p in history if not p.finished]
        wanted = min(PARALLEL - len(running), TRIALS - len(history))
        if wanted > 0:
            for trial in adaptive.propose(space, "minimize", history, wanted):
                history.append(adaptive.Past(len(history), trial, False, None, 0))
        running = [p for p in history if not p.finished]
        if not running:
            return min(p.value for p in history if p.value is not None)
        done = finishing.choice(running)
        history[done.index] = adaptive.Past(done.index, done.hyperparams, True, branin(done.hyperparams),
                                            len(history))
