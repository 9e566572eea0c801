"""gc selection over 20,000 pods of 4,000 workflows, against a naive list-everything baseline.

The emulator runs in a child process, seeded directly through its store, so that
the peak memory traced here (tracemalloc) is the GC's own, as in the function's
process. Each approach runs the same policy as a dry run (nothing is deleted, so
every run sees the same cluster) and must select the same pods. The baseline is
what a straightforward implementation does: one unpaginated list of every workflow
and every pod, filtered in the client.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from argoml import kube
from argoml.gc import collect, parse_policy
from argoml.gc.policy import Policy
from argoml.gc.selection import WorkflowIndex, judge_pod
from bench.table import Table, peak_memory, ratio

if TYPE_CHECKING:
    from argoml.dev.store import Store

WORKFLOWS, PODS_PER_WORKFLOW, NAMESPACES = 4000, 5, 4
# Of every 10 workflows: 6 succeeded long ago, 1 recently, 1 failed within keepFailedHours, 1 running, 1 errored.
MIX = ["old"] * 6 + ["recent", "failed", "running", "errored"]


def seed_cluster(store: Store) -> None:
    from argoml.dev.argo_objects import seed

    now = datetime.now(UTC)
    cases = {"old": ("Succeeded", 300, None), "recent": ("Succeeded", 10, None), "failed": ("Failed", 200, None),
             "running": ("Running", None, "Succeeded"), "errored": ("Error", 400, None)}
    for index in range(WORKFLOWS):
        phase, hours, pod_phase = cases[MIX[index % len(MIX)]]
        seed(store, f"team-{index % NAMESPACES}", f"wf-{index:05d}", phase=phase, pods=PODS_PER_WORKFLOW,
             finished_at=now - timedelta(hours=hours) if hours else None, pod_phase=pod_phase)


def serve_cluster(conn: Connection) -> None:
    """The child process: an emulator full of workflows, answering "calls" and "stop" on ``conn``."""
    from argoml.dev.emulator import Emulator

    with Emulator() as emulator:
        seed_cluster(emulator.store)
        conn.send(str(emulator.kubeconfig))
        while (message := conn.recv()) != "stop":
            conn.send(len(emulator.calls) if message == "calls" else None)


def naive(policy: Policy) -> int:
    """The baseline: every workflow and every pod in one list each, judged in the client."""
    now = datetime.now(UTC)
    workflows = json.loads(kube.custom().list_cluster_custom_object(
        "argoproj.io", "v1alpha1", "workflows", _preload_content=False).data)["items"]
    index = WorkflowIndex()
    for workflow in workflows:
        index.add(workflow, policy, now)
    del workflows
    pods = json.loads(kube.core().list_pod_for_all_namespaces(_preload_content=False).data)["items"]
    return sum(1 for pod in pods if judge_pod(pod, index, policy, now) is None)


def paginated(policy: Policy) -> int:
    return len(collect(policy).would_delete.get("pods", []))


def run() -> Table:
    table = Table(f"gc selection: {WORKFLOWS * PODS_PER_WORKFLOW:,} pods of {WORKFLOWS:,} workflows (emulator)",
                  ["approach", "wall s", "client CPU s", "peak MiB", "API requests", "selected",
                   "CPU vs naive", "memory vs naive"])
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve_cluster, args=(child,), daemon=True)
    process.start()
    previous = os.environ.get("KUBECONFIG")
    try:
        os.environ["KUBECONFIG"] = parent.recv()
        base = {"dryRun": True, "maxDeletions": 1_000_000, "requestsPerSecond": 1e9, "tensorboardTTLHours": None,
                "keepFailedHours": 336}
        approaches: dict[str, Callable[[], int]] = {
            "naive list-everything (baseline)": lambda: naive(parse_policy(base, {})),
            "argoml.gc, pageSize 500": lambda: paginated(parse_policy({**base, "pageSize": 500}, {})),
            "argoml.gc, pageSize 200": lambda: paginated(parse_policy({**base, "pageSize": 200}, {})),
        }
        results = {}
        for name, approach in approaches.items():
            parent.send("calls")
            before = parent.recv()
            started, cpu = time.perf_counter(), time.process_time()
            selected = approach()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            parent.send("calls")
            requests = parent.recv() - before
            results[name] = (wall, cpu, peak_memory(approach), requests, selected)
    finally:
        parent.send("stop")
        process.join(timeout=30)
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
    _, base_cpu, base_peak = results["naive list-everything (baseline)"][:3]
    for name, (wall, cpu, peak, requests, selected) in results.items():
        table.add(name, wall, cpu, peak / 2**20, requests, selected, ratio(cpu, base_cpu), ratio(peak, base_peak))
    table.notes += [
        "one dry run of the same policy per approach; every approach must select the same pods",
        "client CPU and peak memory (tracemalloc) are this process's, as in the function; the emulator runs "
        "in a child process",
        "wall time includes the emulator's server-side work (serialising each page over loopback HTTP)",
        "argoml.gc pushes its selectors to the server and receives only finished, labelled pods",
        "target: peak memory bounded by the page size, not by the number of pods",
    ]
    return table
