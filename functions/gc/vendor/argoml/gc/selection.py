"""Which objects a policy deletes: pure decisions over listed objects, with the reason for each keep.

Safety rules, in the order they are checked for a pod:

1. only pods labelled ``workflows.argoproj.io/workflow`` and not marked active by Argo
   (``workflows.argoproj.io/completed`` not ``"false"``): the list asks the server for
   those only (the label is checked again here);
2. never a pod that is still running: phase ``Succeeded`` or ``Failed`` only (``Running``,
   ``Pending``, ``Unknown`` or no phase are kept), and never one already terminating;
3. a pod of an existing workflow goes only when that workflow is finished (``Succeeded``,
   ``Failed``, ``Error``), its ``finishedAt`` is readable and older than ``maxAgeHours``
   (``keepFailedHours`` for ``Failed``/``Error``), and the policy applies to it
   (selector, name prefixes, invert);
4. an orphan (its workflow is gone, or its owner is an older workflow of the same name)
   goes only when the policy collects orphans and its own finish time is older than
   ``maxAgeHours``; it is returned as an :class:`Orphan` for the collector to confirm
   with a GET of the workflow just before deleting (a workflow created after the
   workflows were listed must not make its pods look orphaned).

A pod's own finish time is the latest ``state.terminated.finishedAt`` of its
containers (init containers included); failing that, the latest
``lastTransitionTime`` of its conditions (the kubelet flips ``Ready`` when the last
container stops). Without either, the pod is kept.

Workflows are written by their users, status included (Argo's CRD has no status
subresource), so nothing in one is trusted to have the type Argo gives it: a workflow
whose status cannot be read (a ``phase`` that is an object, a value nested deeper than
:mod:`argoml.jsonread` reads) is kept, with its pods, and named in the summary with the
reason; the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argoml import argo, kube
from argoml.gc.policy import Policy, show
from argoml.jsonread import Malformed
from argoml.kube import Obj
from argoml.timestamps import parse_rfc3339

FINISHED_POD_PHASES = frozenset({"Succeeded", "Failed"})

# What the API server filters for us: labelled pods Argo has not marked as still active, not running.
POD_LABEL_SELECTOR = f"{argo.WORKFLOW_LABEL},{argo.COMPLETED_LABEL}!=false"
POD_FIELD_SELECTOR = "status.phase!=Running,status.phase!=Pending"

# Reasons for keeping, as counted in the summary.
NOT_IN_POLICY = "workflow-not-in-policy"
WORKFLOW_NOT_FINISHED = "workflow-not-finished"
WORKFLOW_TOO_RECENT = "workflow-too-recent"
FAILED_KEPT_LONGER = "failed-kept-longer"
FINISH_TIME_UNKNOWN = "finish-time-unknown"
UNLABELLED = "unlabelled"
POD_NOT_FINISHED = "pod-not-finished"
POD_TERMINATING = "pod-terminating"
ORPHANS_NOT_COLLECTED = "orphans-not-collected"
ORPHAN_TOO_RECENT = "orphan-too-recent"
WORKFLOW_REAPPEARED = "workflow-created-during-run"
WORKFLOW_MALFORMED = "workflow-malformed"
MALFORMED_LISTED = 20  # malformed workflows named in a summary (all are counted)


@dataclass(frozen=True, slots=True)
class Indexed:
    """What a pod needs to know about its workflow: which one it is, and whether its pods may go."""

    uid: str
    keep_reason: str | None  # None: its finished pods may be deleted


@dataclass(frozen=True)
class Orphan:
    """A verdict "delete, if its workflow is really gone": ``owner_uid`` is the workflow it belonged to
    (``owner``: the kind of that owner; a sweep's TensorBoard belongs to its HyperparamWorkflow)."""

    namespace: str
    workflow: str
    owner_uid: str | None
    owner: kube.Resource = argo.WORKFLOWS
    kept_as: str = WORKFLOW_REAPPEARED  # the reason to keep it when its owner does exist

    def still_gone(self, current_uid: str | None) -> bool:
        """Whether the workflow now named so (``None``: none) is still not this pod's workflow."""
        return current_uid is None or (self.owner_uid is not None and self.owner_uid != current_uid)


Verdict = str | Orphan | None  # a reason to keep, a deletion pending confirmation, or "delete"


@dataclass
class WorkflowIndex:
    """Every workflow in the policy's namespaces, reduced to :class:`Indexed` (a few dozen bytes each).

    ``malformed`` names the first :data:`MALFORMED_LISTED` workflows that could not be read,
    with the reason; ``malformed_count`` counts them all.
    """

    entries: dict[tuple[str, str], Indexed] = field(default_factory=dict)
    malformed: list[dict[str, str]] = field(default_factory=list)
    malformed_count: int = 0

    def add(self, workflow: Obj, policy: Policy, now: datetime) -> None:
        metadata = mapping(workflow.get("metadata"))
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        problem = workflow_problem(workflow)
        if problem is not None:
            self.malformed_count += 1
            if len(self.malformed) < MALFORMED_LISTED:
                self.malformed.append({"object": f"{argo.WORKFLOWS.display}/{key[0]}/{key[1]}", "reason": problem})
        reason = WORKFLOW_MALFORMED if problem is not None else workflow_keep_reason(workflow, policy, now)
        self.entries[key] = Indexed(str(metadata.get("uid", "")), reason)

    def get(self, namespace: str, name: str) -> Indexed | None:
        return self.entries.get((namespace, name))

    def __len__(self) -> int:
        return len(self.entries)


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one: for fields that may be absent or of any type."""
    return value if isinstance(value, Mapping) else {}


def workflow_problem(workflow: Obj) -> str | None:
    """Why the fields GC reads from ``workflow`` cannot be trusted, or ``None`` when they can."""
    if isinstance(workflow, Malformed):
        return workflow.reason
    labels = mapping(workflow.get("metadata")).get("labels")
    if labels is not None and not (isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())):
        return f"metadata.labels: expected an object of strings, got {show(labels)}"
    status = workflow.get("status")
    if status is None:
        return None
    if not isinstance(status, Mapping):
        return f"status: expected an object, got {show(status)}"
    for name in ("phase", "finishedAt"):
        if status.get(name) is not None and not isinstance(status[name], str):
            return f"status.{name}: expected a string, got {show(status[name])}"
    return None


def workflow_keep_reason(workflow: Obj, policy: Policy, now: datetime) -> str | None:
    """Why the pods of ``workflow`` must stay, or ``None`` when they may go."""
    if workflow_problem(workflow) is not None:
        return WORKFLOW_MALFORMED
    metadata, status = mapping(workflow.get("metadata")), mapping(workflow.get("status"))
    if not policy.applies_to(str(metadata.get("name", "")), metadata.get("labels")):
        return NOT_IN_POLICY
    phase = status.get("phase")
    if phase not in argo.FINISHED_PHASES:
        return WORKFLOW_NOT_FINISHED
    finished = parse_rfc3339(status.get("finishedAt"))
    if finished is None:
        return FINISH_TIME_UNKNOWN
    age = now - finished
    if age < timedelta(hours=policy.max_age_hours):
        return WORKFLOW_TOO_RECENT
    if phase in argo.FAILED_PHASES and age < timedelta(hours=policy.keep_failed_hours):
        return FAILED_KEPT_LONGER
    return None


def judge_pod(pod: Obj, index: WorkflowIndex, policy: Policy, now: datetime) -> Verdict:
    """Why ``pod`` must stay, ``None`` when it may be deleted, or an :class:`Orphan` to confirm."""
    metadata = mapping(pod.get("metadata"))
    workflow = mapping(metadata.get("labels")).get(argo.WORKFLOW_LABEL)
    if not workflow or not isinstance(workflow, str):
        return UNLABELLED
    if metadata.get("deletionTimestamp"):
        return POD_TERMINATING
    phase = mapping(pod.get("status")).get("phase")
    if isinstance(pod, Malformed) or not isinstance(phase, str) or phase not in FINISHED_POD_PHASES:
        return POD_NOT_FINISHED
    namespace = str(metadata.get("namespace", ""))
    owners = argo.workflow_owners(pod)
    entry, owner = index.get(namespace, workflow), (owners[0].get("uid") or None) if owners else None
    if entry is not None and owner in (None, entry.uid):
        return entry.keep_reason
    if not policy.orphans:
        return ORPHANS_NOT_COLLECTED
    finished = pod_finished_at(pod)
    if finished is None:
        return FINISH_TIME_UNKNOWN
    if now - finished < timedelta(hours=policy.max_age_hours):
        return ORPHAN_TOO_RECENT
    return Orphan(namespace, workflow, owner)


def pod_finished_at(pod: Obj) -> datetime | None:
    """When ``pod`` finished by its own account (see the module's docstring), or ``None``."""
    status = mapping(pod.get("status"))
    statuses = _objects(status.get("containerStatuses")) + _objects(status.get("initContainerStatuses"))
    times = [parse_rfc3339(mapping(mapping(s.get("state")).get("terminated")).get("finishedAt")) for s in statuses]
    if not any(times):
        times = [parse_rfc3339(c.get("lastTransitionTime")) for c in _objects(status.get("conditions"))]
    return max((t for t in times if t is not None), default=None)


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The JSON objects in ``value`` if it is a list (anything else: none)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []

