"""Trial results, read from a Workflow's ``status.nodes`` as Argo's controller left them.

A trial reports its metric the Argo way: the template its loop runs declares an output
parameter named after the metric, so the value lands in the trial's node. Argo names the
nodes it expands from a loop ``<step>(<index>:<item>)``, the index being the trial's
position in the trials parameter, so every node is matched to its trial by index. Nothing
here trusts the status: Argo's Workflow CRD has no status subresource, so anyone who may
update a Workflow writes it. Every shape is checked, and any status gives a
:class:`Results` (a trial without a usable value carries the reason), never an exception.

Which value counts (docs/hyperparam.md): the trial's own loop node's output; failing that,
the output of its descendants, the succeeded one that finished last (a retried step's
successful attempt; a nested template's reporting step). A trial whose node did not
succeed has no value even if it reported one. A retried step is one trial: its ``Retry``
node (type ``Retry``, holding the attempts as children) is the loop node.

Large Workflows: Argo moves ``status.nodes`` into ``status.compressedNodes`` (gzip, then
base64) past its size limit, decoded here with a bound on the decompressed size; nodes
offloaded to Argo's database (``status.offloadNodeStatusVersion``) cannot be read, and
the results say so instead of reporting zeros.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoml import argo
from argoml.argo import NodePhase

# Decompressed nodes beyond this are not read (a 1 MiB object of repetitive JSON can hold far more).
MAX_NODES_BYTES = 32 << 20
MAX_NODES = 200_000
# How far below a loop node the metric is looked for (a nested template's steps, retries).
MAX_DEPTH = 32
# A trial's state in the HyperparamWorkflow's status (argo-ml's own vocabulary, spelt like Argo's phases).
SUCCEEDED, FAILED, RUNNING, PENDING = "Succeeded", "Failed", "Running", "Pending"
_NODE_FAILED = frozenset({NodePhase.FAILED, NodePhase.ERROR})


@dataclass(frozen=True)
class TrialResult:
    """One trial as its nodes tell it: state, the objective's value if usable, extra metrics, or why not."""

    index: int
    state: str  # Pending | Running | Succeeded | Failed
    value: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in (SUCCEEDED, FAILED)


@dataclass(frozen=True)
class Results:
    """Every trial found in one Workflow; ``known`` False (with ``reason``) when its nodes cannot be read."""

    trials: Mapping[int, TrialResult]
    known: bool = True
    reason: str | None = None

    def count(self, state: str) -> int:
        return sum(1 for trial in self.trials.values() if trial.state == state)

    @property
    def without_value(self) -> int:
        return sum(1 for trial in self.trials.values() if trial.state == SUCCEEDED and trial.value is None)


@dataclass(frozen=True)
class Metrics:
    """What to read from each trial: the objective's metric and the additional ones."""

    objective: str | None
    additional: tuple[str, ...] = ()


def read(workflow: Mapping[str, Any], loops: Iterable[str] | None, metrics: Metrics) -> Results:
    """Every trial of ``workflow``; ``loops`` names the steps that loop over the trials (None: any loop)."""
    status = workflow.get("status")
    status = status if isinstance(status, Mapping) else {}
    nodes, problem = nodes_of(status)
    if nodes is None:
        return Results({}, known=False, reason=problem)
    wanted = set(loops) if loops else None
    by_id = {node_id: node for node_id, node in nodes.items() if isinstance(node, Mapping)}
    expanded: dict[str, int] = {}
    for node_id, node in by_id.items():
        iteration = argo.loop_iteration(_text(node.get("displayName")))
        if iteration and (wanted is None or iteration[0] in wanted):
            expanded[node_id] = iteration[1]
    inner = {child for node_id in expanded for child in _children(by_id.get(node_id))}
    trial_nodes: dict[int, list[Mapping[str, Any]]] = {}
    for node_id, index in expanded.items():
        if node_id not in inner:  # a retry's attempts carry the same name: the Retry node above them is the trial
            trial_nodes.setdefault(index, []).append(by_id[node_id])
    trials = {index: _trial(index, found, by_id, metrics) for index, found in sorted(trial_nodes.items())}
    return Results(trials)


def nodes_of(status: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None]:
    """The node map of a Workflow status (decoding ``compressedNodes``), or None and why it cannot be read."""
    nodes = status.get("nodes")
    if isinstance(nodes, Mapping) and nodes:
        return nodes, None
    compressed = status.get("compressedNodes")
    if isinstance(compressed, str) and compressed:
        return decode_compressed(compressed)
    offloaded = status.get("offloadNodeStatusVersion")
    if offloaded:
        return None, ("Argo offloaded the node status to its database (status.offloadNodeStatusVersion), which "
                      "this function cannot read: trial counts and results are unknown; `argo get` shows them")
    return (nodes if isinstance(nodes, Mapping) else {}), None


