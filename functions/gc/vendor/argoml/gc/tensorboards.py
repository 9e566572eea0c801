"""Which TensorBoard instances (spawned by the tensorboard function) a GC run removes.

An instance is a Knative Service, or a Deployment with a core Service, carrying the
labels ``app.kubernetes.io/managed-by: argoml-tensorboard`` and
``argoml.io/tensorboard-workflow: <workflow>`` (owned by argoml/tensorboard/labels.py);
the tensorboard function stamps
``argoml.io/last-accessed`` (RFC 3339) on it when it is used. Only objects carrying
both labels are ever listed or removed. One goes when it was last accessed (else
created) longer than ``tensorboardTTLHours`` ago, or when its workflow no longer
exists (confirmed with a GET, as for orphan pods). The workflow is the one its
ownerReferences name (with its uids); the label is only a fallback, because a name
longer than a label value allows is shortened there with a hash.
A sweep's instance is owned by its HyperparamWorkflow instead, and goes when that is gone
(one GET of it per run; the sweep's Workflows come and go as its trials run).
Objects with a controller (for example the Deployment Knative makes for a Revision,
which inherits the labels) are left to their owner. A core Service follows the
verdict of the Deployment of the same instance, which carries the access time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argoml import argo, kube
from argoml.gc.policy import Policy
from argoml.gc.selection import FINISH_TIME_UNKNOWN, UNLABELLED, Orphan, Verdict, WorkflowIndex
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS as SWEEPS
from argoml.kube import Obj
from argoml.tensorboard.labels import LAST_ACCESSED_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, WORKFLOW_LABEL
from argoml.timestamps import parse_rfc3339

IN_USE = "tensorboard-in-use"
CONTROLLED = "tensorboard-part-owned-elsewhere"
TERMINATING = "tensorboard-terminating"


def instance_of(obj: Obj) -> tuple[str, str]:
    """(namespace, workflow): the instance an object belongs to."""
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace", "")), str((metadata.get("labels") or {}).get(WORKFLOW_LABEL, ""))


def judge_tensorboard(obj: Obj, index: WorkflowIndex, policy: Policy, now: datetime) -> Verdict:
    """Why this part of a TensorBoard instance stays, ``None`` when it goes, or an Orphan to confirm."""
    assert policy.tensorboard_ttl_hours is not None
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or not labels.get(WORKFLOW_LABEL):
        return UNLABELLED
    if any(ref.get("controller") for ref in metadata.get("ownerReferences") or []):
        return CONTROLLED
    if metadata.get("deletionTimestamp"):
        return TERMINATING
    annotations = metadata.get("annotations") or {}
    last = parse_rfc3339(annotations.get(LAST_ACCESSED_ANNOTATION) or metadata.get("creationTimestamp"))
    if last is not None and now - last >= timedelta(hours=policy.tensorboard_ttl_hours):
        return None
    namespace, workflow = instance_of(obj)
    if sweeps := kube.owner_references(obj, SWEEPS):  # a sweep's instance: owned by its HyperparamWorkflow
        sweep = sweeps[-1]
        return Orphan(namespace, str(sweep.get("name") or workflow), sweep.get("uid") or None, SWEEPS, IN_USE)
    # A workflow submitted again under the same name adopts the instance: until Kubernetes' garbage
    # collector drops the earlier workflow's dangling reference, both are listed, the newest last.
    owners = argo.workflow_owners(obj)
    workflow = owners[-1]["name"] if owners else workflow
    uids = {ref.get("uid") for ref in owners} - {None, ""}
    entry = index.get(namespace, workflow)
    if entry is None or (uids and entry.uid not in uids):
        return Orphan(namespace, workflow, (owners[-1].get("uid") or None) if owners else None)
    return IN_USE if last is not None else FINISH_TIME_UNKNOWN

