"""gc selection over 20,000 pods of 4,000 workflows, and gc's memory over 100 workflows of 1 MB each.

The first table compares gc with a naive list-everything baseline. The second runs gc
over 100 workflows of about 1 MB (the size a large sweep's status reaches) with pages
bounded by count only (the baseline: what gc did before pages were bounded in bytes)
and with the default byte budget, against the function's 384 MiB memory limit.

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
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from argoml import kube
from argoml.dev.emulator import using_kubeconfig
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


LARGE_WORKFLOWS, NODES_PER_WORKFLOW = 100, 2000  # 2,000 nodes of ~500 bytes: ~1 MB of status each


def seed_large(store: Store) -> None:
    from argoml.dev.argo_objects import seed

    workflows = store.type_of("argoproj.io", "v1alpha1", "workflows")
    finished = datetime.now(UTC) - timedelta(hours=300)
    for index in range(LARGE_WORKFLOWS):
        name = f"sweep-{index:03d}"
        seed(store, "ml", name, phase="Succeeded", finished_at=finished, pods=1)
        stored = store.get(workflows, "ml", name)
        nodes = {f"{name}-{n}": {"id": f"{name}-{n}", "name": f"{name}[0].trial({n}:lr=0.{n})",
                                 "displayName": f"trial({n}:lr=0.{n})", "type": "Pod", "phase": "Succeeded",
                                 "templateName": "train", "boundaryID": name, "startedAt": "2024-05-01T10:00:00Z",
                                 "finishedAt": "2024-05-01T10:05:00Z", "progress": "1/1", "hostNodeName": "worker-1",
                                 "outputs": {"parameters": [{"name": "accuracy", "value": f"0.{n:04d}"}],
                                             "exitCode": "0"},
                                 "resourcesDuration": {"cpu": 300, "memory": 1200}}
                 for n in range(NODES_PER_WORKFLOW)}
        store.replace(workflows, "ml", name, {**stored, "status": {**stored["status"], "nodes": nodes}},
                      subresource="status")


def serve_cluster(conn: Connection, seeder: Callable[[Store], None] = seed_cluster) -> None:
    """The child process: an emulator full of workflows, answering "calls" and "stop" on ``conn``."""
    from argoml.dev.emulator import Emulator

    with Emulator() as emulator:
        seeder(emulator.store)
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


def by_count(policy: Policy) -> int:
    """The memory baseline: gc's listing before pages were bounded in bytes (pages of ``pageSize`` objects)."""
    from argoml import argo
    from argoml.gc.selection import POD_FIELD_SELECTOR, POD_LABEL_SELECTOR

    now, index = datetime.now(UTC), WorkflowIndex()
    for page in kube.list_pages(argo.WORKFLOWS, None, limit=policy.page_size):
        for workflow in page:
            index.add(workflow, policy, now)
    return sum(1 for page in kube.list_pages(kube.PODS, None, label_selector=POD_LABEL_SELECTOR,
                                              field_selector=POD_FIELD_SELECTOR, limit=policy.page_size)
               for pod in page if judge_pod(pod, index, policy, now) is None)


def paginated(policy: Policy) -> int:
    return len(collect(policy).would_delete.get("pods", []))


def run() -> list[Table]:
    return [selection(), large_workflows()]


def large_workflows() -> Table:
    from argoml.gc.policy import DEFAULT_PAGE_BYTES

    limit = 384 * 2**20  # the Knative Service's memory limit (knative/services/gc.yaml)
    table = Table(f"gc memory: {LARGE_WORKFLOWS} workflows of ~1 MB each, default page of 500 (emulator)",
                  ["approach", "wall s", "client CPU s", "peak MiB", "bound MiB", "API requests", "selected",
                   "memory vs baseline"])
    base = {"dryRun": True, "tensorboardTTLHours": None, "orphans": False}
    approaches: dict[str, dict[str, str]] = {
        f"pages bounded at {DEFAULT_PAGE_BYTES // 2**20} MiB (default)": {},
        "pages bounded at 2 MiB": {"GC_MAX_PAGE_BYTES": str(2 * 2**20)},
    }
    def run_with(env: dict[str, str]) -> Callable[[], int]:
        return lambda: paginated(parse_policy(base, env))

    results = _measure({"pages bounded by count only (baseline)": lambda: by_count(parse_policy(base, {})),
                        **{name: run_with(env) for name, env in approaches.items()}}, seed_large)
    _, _, base_peak, _, _ = results["pages bounded by count only (baseline)"]
    for name, (wall, cpu, peak, requests, selected) in results.items():
        table.add(name, wall, cpu, peak / 2**20, limit / 2**20, requests, selected, ratio(peak, base_peak))
    table.notes += [
        "one dry run per approach over the same cluster; each must select the same 100 pods; the baseline lists "
        "as gc did before pages were bounded in bytes (pages of 500 objects)",
        "peak is this process's Python heap (tracemalloc) while gc runs; bound is the Service's memory limit "
        "(384Mi), which also holds the interpreter and libraries (~60 MiB)",
        "the first page asks for 50 objects; a page over the byte budget is dropped unread and asked for again "
        "with a quarter of the limit; the next page asks for as many objects of the last page's average size as "
        "fill half the budget",
        "wall time is mostly the emulator's (it copies and serialises every object a request asks for, even "
        "when the reader stops early)",
        "target: peak memory set by the byte budget, not by the number or size of the workflows",
    ]
    return table


def _measure(approaches: dict[str, Callable[[], int]],
             seeder: Callable[[Store], None]) -> dict[str, tuple[float, float, int, int, int]]:
    """Run each approach against a child-process emulator seeded by ``seeder``: wall, CPU, peak, requests, selected."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve_cluster, args=(child, seeder), daemon=True)
    process.start()
    results = {}
    try:
        with using_kubeconfig(parent.recv()):
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
    return results


def selection() -> Table:
    table = Table(f"gc selection: {WORKFLOWS * PODS_PER_WORKFLOW:,} pods of {WORKFLOWS:,} workflows (emulator)",
                  ["approach", "wall s", "client CPU s", "peak MiB", "API requests", "selected",
                   "CPU vs naive", "memory vs naive"])
    base = {"dryRun": True, "maxDeletions": 5000, "requestsPerSecond": 50, "tensorboardTTLHours": None,
            "keepFailedHours": 336}
    limits = {"GC_LIMIT_DELETIONS": "1000000", "GC_LIMIT_REQUESTS_PER_SECOND": "1000"}
    approaches: dict[str, Callable[[], int]] = {
        "naive list-everything (baseline)": lambda: naive(parse_policy(base, {})),
        "argoml.gc, pageSize 500": lambda: paginated(parse_policy(
            {**base, "pageSize": 500, "maxDeletions": 1_000_000, "requestsPerSecond": 1000}, limits)),
        "argoml.gc, pageSize 200": lambda: paginated(parse_policy(
            {**base, "pageSize": 200, "maxDeletions": 1_000_000, "requestsPerSecond": 1000}, limits)),
    }
    results = _measure(approaches, seed_cluster)
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
