"""Demo step: gc over seeded workflows, first as a dry run, then for real.

The namespace holds one of each case the policy must tell apart: an old finished
workflow, a running one, a failed one within its longer keep time, a scheduled one
(another policy's business), an orphan pod, an unlabelled pod and an idle
TensorBoard. The policy is examples/gc-policies/adhoc.json, sent as a PingSource would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from argoml.dev import knative
from argoml.dev.argo_objects import seed, seed_pod
from argoml.dev.delivery import deliver
from argoml.dev.runner import ROOT
from argoml.tensorboard.labels import LAST_ACCESSED_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, WORKFLOW_LABEL
from argoml.timestamps import format_rfc3339

if TYPE_CHECKING:
    from argoml.dev.demo import Demo

NAMESPACE = "demo-gc"


def run(demo: Demo) -> None:
    store = demo.emulator.store
    now = datetime.now(UTC)

    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    seed(store, NAMESPACE, "train-resnet", phase="Succeeded", finished_at=ago(300))
    seed(store, NAMESPACE, "sweep-lr", phase="Running", pod_phase="Succeeded", pods=1)
    seed_pod(store, NAMESPACE, "sweep-lr-trial-0", workflow_name="sweep-lr", phase="Running")
    seed(store, NAMESPACE, "eval-bert", phase="Failed", finished_at=ago(200), pods=1)
    seed(store, NAMESPACE, "nightly-etl-1714564800", phase="Succeeded", finished_at=ago(200), pods=1,
         labels={"workflows.argoproj.io/cron-workflow": "nightly-etl"})
    seed_pod(store, NAMESPACE, "deleted-wf-main-0", workflow_name="deleted-wf", phase="Succeeded",
             finished_at=ago(400))
    seed_pod(store, NAMESPACE, "notebook", workflow_name=None, phase="Succeeded", finished_at=ago(900))
    labels = {MANAGED_BY_LABEL: MANAGED_BY, WORKFLOW_LABEL: "train-resnet"}
    store.create(store.type_of("serving.knative.dev", "v1", "services"), NAMESPACE, {
        "metadata": {"name": "tb-train-resnet", "labels": labels,
                     "annotations": {LAST_ACCESSED_ANNOTATION: format_rfc3339(ago(30))}}, "spec": {}})
    demo.say(f"seeded namespace {NAMESPACE}: {', '.join(_pods(demo))}")
    demo.say("  train-resnet: Succeeded 300 h ago · sweep-lr: Running · eval-bert: Failed 200 h ago · "
             "nightly-etl-…: a CronWorkflow's · deleted-wf-main-0: orphan, finished 400 h ago · "
             "notebook: no workflow label · TensorBoard tb-train-resnet: last used 30 h ago")

    policy = json.loads((ROOT / "examples" / "gc-policies" / "adhoc.json").read_text())
    policy["namespaces"] = [NAMESPACE]
    dry = _ping(demo, {**policy, "dryRun": True})
    demo.show("dry run (examples/gc-policies/adhoc.json, dryRun: true)", dry)
    if dry.get("deleted") or len(_pods(demo)) != 8:
        raise AssertionError("the dry run deleted something")
    real = _ping(demo, policy)
    demo.show("real run", real)
    remaining = _pods(demo)
    demo.say(f"pods left: {', '.join(remaining)}")
    if real["deleted"].get("pods", []) != dry["wouldDelete"].get("pods", []):
        raise AssertionError("the real run deleted something else than the dry run showed")
    if {"sweep-lr-main-0", "sweep-lr-trial-0", "eval-bert-main-0", "notebook"} - set(remaining):
        raise AssertionError("a pod that must stay was deleted")


def _ping(demo: Demo, policy: dict[str, Any]) -> dict[str, Any]:
    headers, body = knative.ping_event(policy, namespace=NAMESPACE, name="gc-adhoc")
    delivery = deliver(demo.stack.url("gc"), headers, body, retries=0)
    summary = json.loads(delivery.body)
    if delivery.status != 200:
        raise AssertionError(f"gc answered {delivery.status}: {summary}")
    return {key: value for key, value in summary.items() if key not in ("policy", "event", "source")}


def _pods(demo: Demo) -> list[str]:
    store = demo.emulator.store
    return sorted(p["metadata"]["name"] for p in store.find(store.type_of("", "v1", "pods"), NAMESPACE))
