"""A stand-in for Argo's workflow controller: moves Workflows through a run and writes their status.

There is no Argo in the emulator (nor, under ``make run``, necessarily in the cluster), yet the
hyperparam function's job is to follow what Argo writes. The player writes it, in Argo's
shapes, through the Kubernetes API like the controller does:

- ``status.phase`` Pending -> Running -> Succeeded or Failed, with ``startedAt``/``finishedAt``;
- ``status.nodes``: the root node (``Steps`` or ``DAG``), for steps a ``StepGroup``, and one ``Pod``
  node per item of every step or task that loops over a workflow parameter
  (``withParam: "{{workflow.parameters.<name>}}"``), named as Argo names them:
  ``displayName`` ``<step>(<index>:<key>:<value>,...)``, ``name`` ``<workflow>[0].<displayName>``
  (``<workflow>.<displayName>`` in a DAG);
- each finished item node's ``outputs.parameters``: whatever ``outputs(item)`` returns, as strings,
  so a test or demo decides what every trial "measured" from its hyperparameters; returning
  None fails the node;
- items finish in an order of its own (seeded), at most ``spec.parallelism`` at once, one per
  :meth:`ArgoPlayer.step`; a Workflow whose ``spec.shutdown`` is set stops as Argo does (the
  remaining nodes and the Workflow fail with "Stopped with strategy '<Stop|Terminate>'");
- optionally the nodes go to ``status.compressedNodes`` (gzip + base64, as Argo does past its
  size limit) or are "offloaded" (``status.offloadNodeStatusVersion``, no nodes at all).

Usage, in a test (``cluster`` fixture) or a demo::

    player = ArgoPlayer(outputs=lambda item: {"accuracy": 1 - (item["lr"] - 0.3) ** 2}, namespace="ml")
    player.step()                     # one transition per unfinished Workflow, one item finished
    player.play(until=lambda: done()) # step until a condition holds (bounded by max_steps)

and under ``make run`` (opt-in), a background thread against the cluster in ``KUBECONFIG``::

    player = ArgoPlayer(outputs=..., label_selector="argoml.io/hyperparamworkflow").start(interval=2.0)
    ...
    player.stop()

It only touches Workflows that match ``namespace``/``label_selector`` and have not finished.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from argoml import argo, kube
from argoml.dev.background import Loop
from argoml.timestamps import now_rfc3339

log = logging.getLogger("argoml.dev.argo_player")

Outputs = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
_READS = re.compile(r"\{\{\s*workflow\.parameters\.([-\w]+)\s*\}\}")
_DONE = ("Succeeded", "Failed", "Error")


def succeed(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The default ``outputs``: every item succeeds and reports nothing."""
    return {}