def decode_compressed(text: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """``status.compressedNodes`` (base64 of gzip of the nodes' JSON), bounded by :data:`MAX_NODES_BYTES`."""
    try:
        packed = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
        raw = inflater.decompress(packed, MAX_NODES_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error) as exc:
        return None, f"status.compressedNodes is not base64-encoded gzip ({exc}): trial results are unknown"
    if len(raw) > MAX_NODES_BYTES or inflater.unconsumed_tail:
        return None, (f"status.compressedNodes decompresses to more than {MAX_NODES_BYTES >> 20} MiB, more than "
                      "this function reads: trial results are unknown")
    try:
        nodes = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return None, f"status.compressedNodes does not hold JSON ({type(exc).__name__}): trial results are unknown"
    if not isinstance(nodes, dict) or len(nodes) > MAX_NODES:
        return None, "status.compressedNodes does not hold a map of nodes: trial results are unknown"
    return nodes, None


def _trial(index: int, nodes: list[Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]],
           metrics: Metrics) -> TrialResult:
    phases = [_text(node.get("phase")) for node in nodes]
    if any(phase in _NODE_FAILED for phase in phases):
        message = next((_text(n.get("message")) for n in nodes if _text(n.get("phase")) in _NODE_FAILED), "")
        return TrialResult(index, FAILED, reason="the trial failed" + (f": {message[:200]}" if message else ""))
    if not phases or any(phase != NodePhase.SUCCEEDED for phase in phases):
        return TrialResult(index, RUNNING if NodePhase.RUNNING in phases else PENDING)
    if metrics.objective is None:
        return TrialResult(index, SUCCEEDED)
    extra = {}
    for name in metrics.additional:
        number, _ = _metric(nodes, by_id, name)
        if number is not None:
            extra[name] = number
    value, reason = _metric(nodes, by_id, metrics.objective)
    return TrialResult(index, SUCCEEDED, value, extra, reason)


def _metric(nodes: list[Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]],
            name: str) -> tuple[float | None, str | None]:
    """The value of output parameter ``name``: the trial's node's own, else its last-finished succeeded descendant's."""
    for node in nodes:
        if (raw := _output(node, name)) is not None:
            return _number(raw, name)
    reporters = []
    for node in _descendants(nodes, by_id):
        if _text(node.get("phase")) == NodePhase.SUCCEEDED and (raw := _output(node, name)) is not None:
            reporters.append((_text(node.get("finishedAt")), _text(node.get("id")), raw))
    if reporters:
        return _number(max(reporters)[2], name)
    return None, f"no output parameter {name!r}: declare it in the trial's template (outputs.parameters)"


def _descendants(roots: list[Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    seen: set[str] = set()
    level = [child for root in roots for child in _children(root)]
    for _ in range(MAX_DEPTH):
        following = []
        for node_id in level:
            if node_id in seen or node_id not in by_id:
                continue
            seen.add(node_id)
            yield by_id[node_id]
            following.extend(_children(by_id[node_id]))
        if not following:
            return
        level = following


def _output(node: Mapping[str, Any], name: str) -> Any:
    outputs = node.get("outputs")
    parameters = outputs.get("parameters") if isinstance(outputs, Mapping) else None
    if not isinstance(parameters, list):
        return None
    for parameter in parameters:
        if isinstance(parameter, Mapping) and parameter.get("name") == name and "value" in parameter:
            return parameter["value"]
    return None


def _number(raw: Any, name: str) -> tuple[float | None, str | None]:
    shown = raw if isinstance(raw, str) and len(raw) <= 40 else f"{_text(raw)[:40]}..."
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None, f"output parameter {name!r} is not a number"
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (ValueError, OverflowError):
        return None, f"output parameter {name!r} is {shown!r}, not a number"
    if not math.isfinite(value):
        return None, f"output parameter {name!r} is {shown!r}, not a finite number"
    return value, None


def _children(node: Mapping[str, Any] | None) -> list[str]:
    children = node.get("children") if node is not None else None
    return [child for child in children if isinstance(child, str)] if isinstance(children, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def better(goal: str, value: float, than: float | None) -> bool:
    """Whether ``value`` beats ``than`` under ``goal`` (maximize | minimize)."""
    return than is None or (value > than if goal == "maximize" else value < than)


def reaches(goal: str, value: float, target: float) -> bool:
    """Whether ``value`` reaches ``target``: >= for maximize, <= for minimize."""
    return value >= target if goal == "maximize" else value <= target
