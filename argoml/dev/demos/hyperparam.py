"""Demo step: a HyperparamWorkflow becomes a Workflow, and its status follows the run.

The example is created in the emulator; the bridge delivers the ApiServerSource event
to the hyperparam function (a real process), which creates the Workflow and writes the
status. The step then plays Argo's controller, moving the Workflow through its run, and
shows the sweep's status following it through the Workflow's events.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from argoml import argo, manifests
from argoml.dev.runner import ROOT
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS

if TYPE_CHECKING:
    from argoml.dev.demo import Demo

NAMESPACE = "demo"
MERGE = "application/merge-patch+json"


def run(demo: Demo) -> None:
    store = demo.emulator.store
    sweeps = store.type_for(HYPERPARAM_WORKFLOWS)
    workflows = store.type_for(argo.WORKFLOWS)
    example = manifests.load_all((ROOT / "examples" / "hparam.yaml").read_text())[0]
    name = example["metadata"]["name"]
    store.create(sweeps, NAMESPACE, copy.deepcopy(example))
    demo.say(f"created HyperparamWorkflow {NAMESPACE}/{name} from examples/hparam.yaml "
             "(5 learning rates x 3 models)")

    workflow = demo.wait_for("the Workflow", lambda: _find(store, workflows, name))
    parameter = workflow["spec"]["arguments"]["parameters"][-1]
    trials = json.loads(parameter["value"])
    demo.show("the generated Workflow", {
        "name": workflow["metadata"]["name"], "labels": workflow["metadata"]["labels"],
        "ownerReferences": [{k: ref[k] for k in ("kind", "name", "controller")}
                            for ref in workflow["metadata"]["ownerReferences"]],
        f"arguments.parameters[{parameter['name']}]": f"{len(trials)} trials, first three: "
                                                       f"{json.dumps(trials[:3])}"})
    demo.show("its status", _summary(demo.wait_for("the status", lambda: _status(store, sweeps, name))))

    nodes = {f"n{i}": {"displayName": f"train({i}:learning-rate:{t['learning-rate']},model:{t['model']})",
                       "type": "Pod", "phase": "Succeeded" if i % 7 else "Failed"} for i, t in enumerate(trials)}
    store.patch(workflows, NAMESPACE, name, {"status": {"phase": "Failed", "startedAt": "2026-01-01T10:00:00Z",
                                                        "finishedAt": "2026-01-01T10:20:00Z", "nodes": nodes}},
                MERGE, subresource="status")
    demo.say("playing Argo: the Workflow ran its 15 trials; 3 of them failed, so the Workflow failed")
    finished = demo.wait_for("the status to follow the run",
                             lambda: (s := _status(store, sweeps, name)) and s.get("finishedAt") and s)
    demo.show("the status, following the Workflow", _summary(finished))

    store.patch(sweeps, NAMESPACE, name, {"spec": {"hyperparams": {"model": {"values": ["SVM"]}}}}, MERGE)
    changed = demo.wait_for("the spec change to be observed",
                            lambda: (s := _status(store, sweeps, name)) and s["observedGeneration"] == 2 and s)
    demo.say("changed the spec (generation 2): the launched Workflow is kept, the status says so")
    demo.show("UpToDate", next(c for c in changed["conditions"] if c["type"] == "UpToDate"))


def _find(store: Any, workflows: Any, name: str) -> dict[str, Any] | None:
    found = store.find(workflows, NAMESPACE)
    return next((w for w in found if w["metadata"]["name"] == name), None)


def _status(store: Any, sweeps: Any, name: str) -> dict[str, Any] | None:
    status: dict[str, Any] | None = store.get(sweeps, NAMESPACE, name).get("status")
    return status


def _summary(status: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in status.items() if k != "conditions"},
            "conditions": [f"{c['type']}={c['status']} ({c['reason']})" for c in status["conditions"]]}