@dataclass
class ArgoPlayer:
    outputs: Outputs = succeed
    namespace: str | None = None  # None: every namespace
    label_selector: str = ""
    seed: int = 0
    compress_nodes: bool = False
    offload_nodes: bool = False
    _rng: random.Random = field(init=False)
    _loop: Loop | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # --- driving ----------------------------------------------------------------------------------

    def step(self) -> bool:
        """One transition of every unfinished Workflow, and one item (of any of them) finished; whether any changed.

        Items finish one per step, picked at random (seeded) among all running ones, so Workflows
        that run one trial each finish in an order of the player's own, as on a real cluster.
        """
        unfinished = [w for w in self._workflows() if (w.get("status") or {}).get("phase") not in _DONE]
        running = [(_key(w), node_id) for w in unfinished if (w.get("status") or {}).get("phase") == "Running"
                   and not (w.get("spec") or {}).get("shutdown")
                   for node_id, node in sorted(_decoded(w.get("status") or {}).items())
                   if node.get("type") == "Pod" and node.get("phase") == "Running"]
        chosen = self._rng.choice(running) if running else None
        for workflow in unfinished:
            new = self._advance(workflow, chosen[1] if chosen is not None and chosen[0] == _key(workflow) else None)
            if new is not None:
                self._write(workflow, new)
        return bool(unfinished)

    def play(self, until: Callable[[], Any] | None = None, max_steps: int = 10_000) -> int:
        """Step until ``until()`` holds (or nothing is left to do); the number of steps taken."""
        for steps in range(max_steps):
            if until is not None and until():
                return steps
            if not self.step() and until is None:
                return steps
        raise TimeoutError(f"the Workflows did not get there in {max_steps} steps")

    def start(self, interval: float = 1.0) -> ArgoPlayer:
        """Step every ``interval`` seconds in a background thread, until :meth:`stop`."""
        def loop(stopping: threading.Event) -> None:
            while not stopping.wait(interval):
                try:
                    self.step()
                except Exception:  # the player outlives a failing API, as the controller does
                    log.exception("advancing Workflows failed; trying again")

        self._loop = Loop("argo-player", loop).start()
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()

    # --- one transition ---------------------------------------------------------------------------

    def _advance(self, workflow: Mapping[str, Any], finish: str | None) -> dict[str, Any] | None:
        spec, status = workflow.get("spec") or {}, dict(workflow.get("status") or {})
        nodes = _decoded(status)
        now = now_rfc3339()
        shutdown = spec.get("shutdown")
        if not status.get("phase"):
            return {"phase": "Pending", "startedAt": now, "nodes": {}}
        if shutdown:
            message = f"Stopped with strategy '{shutdown}'"
            for node in nodes.values():
                if node.get("phase") in ("Pending", "Running"):
                    node.update(phase="Failed", message=message, finishedAt=now)
            return {**status, "phase": "Failed", "message": message, "finishedAt": now, "nodes": nodes}
        if status["phase"] == "Pending":
            return {**status, "phase": "Running", "nodes": self._expanded(workflow, now)}
        items = [node for node in nodes.values() if node.get("type") == "Pod"]
        if finish is not None and finish in nodes:
            self._finish(nodes[finish], now)
        running = [node for node in items if node.get("phase") == "Running"]
        pending = [node for node in items if node.get("phase") == "Pending"]
        parallelism = spec.get("parallelism")
        limit = parallelism if isinstance(parallelism, int) and parallelism > 0 else len(items) or 1
        started = pending[:max(0, limit - len(running))]
        for node in started:
            node.update(phase="Running", startedAt=now)
        if running or pending:
            return {**status, "nodes": nodes} if finish is not None or started else None
        phase = "Succeeded" if all(node.get("phase") == "Succeeded" for node in items) else "Failed"
        for node in nodes.values():
            if node.get("type") != "Pod":
                node.update(phase=phase, finishedAt=now)
        return {**status, "phase": phase, "finishedAt": now, "nodes": nodes}

    def _finish(self, node: dict[str, Any], now: str) -> None:
        try:
            item = inputs_item(node)
            reported = self.outputs(item if isinstance(item, Mapping) else {"item": item})
        except Exception as exc:
            reported = None
            node["message"] = f"the trial raised {type(exc).__name__}: {exc}"
        if reported is None:
            node.update(phase="Failed", finishedAt=now)
            node.setdefault("message", "Error (exit code 1)")
            return
        node.update(phase="Succeeded", finishedAt=now)
        if reported:
            node["outputs"] = {"parameters": [{"name": name, "value": _argo_string(value)}
                                              for name, value in reported.items()]}

    def _expanded(self, workflow: Mapping[str, Any], now: str) -> dict[str, dict[str, Any]]:
        """The nodes Argo would create: root, step group, one Pending pod node per loop item."""
        name = workflow["metadata"]["name"]
        spec = workflow.get("spec") or {}
        parameters = {str(p.get("name")): p.get("value") for p in (spec.get("arguments") or {}).get("parameters")
                      or [] if isinstance(p, Mapping)}
        templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, Mapping)}
        entry = templates.get(spec.get("entrypoint"), {})
        dag = isinstance(entry.get("dag"), Mapping)
        root = {"id": name, "name": name, "displayName": name, "type": "DAG" if dag else "Steps",
                "templateName": spec.get("entrypoint"), "phase": "Running", "startedAt": now, "children": []}
        nodes = {name: root}
        parent = root
        if not dag:
            group_id = f"{name}-{_digits(name + '[0]')}"
            parent = {"id": group_id, "name": f"{name}[0]", "displayName": "[0]", "type": "StepGroup",
                      "phase": "Running", "startedAt": now, "boundaryID": name, "children": []}
            nodes[group_id], root["children"] = parent, [group_id]
        for step, items in _loops(entry, parameters):
            for index, item in enumerate(items):
                display = f"{step.get('name')}({index}:{_argo_item(item)})"
                full = f"{name}.{display}" if dag else f"{name}[0].{display}"
                node_id = f"{name}-{_digits(full)}"
                nodes[node_id] = {"id": node_id, "name": full, "displayName": display, "type": "Pod",
                                  "templateName": step.get("template"), "phase": "Pending", "boundaryID": name,
                                  "inputs": {"parameters": [{"name": "item", "value": json.dumps(item)}]}}
                parent["children"].append(node_id)
        return nodes

    # --- API --------------------------------------------------------------------------------------

    def _workflows(self) -> Iterator[dict[str, Any]]:
        for page in kube.list_pages(argo.WORKFLOWS, self.namespace, label_selector=self.label_selector, limit=100):
            yield from sorted(page, key=lambda w: (w["metadata"].get("namespace", ""), w["metadata"]["name"]))

    def _write(self, workflow: Mapping[str, Any], status: dict[str, Any]) -> None:
        if self.compress_nodes and status["phase"] != "Pending":
            status["compressedNodes"] = base64.b64encode(gzip.compress(json.dumps(status["nodes"]).encode())).decode()
            status["nodes"] = None
        elif self.offload_nodes and status["phase"] != "Pending":
            status["offloadNodeStatusVersion"] = f"fnv:{_digits(json.dumps(status['nodes'], sort_keys=True))}"
            status["nodes"] = None
        namespace, name = workflow["metadata"]["namespace"], workflow["metadata"]["name"]
        try:  # Argo's CRD has no status subresource; the emulator's Workflows have one
            kube.patch(argo.WORKFLOWS, namespace, name, {"status": status}, subresource="status")
        except kube.NotFound:
            kube.patch(argo.WORKFLOWS, namespace, name, {"status": status})
        log.info("Workflow %s/%s: %s", namespace, name, status["phase"])


