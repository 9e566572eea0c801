"""TensorBoard: planning an instance for big sweeps, listing many, and the fetcher's store clients.

Planning walks status.nodes and resolves every artifact.
A hyperparameter sweep can leave thousands of nodes in a Workflow's status. The baseline
is what the function cannot avoid on every PUT: decoding the Workflow's JSON as the API
server sent it. The target is planning (finding the artifacts, resolving each location
through the recorded repository, building the fetch plan and the Knative Service) within
a small multiple of that (6x; fixed costs dominate below a few hundred trials), so a
big sweep opens about as fast as it is read.

The fetcher runs in the init container of every instance, from the function's image: each
store's client adds to that image (measured from the installed packages) and to the fetcher's
start when a plan uses the store (a fresh interpreter per store, against importing the fetcher
alone).

Listing a namespace of 100 sweeps of about 1 MB each (issue 11: 368 MB with pages of 100,
against the function's 256 MiB limit) is measured with pages bounded by count only, the
baseline, and by bytes, as the function does, against an emulator in a child process.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from argoml.tensorboard import artifacts, instances
from bench.table import Table, peak_memory, ratio, timed

REPOSITORY = {"s3": {"bucket": "ml", "endpoint": "minio:9000", "insecure": True,
                     "accessKeySecret": {"name": "m", "key": "a"}, "secretKeySecret": {"name": "m", "key": "s"}}}


def sweep(trials: int) -> dict[str, Any]:
    nodes: dict[str, Any] = {"root": {"id": "root", "type": "Steps", "displayName": "sweep", "phase": "Succeeded",
                                      "children": [f"t{i}" for i in range(trials)]}}
    for i in range(trials):
        nodes[f"t{i}"] = {
            "id": f"t{i}", "name": f"sweep.train({i}:lr={i / 1000})", "displayName": f"train({i}:lr={i / 1000})",
            "type": "Pod", "phase": "Succeeded", "startedAt": "2026-11-28T10:00:00Z", "templateName": "train",
            "inputs": {"parameters": [{"name": "lr", "value": str(i / 1000)}]},
            "outputs": {"artifacts": [{"name": name, "path": f"/{name}", "s3": {"key": f"sweep/t{i}/{name}.tgz"}}
                                      for name in ("tensorboard", "model", "main-logs")]}}
    return {"metadata": {"name": "sweep", "namespace": "ml", "uid": "u"},
            "status": {"phase": "Succeeded", "nodes": nodes,
                       "artifactRepositoryRef": {"artifactRepository": REPOSITORY}}}


def plan(workflow: dict[str, Any]) -> list[Any]:
    settings = instances.Settings()
    locator = artifacts.Locator(workflow)
    locator._repository = (REPOSITORY, "bench")  # as read from the namespace's ConfigMap, without the API
    return instances.resources_for(workflow, instances.plan_for(workflow, settings, locator), settings, "now")


def run() -> list[Table]:
    return [planning(), listing_memory(), *fetcher_clients()]


def planning() -> Table:
    table = Table("TensorBoard planning for a sweep's status.nodes (median of 5)",
                  ["case", "trials", "median ms", "vs decoding the Workflow", "peak MiB", "target"])
    for trials in (100, 1000, 5000):
        workflow = sweep(trials)
        text = json.dumps(workflow)
        decode = timed(functools.partial(json.loads, text))
        planned = timed(functools.partial(plan, workflow))
        table.add("decode the Workflow JSON (baseline)", trials, decode * 1000, "1.00x",
                  peak_memory(functools.partial(json.loads, text)) / 2**20, "")
        table.add("find, resolve, plan, build the spec", trials, planned * 1000, ratio(planned, decode),
                  peak_memory(functools.partial(plan, workflow)) / 2**20, "<= 6.00x")
    table.notes.append("no API calls: the repository is given, as if read from the namespace's ConfigMap")
    return table


# --- the log fetcher: what each store's client adds to the image, and costs to import ---------------------

# What each driver of argoml.tensorboard.fetch imports, and the distributions that brings into the image.
STORES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "s3, oss (boto3)": (("boto3", "botocore.config", "botocore.exceptions"), ("boto3",)),
    "gcs (google-cloud-storage)": (("google.auth", "google.cloud.storage", "google.oauth2.service_account",
                                    "google.api_core.exceptions"), ("google-cloud-storage",)),
    "azure, account key (azure-storage-blob)": (("azure.storage.blob", "azure.core.exceptions"),
                                                ("azure-storage-blob",)),
    "azure, useSDKCreds (+ azure-identity)": (("azure.storage.blob", "azure.identity"),
                                              ("azure-storage-blob", "azure-identity")),
    "http, artifactory (urllib)": ((), ()),
    "a sweep's HParams (tensorboardX)": (("tensorboardX", "tensorboardX.summary"), ("tensorboardX",)),
}
# For comparison only: what writing the HParams with the tensorboard package would have added.
ALTERNATIVES = {"tensorboard package (not used: needs TensorFlow to write)": ("tensorboard",)}
RUNTIME = ("functions-framework", "cloudevents", "kubernetes", "pyyaml")  # the function's image without extras


def _closure(names: tuple[str, ...]) -> set[str]:
    """The distributions ``names`` need, transitively (markers evaluated here, extras not followed)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonical(requirement.name))
    return seen


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_bytes(distributions: set[str]) -> int:
    total = 0
    for name in distributions:
        dist = metadata.distribution(name)
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if "__pycache__" not in path.parts and path.is_file():
                total += path.stat().st_size
    return total


