"""Demo step: an adaptive sweep (tpe) finds the optimum of a known function, trial by trial.

examples/hparam-tpe.yaml is applied as is. The Argo player stands in for Argo's controller:
every trial "measures" a known function of its hyperparameters (best at learning-rate 0.3,
40 epochs, l2 1e-4: accuracy 0.97) and the trials finish in an order of the player's own.
Each finished trial's Workflow event reaches the hyperparam function through the bridge; it
tells Optuna the result and proposes the next trial, 3 running at a time, until maxTrials.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from argoml import manifests
from argoml.dev.argo_player import ArgoPlayer
from argoml.dev.runner import ROOT
from argoml.hyperparam import table, trials, tuning
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS, LABEL

if TYPE_CHECKING:
    from argoml.dev.demo import Demo

NAMESPACE = "demo-tuning"
OPTIMUM = {"learning-rate": 0.3, "epochs": 40, "l2": 1e-4}


def accuracy(item: Mapping[str, Any]) -> dict[str, Any]:
    """The known function the trials measure: 0.97 at OPTIMUM, less the further from it (log scale for rates)."""
    distance = ((math.log10(float(item["learning-rate"])) - math.log10(0.3)) ** 2
                + ((float(item["epochs"]) - 40) / 30) ** 2 + ((math.log10(float(item["l2"])) + 4) / 3) ** 2)
    value = 0.97 - 0.1 * distance
    return {"accuracy": f"{value:.4f}", "loss": f"{1 - value:.4f}"}


def run(demo: Demo) -> None:
    store = demo.emulator.store
    sweeps = store.type_for(HYPERPARAM_WORKFLOWS)
    example = manifests.load_all((ROOT / "examples" / "hparam-tpe.yaml").read_text())[0]
    sweep = copy.deepcopy(example)
    sweep["spec"]["objective"].pop("target")  # run every trial, to show how close the search gets
    name = sweep["metadata"]["name"]
    store.create(sweeps, NAMESPACE, sweep)
    spec = sweep["spec"]
    demo.say(f"created HyperparamWorkflow {NAMESPACE}/{name} from examples/hparam-tpe.yaml: algorithm tpe, "
             f"{spec['maxTrials']} trials, {spec['parallelTrials']} at a time (target removed)")
    demo.say(f"each trial measures a known function, best at {OPTIMUM}: accuracy 0.97")
    player = ArgoPlayer(accuracy, namespace=NAMESPACE, label_selector=LABEL, seed=1).start(interval=0.02)
    try:
        status = demo.wait_for("the sweep to complete", lambda: _complete(store.get(sweeps, NAMESPACE, name)),
                               timeout=240)
    finally:
        player.stop()
    demo.say(f"{status['message']}")
    demo.show("status.bestTrial", status["bestTrial"])
    objective = tuning.Objective("accuracy", "maximize", None, ("loss",))
    records = trials.parse_history(status["history"])
    demo.show("argoml results (the top 5, best first)", "\n".join(table.render(records, objective).splitlines()[:6]))
    first, last = records[:10], records[-10:]
    demo.say(f"mean accuracy of the first 10 trials {_mean(first):.4f}, of the last 10 {_mean(last):.4f}: "
             "the later proposals learned from the earlier results")


def _complete(sweep: Mapping[str, Any]) -> Mapping[str, Any] | None:
    status = sweep.get("status") or {}
    done = any(c.get("type") == "Complete" and c.get("status") == "True" for c in status.get("conditions") or [])
    return status if done else None


def _mean(records: list[trials.Record]) -> float:
    values = [r.value for r in records if r.value is not None]
    return sum(values) / len(values) if values else float("nan")