def _key(workflow: Mapping[str, Any]) -> tuple[str, str]:
    return workflow["metadata"].get("namespace", ""), workflow["metadata"]["name"]


def _loops(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], list]]:
    """The steps (or DAG tasks) of ``template`` that loop over a workflow parameter, with its items."""
    steps = [s for group in template.get("steps") or [] if isinstance(group, list) for s in group]
    dag = template.get("dag")
    tasks = dag.get("tasks") or [] if isinstance(dag, Mapping) else []
    for step in [*steps, *tasks]:
        if not isinstance(step, Mapping):
            continue
        reads = _READS.search(str(step.get("withParam", "")))
        if reads:
            try:
                items = json.loads(parameters.get(reads[1]) or "[]")
            except ValueError:
                items = []
            yield step, items if isinstance(items, list) else []
        elif isinstance(step.get("withItems"), list):
            yield step, step["withItems"]


def _decoded(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = status.get("nodes")
    if not nodes and status.get("compressedNodes"):
        nodes = json.loads(gzip.decompress(base64.b64decode(status["compressedNodes"])))
    return {key: dict(node) for key, node in (nodes or {}).items()}


def _argo_item(item: Any) -> str:
    """An item as Argo prints it in a node name: ``key:value`` pairs sorted, or the value."""
    if isinstance(item, Mapping):
        return ",".join(sorted(f"{key}:{_argo_string(value)}" for key, value in item.items()))
    return _argo_string(item)


def _argo_string(value: Any) -> str:
    """Go's ``%v`` of a JSON value: numbers are float64 (``16``, ``0.1``, ``1e-05``, ``1e+06``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        number = Decimal(repr(float(value))).normalize()
        exponent = number.adjusted()
        if -4 <= exponent < 6:  # strconv's shortest %g switches to an exponent outside this
            return format(number, "f")
        mantissa = format(number.scaleb(-exponent).normalize(), "f")
        return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    return value if isinstance(value, str) else json.dumps(value)


def _digits(text: str) -> int:
    """Argo's node IDs end in a hash of the node name (FNV-32a); any stable hash does here."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def inputs_item(node: Mapping[str, Any]) -> Any:
    """The loop item a player-written node ran with (as Argo, it records it in ``inputs.parameters``)."""
    for parameter in (node.get("inputs") or {}).get("parameters") or []:
        if parameter.get("name") == "item":
            return json.loads(parameter["value"])
    return None