def _import_seconds(modules: tuple[str, ...], repeat: int = 5) -> float:
    """Median wall time of a fresh interpreter importing the fetcher and then ``modules``."""
    code = ("import time; t = time.perf_counter(); import argoml.tensorboard.fetch; "
            + "".join(f"import {m}; " for m in modules) + "print(time.perf_counter() - t)")
    samples = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    timeout=120).stdout) for _ in range(repeat)]
    return statistics.median(samples)


def fetcher_clients() -> list[Table]:
    base = _closure(RUNTIME)
    base_bytes = _installed_bytes(base)
    sizes = Table("The fetcher image: what each store's client adds to the function's installed packages",
                  ["store", "distributions added", "added MiB", "vs the runtime's packages"])
    sizes.add("the runtime (functions-framework, cloudevents, kubernetes, pyyaml): baseline", len(base),
              base_bytes / 2**20, "1.00x")
    every: set[str] = set()
    for store, (_, distributions) in {**STORES, **{k: ((), v) for k, v in ALTERNATIVES.items()}}.items():
        added = _closure(distributions) - base
        if store not in ALTERNATIVES:
            every |= added
        size = _installed_bytes(added)
        sizes.add(store, len(added), size / 2**20, ratio(size, base_bytes))
    size = _installed_bytes(every)
    sizes.add("the whole tensorboard-fetch extra", len(every), size / 2**20, ratio(size, base_bytes))
    sizes.notes += ["measured from the installed packages' files (no bytecode caches), transitively from their "
                    "requirements, less what the runtime already installs",
                    "OSS is read through its S3-compatible API with boto3: no client of its own"]
    imports = Table("The fetcher's import time per store (a fresh interpreter each, median of 5)",
                    ["store", "median ms", "vs the fetcher alone"])
    alone = _import_seconds(())
    imports.add("import argoml.tensorboard.fetch alone (baseline)", alone * 1000, "1.00x")
    for store, (modules, _) in STORES.items():
        if modules:
            seconds = _import_seconds(modules)
            imports.add(store, seconds * 1000, ratio(seconds, alone))
    imports.notes.append("each client is imported only by the driver of its store, so a plan pays only for its own")
    return [sizes, imports]


# --- listing a namespace of large sweeps ---------------------------------------------------------------

LISTED_WORKFLOWS, LISTED_NODES = 100, 2000  # ~1 MB of status each, as a big sweep's Workflow reaches


def seed_sweeps(store: Any) -> None:
    """A namespace of sweeps whose every node has a tensorboard artifact (runs in the emulator's process)."""
    from argoml.dev.argo_objects import seed

    workflows = store.type_of("argoproj.io", "v1alpha1", "workflows")
    for index in range(LISTED_WORKFLOWS):
        name = f"sweep-{index:03d}"
        seed(store, "ml", name, phase="Succeeded", pods=0)
        stored = store.get(workflows, "ml", name)
        nodes = {f"{name}-{n}": {
            "id": f"{name}-{n}", "name": f"{name}[0].trial({n}:lr=0.{n})", "displayName": f"trial({n}:lr=0.{n})",
            "type": "Pod", "phase": "Succeeded", "templateName": "train", "startedAt": "2024-05-01T10:00:00Z",
            "finishedAt": "2024-05-01T10:05:00Z", "hostNodeName": "worker-1",
            "outputs": {"artifacts": [{"name": "tensorboard", "path": "/logs",
                                       "s3": {"key": f"{name}/trial-{n}/tensorboard.tgz"}}],
                        "parameters": [{"name": "accuracy", "value": f"0.{n:04d}"}]}}
            for n in range(LISTED_NODES)}
        store.replace(workflows, "ml", name, {**stored, "status": {**stored["status"], "nodes": nodes}},
                      subresource="status")


def listing_memory() -> Table:
    """GET /tensorboards/<ns> over 100 sweeps of ~1 MB: pages bounded by count only (what the function did,
    the baseline) and by bytes (what it does), against the function's 256 MiB memory limit."""
    from bench.gc import _measure

    limit = 256 * 2**20  # knative/services/tensorboard.yaml
    settings = instances.Settings()

    def listed(page_bytes: int) -> Callable[[], int]:
        def run() -> int:
            previous, instances.LIST_PAGE_BYTES = instances.LIST_PAGE_BYTES, page_bytes
            try:
                return len(instances.listing("ml", settings)["workflows"])
            finally:
                instances.LIST_PAGE_BYTES = previous
        return run

    baseline = "pages of 100 bounded by count only (baseline)"
    approaches = {baseline: listed(2**40),
                  f"pages bounded at {instances.LIST_PAGE_BYTES // 2**20} MiB (default)": listed(
                      instances.LIST_PAGE_BYTES)}
    results = _measure(approaches, seed_sweeps)
    table = Table(f"tensorboard listing memory: {LISTED_WORKFLOWS} sweeps of ~1 MB each (emulator)",
                  ["approach", "wall s", "client CPU s", "peak MiB", "bound MiB", "API requests", "listed",
                   "memory vs baseline"])
    base_peak = results[baseline][2]
    for name, (wall, cpu, peak, requests, count) in results.items():
        table.add(name, wall, cpu, peak / 2**20, limit / 2**20, requests, count, ratio(peak, base_peak))
    table.notes += [
        "the same listing per approach; each must list all 100 workflows (their runs found in status.nodes)",
        "peak is this process's Python heap (tracemalloc) while listing; bound is the Service's memory limit, "
        "which also holds the interpreter and libraries",
        "target: peak set by the page's byte budget, not by the number or size of the workflows",
    ]
    return table
