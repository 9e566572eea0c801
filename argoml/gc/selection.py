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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argoml import argo
from argoml.gc.policy import Policy
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


@dataclass(frozen=True, slots=True)
class Indexed:
    """What a pod needs to know about its workflow: which one it is, and whether its pods may go."""

    uid: str
    keep_reason: str | None  # None: its finished pods may be deleted


@dataclass(frozen=True)
class Orphan:
    """A verdict "delete, if its workflow is really gone": ``owner_uid`` is the workflow it belonged to."""

    namespace: str
    workflow: str
    owner_uid: str | None

    def still_gone(self, current_uid: str | None) -> bool:
        """Whether the workflow now named so (``None``: none) is still not this pod's workflow."""
        return current_uid is None or (self.owner_uid is not None and self.owner_uid != current_uid)


Verdict = str | Orphan | None  # a reason to keep, a deletion pending confirmation, or "delete"


@dataclass
class WorkflowIndex:
    """Every workflow in the policy's namespaces, reduced to :class:`Indexed` (a few dozen bytes each)."""

    entries: dict[tuple[str, str], Indexed] = field(default_factory=dict)

    def add(self, workflow: Obj, policy: Policy, now: datetime) -> None:
        metadata = workflow.get("metadata") or {}
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        self.entries[key] = Indexed(str(metadata.get("uid", "")), workflow_keep_reason(workflow, policy, now))

    def get(self, namespace: str, name: str) -> Indexed | None:
        return self.entries.get((namespace, name))

    def __len__(self) -> int:
        return len(self.entries)


def workflow_keep_reason(workflow: Obj, policy: Policy, now: datetime) -> str | None:
    """Why the pods of ``workflow`` must stay, or ``None`` when they may go."""
    metadata, status = workflow.get("metadata") or {}, workflow.get("status") or {}
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
    metadata = pod.get("metadata") or {}
    workflow = (metadata.get("labels") or {}).get(argo.WORKFLOW_LABEL)
    if not workflow:
        return UNLABELLED
    if metadata.get("deletionTimestamp"):
        return POD_TERMINATING
    if (pod.get("status") or {}).get("phase") not in FINISHED_POD_PHASES:
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
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    times = [parse_rfc3339(((s.get("state") or {}).get("terminated") or {}).get("finishedAt")) for s in statuses]
    if not any(times):
        times = [parse_rfc3339(c.get("lastTransitionTime")) for c in status.get("conditions") or []]
    return max((t for t in times if t is not None), default=None)

