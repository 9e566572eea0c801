"""Planning a TensorBoard for big sweeps: walking status.nodes and resolving every artifact.

A hyperparameter sweep can leave thousands of nodes in a Workflow's status. The baseline
is what the function cannot avoid on every PUT: decoding the Workflow's JSON as the API
server sent it. The target is planning (finding the artifacts, resolving each location
through the recorded repository, building the fetch plan and the Knative Service) within
a small multiple of that (6x; fixed costs dominate below a few hundred trials), so a
big sweep opens about as fast as it is read.
"""

from __future__ import annotations

import functools
import json
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


def run() -> Table:
    table = Table("TensorBoard planning for a sweep's status.nodes (median of 5)",
                  ["case", "trials", "median ms", "vs decoding the Workflow", "peak MiB", "target"])
    for trials in (100, 1000, 5000):
        workflow = sweep(trials)
        text = json.dumps(workflow)
        decode = timed(functools.partial(json.loads, text))
        planning = timed(functools.partial(plan, workflow))
        table.add("decode the Workflow JSON (baseline)", trials, decode * 1000, "1.00x",
                  peak_memory(functools.partial(json.loads, text)) / 2**20, "")
        table.add("find, resolve, plan, build the spec", trials, planning * 1000, ratio(planning, decode),
                  peak_memory(functools.partial(plan, workflow)) / 2**20, "<= 6.00x")
    table.notes.append("no API calls: the repository is given, as if read from the namespace's ConfigMap")
    return table
