"""gc's decisions, rule by rule, without a cluster: which workflows' pods may go, which pods, which TensorBoards.

Each table reads as the rules in argoml/gc/selection.py and argoml/gc/tensorboards.py, in
the order they are checked; every row is one rule and names the reason it keeps (or
``None``: the object goes). The runs against the emulator (test_gc.py) cover what crosses
the API: listing, confirming orphans, deleting.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from argoml import argo
from argoml.gc import selection, tensorboards
from argoml.gc.policy import Policy, parse_policy
from argoml.gc.selection import Orphan, Verdict, WorkflowIndex, judge_pod, workflow_keep_reason
from argoml.tensorboard import labels
from argoml.timestamps import format_rfc3339

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(max_age_hours=24, keep_failed_hours=72, tensorboard_ttl_hours=12)


def ago(hours: float) -> str:
    return format_rfc3339(NOW - timedelta(hours=hours))


def workflow(phase: str | None = "Succeeded", finished: str | None = ago(48), name: str = "train",
             labels: dict[str, str] | None = None, uid: str = "wf-uid") -> dict[str, Any]:
    status = {k: v for k, v in (("phase", phase), ("finishedAt", finished)) if v is not None}
    return {"metadata": {"name": name, "namespace": "ml", "uid": uid, "labels": labels or {}}, "status": status}


# --- which workflows' pods may go --------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "obj", "reason"), [
    pytest.param(parse_policy({"namePrefixes": ["nightly-"]}, {}), workflow(), selection.NOT_IN_POLICY,
                 id="a workflow the policy does not select keeps its pods"),
    pytest.param(POLICY, workflow(phase="Running", finished=None), selection.WORKFLOW_NOT_FINISHED,
                 id="a running workflow keeps its pods"),
    pytest.param(POLICY, workflow(phase=None, finished=None), selection.WORKFLOW_NOT_FINISHED,
                 id="a workflow with no phase yet keeps its pods"),
    pytest.param(POLICY, workflow(finished=None), selection.FINISH_TIME_UNKNOWN,
                 id="a finished workflow without finishedAt keeps its pods"),
    pytest.param(POLICY, workflow(finished="yesterday"), selection.FINISH_TIME_UNKNOWN,
                 id="an unreadable finishedAt keeps its pods"),
    pytest.param(POLICY, workflow(finished=ago(23)), selection.WORKFLOW_TOO_RECENT,
                 id="a workflow finished less than maxAgeHours ago keeps its pods"),
    pytest.param(POLICY, workflow(phase="Failed", finished=ago(48)), selection.FAILED_KEPT_LONGER,
                 id="a failed workflow keeps its pods for keepFailedHours"),
    pytest.param(POLICY, workflow(phase="Error", finished=ago(48)), selection.FAILED_KEPT_LONGER,
                 id="an errored workflow counts as failed"),
    pytest.param(POLICY, workflow(phase="Failed", finished=ago(73)), None,
                 id="a failed workflow older than keepFailedHours lets its pods go"),
    pytest.param(POLICY, workflow(finished=ago(25)), None,
                 id="a succeeded workflow older than maxAgeHours lets its pods go"),
    pytest.param(parse_policy({"maxAgeHours": 24, "selector": "team=vision", "invert": True}, {}),
                 workflow(labels={"team": "nlp"}), None, id="invert selects what the selector does not"),
])
def test_workflow_keep_reason(policy: Policy, obj: dict[str, Any], reason: str | None) -> None:
    assert workflow_keep_reason(obj, policy, NOW) == reason


# --- which pods go -------------------------------------------------------------------------------------------


def pod(workflow_name: str | None = "train", phase: str = "Succeeded", owner_uid: str | None = "wf-uid",
        finished: str | None = ago(48), terminating: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "train-1", "namespace": "ml",
                                "labels": {argo.WORKFLOW_LABEL: workflow_name} if workflow_name else {}}
    if owner_uid is not None:
        metadata["ownerReferences"] = [{"apiVersion": argo.API_VERSION, "kind": "Workflow", "name": workflow_name,
                                        "uid": owner_uid}]
    if terminating:
        metadata["deletionTimestamp"] = ago(0)
    state = {"terminated": {"finishedAt": finished}} if finished else {}
    return {"metadata": metadata, "status": {"phase": phase, "containerStatuses": [{"state": state}]}}


def index_of(*workflows: dict[str, Any], policy: Policy = POLICY) -> WorkflowIndex:
    index = WorkflowIndex()
    for obj in workflows:
        index.add(obj, policy, NOW)
    return index


FINISHED_LONG_AGO = index_of(workflow())
RECENT = index_of(workflow(finished=ago(1)))
NO_WORKFLOWS = index_of()


@pytest.mark.parametrize(("obj", "index", "policy", "verdict"), [
    pytest.param(pod(workflow_name=None), FINISHED_LONG_AGO, POLICY, selection.UNLABELLED,
                 id="a pod without the workflow label is never touched"),
    pytest.param(pod(terminating=True), FINISHED_LONG_AGO, POLICY, selection.POD_TERMINATING,
                 id="a pod already being deleted is left to finish"),
    pytest.param(pod(phase="Running"), FINISHED_LONG_AGO, POLICY, selection.POD_NOT_FINISHED,
                 id="a running pod stays"),
    pytest.param(pod(phase="Unknown"), FINISHED_LONG_AGO, POLICY, selection.POD_NOT_FINISHED,
                 id="a pod in phase Unknown stays"),
    pytest.param(pod(), RECENT, POLICY, selection.WORKFLOW_TOO_RECENT,
                 id="a pod of its workflow follows the workflow's verdict"),
    pytest.param(pod(), FINISHED_LONG_AGO, POLICY, None,
                 id="a finished pod of a workflow whose pods may go goes"),
    pytest.param(pod(owner_uid=None), FINISHED_LONG_AGO, POLICY, None,
                 id="a pod without ownerReferences belongs to the workflow of its label"),
    pytest.param(pod(), NO_WORKFLOWS, replace(POLICY, orphans=False), selection.ORPHANS_NOT_COLLECTED,
                 id="an orphan stays when the policy does not collect orphans"),
    pytest.param(pod(finished=None), NO_WORKFLOWS, POLICY, selection.FINISH_TIME_UNKNOWN,
                 id="an orphan without a finish time of its own stays"),
    pytest.param(pod(finished=ago(23)), NO_WORKFLOWS, POLICY, selection.ORPHAN_TOO_RECENT,
                 id="an orphan that finished less than maxAgeHours ago stays"),
    pytest.param(pod(), NO_WORKFLOWS, POLICY, Orphan("ml", "train", "wf-uid"),
                 id="an old orphan goes once its workflow is confirmed gone"),
    pytest.param(pod(owner_uid="earlier-uid"), FINISHED_LONG_AGO, POLICY, Orphan("ml", "train", "earlier-uid"),
                 id="a pod of an earlier workflow of the same name is an orphan"),
])
def test_judge_pod(obj: dict[str, Any], index: WorkflowIndex, policy: Policy, verdict: Verdict) -> None:
    assert judge_pod(obj, index, policy, NOW) == verdict


# --- which TensorBoard instances go --------------------------------------------------------------------------


def instance(accessed: str | None = ago(1), created: str | None = ago(100), labelled: bool = True,
             owner_uid: str | None = "wf-uid", controlled: bool = False, terminating: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "tb-train", "namespace": "ml",
        "labels": {labels.MANAGED_BY_LABEL: labels.MANAGED_BY, labels.WORKFLOW_LABEL: "train"} if labelled else {},
        "annotations": {labels.LAST_ACCESSED_ANNOTATION: accessed} if accessed else {}}
    if created:
        metadata["creationTimestamp"] = created
    references: list[dict[str, Any]] = []
    if owner_uid:
        references.append({"apiVersion": argo.API_VERSION, "kind": "Workflow", "name": "train", "uid": owner_uid})
    if controlled:
        references.append({"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "name": "r", "uid": "r",
                           "controller": True})
    metadata["ownerReferences"] = references
    if terminating:
        metadata["deletionTimestamp"] = ago(0)
    return {"metadata": metadata}


@pytest.mark.parametrize(("obj", "index", "verdict"), [
    pytest.param(instance(labelled=False), FINISHED_LONG_AGO, selection.UNLABELLED,
                 id="an object without both instance labels is never touched"),
    pytest.param(instance(controlled=True), FINISHED_LONG_AGO, tensorboards.CONTROLLED,
                 id="a part with a controller is left to its controller"),
    pytest.param(instance(terminating=True), FINISHED_LONG_AGO, tensorboards.TERMINATING,
                 id="an instance being deleted is left to finish"),
    pytest.param(instance(accessed=ago(13)), FINISHED_LONG_AGO, None,
                 id="an instance not accessed for tensorboardTTLHours goes"),
    pytest.param(instance(accessed=None, created=ago(13)), FINISHED_LONG_AGO, None,
                 id="without an access time, its creation counts"),
    pytest.param(instance(accessed=ago(1)), FINISHED_LONG_AGO, tensorboards.IN_USE,
                 id="an instance used recently stays"),
    pytest.param(instance(accessed=None, created=None), FINISHED_LONG_AGO, selection.FINISH_TIME_UNKNOWN,
                 id="an instance with no time at all stays"),
    pytest.param(instance(), NO_WORKFLOWS, Orphan("ml", "train", "wf-uid"),
                 id="an instance whose workflow is gone goes once that is confirmed"),
    pytest.param(instance(owner_uid="earlier-uid"), FINISHED_LONG_AGO, Orphan("ml", "train", "earlier-uid"),
                 id="an instance of an earlier workflow of the same name is an orphan"),
])
def test_judge_tensorboard(obj: dict[str, Any], index: WorkflowIndex, verdict: Verdict) -> None:
    assert tensorboards.judge_tensorboard(obj, index, POLICY, NOW) == verdict
