"""Demo step: the functions answer, and the bridge turns an API change into a CloudEvent."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argoml.dev.demo import Demo


def run(demo: Demo) -> None:
    for name, function in demo.stack.functions.items():
        with urllib.request.urlopen(function.url + "/healthz", timeout=5) as response:
            demo.say(f"{name:12} {function.url}  GET /healthz -> {response.status}")
    store = demo.emulator.store
    workflows = store.type_of("argoproj.io", "v1alpha1", "workflows")
    before = len(demo.stack.deliveries)
    store.create(workflows, "demo", {"metadata": {"name": "bridge-check",
                                                  "labels": {"argoml.io/hyperparamworkflow": "none"}}})
    kind, delivery = demo.wait_for("the bridge to deliver the Workflow's add event",
                                   lambda: demo.stack.deliveries[before] if len(demo.stack.deliveries) > before
                                   else None)
    demo.say(f"created Workflow demo/bridge-check; the bridge delivered {kind} "
             f"to hyperparam -> HTTP {delivery.status}")
    demo.show("answer", json.loads(delivery.body))
    store.delete(workflows, "demo", "bridge-check")
