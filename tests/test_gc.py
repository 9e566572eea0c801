"""The gc function against the emulated cluster: what goes, what stays and why, at any scale.

Workflows and pods are seeded as Argo's controller leaves them; the function is
driven with PingSource events exactly as Knative sends them, or (for pacing, which
needs a fake clock) the library's ``collect`` is called directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import flask.testing
import pytest

from argoml import gc
from argoml.dev import knative
from argoml.dev.argo_objects import seed, seed_pod
from argoml.dev.emulator import Emulator
from argoml.dev.store import Store
from argoml.tensorboard.labels import LAST_ACCESSED_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, WORKFLOW_LABEL
from argoml.timestamps import format_rfc3339
from tests import workflow_status
from tests.clock import FakeClock
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, workflow

NOW = datetime.now(UTC)
Serve = Callable[[str], flask.testing.FlaskClient]


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def pod_names(store: Store, namespace: str | None = None) -> set[str]:
    return {p["metadata"]["name"] for p in store.find(store.type_of("", "v1", "pods"), namespace)}


def ping(serve: Serve, data: Any, *, event_id: str | None = None) -> tuple[int, dict[str, Any]]:
    headers, body = knative.ping_event(data, event_id=event_id)
    response = serve("gc").post("/", headers=headers, data=body)
    return response.status_code, response.get_json()


def gc_calls(cluster: Emulator, verb: str | None = None, resource: str | None = None) -> list[Any]:
    return [c for c in cluster.calls if c.agent == "argoml-gc" and verb in (None, c.verb)
            and resource in (None, c.resource)]


# --- the basic rule -----------------------------------------------------------------------------------------


def test_pods_of_workflows_finished_longer_ago_than_the_policy_allows_are_deleted(cluster: Emulator,
                                                                                  serve: Serve) -> None:
    old = seed(cluster.store, "ml", "train-old", phase="Succeeded", finished_at=ago(200))
    recent = seed(cluster.store, "ml", "train-recent", phase="Succeeded", finished_at=ago(100))
    status, summary = ping(serve, {"maxAgeHours": 168})
    assert status == 200
    assert sorted(summary["deleted"]["pods"]) == [f"ml/{name}" for name in old]
    assert pod_names(cluster.store) == set(recent)
    assert summary["kept"] == {"workflow-too-recent": 2}
    assert summary["examined"] == {"workflows": 2, "pods": 4, "tensorboards": 0}
    assert summary["complete"] and summary["errors"] == [] and summary["wouldDelete"] == {}
    assert summary["policy"]["maxAgeHours"] == 168 and summary["source"].endswith("/pingsources/gc")


def test_max_age_is_measured_from_finished_at_in_any_rfc3339_form(cluster: Emulator, serve: Serve) -> None:
    workflows = cluster.store.type_of("argoproj.io", "v1alpha1", "workflows")
    seed(cluster.store, "ml", "offset", phase="Succeeded", finished_at=ago(1))
    seed(cluster.store, "ml", "fraction", phase="Succeeded", finished_at=ago(1))
    forms = {"offset": (ago(30) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
             "fraction": ago(30).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")}
    for name, finished in forms.items():
        cluster.store.patch(workflows, "ml", name, {"status": {"finishedAt": finished}},
                            "application/merge-patch+json", subresource="status")
    _, keep = ping(serve, {"maxAgeHours": 31})
    assert keep["deleted"] == {} and keep["kept"] == {"workflow-too-recent": 4}
    _, delete = ping(serve, {"maxAgeHours": 29})
    assert len(delete["deleted"]["pods"]) == 4


def test_the_api_requests_carry_the_gc_user_agent_and_push_selectors_to_the_server(cluster: Emulator,
                                                                                   serve: Serve) -> None:
    seed(cluster.store, "ml", "done", phase="Succeeded", finished_at=ago(200))
    ping(serve, {"namespaces": ["ml"], "tensorboardTTLHours": None})
    assert {(c.verb, c.resource, c.namespace) for c in gc_calls(cluster)} == {
        ("list", "workflows", "ml"), ("list", "pods", "ml"), ("delete", "pods", "ml")}


# --- safety rules -------------------------------------------------------------------------------------------


def test_finished_pods_of_a_running_or_pending_workflow_stay(cluster: Emulator, serve: Serve) -> None:
    running = seed(cluster.store, "ml", "running", phase="Running", pod_phase="Succeeded")
    pending = seed(cluster.store, "ml", "pending", phase="Pending", pod_phase="Failed")
    unknown = seed(cluster.store, "ml", "no-phase", phase=None, pod_phase="Succeeded")
    status, summary = ping(serve, {"maxAgeHours": 0})
    assert status == 200 and summary["deleted"] == {}
    assert pod_names(cluster.store) == set(running + pending + unknown)
    assert summary["kept"] == {"workflow-not-finished": 6}


def test_pods_still_running_stay_even_when_their_workflow_says_finished(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "done", phase="Succeeded", finished_at=ago(500), pods=1)
    for phase in ("Running", "Pending", "Unknown"):
        seed_pod(cluster.store, "ml", f"done-{phase.lower()}", workflow_name="done", phase=phase, completed=True)
    cluster.store.create(cluster.store.type_of("", "v1", "pods"), "ml",
                         {"metadata": {"name": "done-no-status", "labels": {
                             "workflows.argoproj.io/workflow": "done", "workflows.argoproj.io/completed": "true"}}},
                         keep_status=True)
    _, summary = ping(serve, {"maxAgeHours": 1})
    assert summary["deleted"] == {"pods": ["ml/done-main-0"]}
    assert pod_names(cluster.store) == {"done-running", "done-pending", "done-unknown", "done-no-status"}
    assert summary["kept"] == {"pod-not-finished": 2}, "Running and Pending are filtered out by the server"


def test_pods_without_the_workflow_label_are_never_touched(cluster: Emulator, serve: Serve) -> None:
    seed_pod(cluster.store, "ml", "plain", workflow_name=None, phase="Succeeded", finished_at=ago(1000))
    _, summary = ping(serve, {"maxAgeHours": 0})
    assert pod_names(cluster.store) == {"plain"} and summary["examined"]["pods"] == 0


def test_pods_argo_has_not_marked_completed_are_left_alone(cluster: Emulator, serve: Serve) -> None:
    seed_pod(cluster.store, "ml", "active", workflow_name="gone", phase="Succeeded", finished_at=ago(1000),
             completed=False)
    ping(serve, {"maxAgeHours": 0})
    assert pod_names(cluster.store) == {"active"}


def test_only_the_policys_namespaces_are_read_and_cleaned(cluster: Emulator, serve: Serve) -> None:
    for namespace in ("ml", "vision", "other"):
        seed(cluster.store, namespace, "done", phase="Succeeded", finished_at=ago(500), pods=1)
    _, summary = ping(serve, {"namespaces": ["ml", "vision"]})
    assert sorted(summary["deleted"]["pods"]) == ["ml/done-main-0", "vision/done-main-0"]
    assert pod_names(cluster.store) == {"done-main-0"} and pod_names(cluster.store, "other") == {"done-main-0"}
    assert {c.namespace for c in gc_calls(cluster)} == {"ml", "vision"}


def test_failed_and_errored_workflows_are_kept_longer(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "failed-young", phase="Failed", finished_at=ago(200), pods=1)
    seed(cluster.store, "ml", "error-young", phase="Error", finished_at=ago(300), pods=1)
    seed(cluster.store, "ml", "failed-old", phase="Failed", finished_at=ago(400), pods=1)
    seed(cluster.store, "ml", "ok", phase="Succeeded", finished_at=ago(200), pods=1)
    _, summary = ping(serve, {"maxAgeHours": 168, "keepFailedHours": 336})
    assert sorted(summary["deleted"]["pods"]) == ["ml/failed-old-main-0", "ml/ok-main-0"]
    assert summary["kept"] == {"failed-kept-longer": 2}


def test_a_finished_workflow_without_a_readable_finish_time_is_kept(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "no-time", phase="Succeeded", finished_at=None, pods=1)
    _, summary = ping(serve, {"maxAgeHours": 0})
    assert summary["kept"] == {"finish-time-unknown": 1} and pod_names(cluster.store) == {"no-time-main-0"}


# --- which workflows a policy acts on -----------------------------------------------------------------------


@pytest.fixture
def mixed(cluster: Emulator) -> Store:
    cron = {"workflows.argoproj.io/cron-workflow": "nightly-train"}
    seed(cluster.store, "ml", "nightly-train-1", phase="Succeeded", finished_at=ago(300), labels=cron, pods=1)
    seed(cluster.store, "ml", "nightly-eval-1", phase="Succeeded", finished_at=ago(300), pods=1)
    seed(cluster.store, "ml", "adhoc-1", phase="Succeeded", finished_at=ago(300), pods=1)
    return cluster.store


@pytest.mark.parametrize("policy, deleted", [
    ({"selector": "workflows.argoproj.io/cron-workflow"}, ["nightly-train-1"]),
    ({"selector": "workflows.argoproj.io/cron-workflow", "invert": True}, ["adhoc-1", "nightly-eval-1"]),
    ({"namePrefixes": ["nightly-"]}, ["nightly-eval-1", "nightly-train-1"]),
    ({"namePrefixes": ["nightly-"], "invert": True}, ["adhoc-1"]),
    ({"selector": "!workflows.argoproj.io/cron-workflow", "namePrefixes": ["nightly-", "x-"]}, ["nightly-eval-1"]),
])
def test_selector_prefixes_and_invert_choose_the_workflows(mixed: Store, serve: Serve, policy: dict[str, Any],
                                                           deleted: list[str]) -> None:
    _, summary = ping(serve, policy)
    assert sorted(summary["deleted"]["pods"]) == [f"ml/{name}-main-0" for name in deleted]
    assert summary["kept"] == {"workflow-not-in-policy": 3 - len(deleted)}


# --- orphans ------------------------------------------------------------------------------------------------


def test_orphans_go_by_their_own_finish_time(cluster: Emulator, serve: Serve) -> None:
    seed_pod(cluster.store, "ml", "orphan-old", workflow_name="deleted-wf", phase="Succeeded", finished_at=ago(200))
    seed_pod(cluster.store, "ml", "orphan-young", workflow_name="deleted-wf", phase="Failed", finished_at=ago(20))
    seed_pod(cluster.store, "ml", "orphan-undated", workflow_name="deleted-wf", phase="Failed")
    _, summary = ping(serve, {"maxAgeHours": 168})
    assert summary["deleted"] == {"pods": ["ml/orphan-old"]}
    assert summary["kept"] == {"finish-time-unknown": 1, "orphan-too-recent": 1}
    assert len(gc_calls(cluster, "get", "workflows")) == 1, "the orphan's workflow is confirmed gone first"


def test_a_policy_can_leave_orphans_to_another(cluster: Emulator, serve: Serve) -> None:
    seed_pod(cluster.store, "ml", "orphan-old", workflow_name="deleted-wf", phase="Succeeded", finished_at=ago(900))
    _, summary = ping(serve, {"orphans": False})
    assert summary["kept"] == {"orphans-not-collected": 1} and pod_names(cluster.store) == {"orphan-old"}


def test_pods_of_an_earlier_workflow_of_the_same_name_are_orphans(cluster: Emulator, serve: Serve) -> None:
    old = seed(cluster.store, "ml", "retrain", phase="Succeeded", finished_at=ago(300), pods=1)
    workflows = cluster.store.type_of("argoproj.io", "v1alpha1", "workflows")
    cluster.store.delete(workflows, "ml", "retrain", propagation="Orphan")
    new = seed(cluster.store, "ml", "retrain", phase="Running", pod_phase="Succeeded", pods=1, step="prepare")
    _, summary = ping(serve, {"maxAgeHours": 168})
    assert summary["deleted"] == {"pods": [f"ml/{name}" for name in old]}
    assert summary["kept"] == {"workflow-not-finished": 1} and pod_names(cluster.store) == set(new)


# --- TensorBoard instances ----------------------------------------------------------------------------------


def tensorboard(store: Store, kind: str, namespace: str, workflow: str, *, accessed: datetime | None,
                labelled: bool = True, controller: bool = False, name: str | None = None) -> None:
    resources = {"ksvc": ("serving.knative.dev", "v1", "services"), "deployment": ("apps", "v1", "deployments"),
                 "service": ("", "v1", "services")}
    labels = {MANAGED_BY_LABEL: MANAGED_BY, WORKFLOW_LABEL: workflow} if labelled else {WORKFLOW_LABEL: workflow}
    metadata: dict[str, Any] = {"name": name or f"tb-{workflow}", "labels": labels}
    if accessed is not None:
        metadata["annotations"] = {LAST_ACCESSED_ANNOTATION: format_rfc3339(accessed)}
    if controller:
        metadata["ownerReferences"] = [{"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
                                        "name": "r", "uid": "u", "controller": True}]
    store.create(store.type_of(*resources[kind]), namespace, {"metadata": metadata, "spec": {}})


def names(store: Store, *resource: str) -> set[str]:
    return {o["metadata"]["name"] for o in store.find(store.type_of(*resource))}


def test_idle_tensorboards_and_those_of_deleted_workflows_are_removed(cluster: Emulator, serve: Serve) -> None:
    store = cluster.store
    seed(store, "ml", "live", phase="Succeeded", finished_at=ago(1), pods=0)
    tensorboard(store, "ksvc", "ml", "live", accessed=ago(1), name="tb-used")
    tensorboard(store, "ksvc", "ml", "live", accessed=ago(48), name="tb-idle")
    tensorboard(store, "ksvc", "ml", "gone", accessed=ago(1))
    tensorboard(store, "ksvc", "ml", "live", accessed=ago(100), controller=True, name="tb-revision")
    tensorboard(store, "deployment", "ml", "gone", accessed=ago(100))  # another mode's: never listed
    status, summary = ping(serve, {"tensorboardTTLHours": 24})
    assert status == 200
    assert summary["deleted"] == {"services.serving.knative.dev": ["ml/tb-gone", "ml/tb-idle"]}
    assert names(store, "serving.knative.dev", "v1", "services") == {"tb-used", "tb-revision"}
    assert summary["kept"] == {"tensorboard-in-use": 1, "tensorboard-part-owned-elsewhere": 1}
    assert summary["examined"]["tensorboards"] == 4
    assert {c.resource for c in gc_calls(cluster, "list")} == {"workflows", "pods", "services"}
    assert not gc_calls(cluster, resource="deployments")


def test_in_deployment_mode_idle_deployments_and_their_services_are_removed(cluster: Emulator, serve: Serve,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_MODE", "deployment")
    store = cluster.store
    seed(store, "ml", "live", phase="Succeeded", finished_at=ago(1), pods=0)
    tensorboard(store, "deployment", "ml", "gone", accessed=ago(1))
    tensorboard(store, "service", "ml", "gone", accessed=None)
    tensorboard(store, "deployment", "ml", "live", accessed=ago(2), name="tb-pair")
    tensorboard(store, "service", "ml", "live", accessed=None, name="tb-pair")
    tensorboard(store, "deployment", "ml", "live", accessed=ago(100), labelled=False, name="not-ours")
    tensorboard(store, "deployment", "ml", "live", accessed=ago(100), controller=True, name="tb-revision")
    tensorboard(store, "ksvc", "ml", "gone", accessed=ago(100))  # another mode's: never listed
    status, summary = ping(serve, {"tensorboardTTLHours": 24})
    assert status == 200
    assert summary["deleted"] == {"deployments.apps": ["ml/tb-gone"], "services": ["ml/tb-gone"]}
    assert names(store, "apps", "v1", "deployments") == {"tb-pair", "not-ours", "tb-revision"}
    assert names(store, "", "v1", "services") == {"tb-pair"}, "a Service follows its Deployment's access time"
    assert summary["kept"] == {"tensorboard-in-use": 2, "tensorboard-part-owned-elsewhere": 1}
    assert summary["examined"]["tensorboards"] == 5
    assert not [c for c in gc_calls(cluster) if c.group == "serving.knative.dev"]


def test_the_instance_of_a_workflow_whose_name_is_too_long_for_a_label_stays_while_it_is_used(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_AUTH", "off")
    store, name = cluster.store, "nightly-hyperparameter-sweep-of-the-vision-team-resnet50-imagenet-42"
    assert len(name) > 63  # the instance's workflow label is shortened with a hash
    wf = workflow(name, "ml", pod("a", "train", key_only("t.tgz")), repository=MINIO_REPOSITORY)
    workflow_status.seed(cluster, wf)  # with the repository's ConfigMap, which the function reads
    assert serve("tensorboard").put(f"/tensorboards/ml/{name}").status_code == 200
    status, summary = ping(serve, {"tensorboardTTLHours": 24})
    assert status == 200 and summary["deleted"] == {} and summary["kept"]["tensorboard-in-use"] == 1
    assert len(store.find(store.type_of("serving.knative.dev", "v1", "services"), "ml")) == 1


def test_an_instance_adopted_by_a_workflow_submitted_again_is_that_workflows(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBOARD_MODE", "deployment")
    store = cluster.store
    seed(store, "ml", "live", phase="Succeeded", finished_at=ago(1), pods=0)
    uid = store.get(store.type_of("argoproj.io", "v1alpha1", "workflows"), "ml", "live")["metadata"]["uid"]
    owners = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "live", "uid": owner}
              for owner in ("uid-of-the-deleted-one", uid)]  # as a strategic merge leaves them
    store.create(store.type_of("apps", "v1", "deployments"), "ml", {"metadata": {
        "name": "tb-live", "ownerReferences": owners,
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, WORKFLOW_LABEL: "live"},
        "annotations": {LAST_ACCESSED_ANNOTATION: format_rfc3339(ago(1))}}, "spec": {}})
    _, summary = ping(serve, {"tensorboardTTLHours": 24})
    assert summary["deleted"] == {} and summary["kept"] == {"tensorboard-in-use": 1}


def test_tensorboards_can_be_left_alone(cluster: Emulator, serve: Serve) -> None:
    tensorboard(cluster.store, "ksvc", "ml", "gone", accessed=ago(100))
    _, summary = ping(serve, {"tensorboardTTLHours": None})
    assert summary["examined"]["tensorboards"] == 0 and not gc_calls(cluster, resource="services")


# --- dry run, cap, pacing, pagination -----------------------------------------------------------------------


def test_a_dry_run_deletes_nothing_and_shows_what_would_go(cluster: Emulator, serve: Serve) -> None:
    old = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    seed_pod(cluster.store, "ml", "orphan", workflow_name="gone", phase="Succeeded", finished_at=ago(500))
    tensorboard(cluster.store, "ksvc", "ml", "gone", accessed=ago(100))
    _, summary = ping(serve, {"dryRun": True})
    assert summary["dryRun"] and summary["deleted"] == {}
    assert sorted(summary["wouldDelete"]["pods"]) == sorted([f"ml/{n}" for n in old] + ["ml/orphan"])
    assert summary["wouldDelete"]["services.serving.knative.dev"] == ["ml/tb-gone"]
    assert pod_names(cluster.store) == {*old, "orphan"} and not gc_calls(cluster, "delete")


def test_deletions_stop_at_the_cap_and_the_summary_says_so(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=5)
    _, dry = ping(serve, {"maxDeletions": 3, "dryRun": True})
    assert len(dry["wouldDelete"]["pods"]) == 3 and not dry["complete"]
    _, summary = ping(serve, {"maxDeletions": 3})
    assert len(summary["deleted"]["pods"]) == 3 and len(gc_calls(cluster, "delete")) == 3
    assert not summary["complete"] and summary["stopped"] == "maxDeletions (3) reached"
    assert summary["deleted"]["pods"] == dry["wouldDelete"]["pods"], "a dry run shows what the real run does"
    assert len(pod_names(cluster.store)) == 2


def test_lists_are_paginated_and_every_page_is_read(cluster: Emulator, serve: Serve) -> None:
    for index in range(7):
        seed(cluster.store, "ml", f"wf-{index}", phase="Succeeded", finished_at=ago(500), pods=3)
    _, summary = ping(serve, {"pageSize": 4, "tensorboardTTLHours": None})
    assert len(summary["deleted"]["pods"]) == 21 and summary["examined"] == {
        "workflows": 7, "pods": 21, "tensorboards": 0}
    assert len(gc_calls(cluster, "list", "workflows")) == 2 and len(gc_calls(cluster, "list", "pods")) == 6


@pytest.mark.parametrize("resource", ["workflows", "pods"])
def test_a_listing_whose_continue_token_expired_goes_on_from_the_fresh_token(cluster: Emulator, serve: Serve,
                                                                            resource: str) -> None:
    for index in range(3):
        seed(cluster.store, "ml", f"wf-{index}", phase="Succeeded", finished_at=ago(500), pods=2)
    cluster.fail(410, method="GET", resource=resource, after=1)  # the second page's token has expired
    status, summary = ping(serve, {"pageSize": 2, "tensorboardTTLHours": None})
    assert status == 200 and summary["complete"] and summary["errors"] == []
    assert summary["examined"] == {"workflows": 3, "pods": 6, "tensorboards": 0}
    assert sorted(summary["deleted"]["pods"]) == [f"ml/wf-{i}-main-{j}" for i in range(3) for j in range(2)]


def test_a_second_expiry_in_a_row_is_a_listing_failure(cluster: Emulator, serve: Serve) -> None:
    for index in range(3):
        seed(cluster.store, "ml", f"wf-{index}", phase="Succeeded", finished_at=ago(500))
    cluster.fail(410, method="GET", resource="workflows", after=1, times=2)
    status, answer = ping(serve, {"pageSize": 2})
    assert status == 503 and "410" in answer["error"]["message"] and not gc_calls(cluster, "delete")


def test_requests_are_paced_at_the_policys_rate(cluster: Emulator) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=12)
    clock = FakeClock()
    policy = gc.parse_policy({"requestsPerSecond": 4, "tensorboardTTLHours": None}, {})
    summary = gc.collect(policy, clock=clock).to_json()
    assert len(summary["deleted"]["pods"]) == 12 and summary["apiRequests"] == 14
    # A burst of 4, then one request every quarter second: 10 more requests wait 2.5 s in all.
    assert clock.slept == pytest.approx(2.5) and summary["pacedSeconds"] == pytest.approx(2.5)


def test_a_run_stops_deleting_when_its_time_is_up(cluster: Emulator) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=12)
    clock = FakeClock()
    policy = gc.parse_policy({"requestsPerSecond": 1, "maxRunSeconds": 5, "tensorboardTTLHours": None}, {})
    summary = gc.collect(policy, clock=clock).to_json()
    assert not summary["complete"] and summary["stopped"] == "maxRunSeconds (5) reached"
    assert 0 < len(summary["deleted"]["pods"]) < 12 and clock.now < 8


# --- failures and replays -----------------------------------------------------------------------------------


def test_a_failed_delete_is_reported_and_the_run_goes_on(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=3)
    cluster.fail(503, method="DELETE", resource="pods", name="old-main-1")
    status, summary = ping(serve, {})
    assert status == 200 and summary["deleted"] == {"pods": ["ml/old-main-0", "ml/old-main-2"]}
    [error] = summary["errors"]
    assert error["object"] == "pods/ml/old-main-1" and "503" in error["message"]
    assert pod_names(cluster.store) == {"old-main-1"}
    _, retry = ping(serve, {})
    assert retry["deleted"] == {"pods": ["ml/old-main-1"]} and retry["errors"] == []


def test_deleting_a_pod_already_gone_counts_as_done(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=2)
    cluster.fail(404, method="DELETE", resource="pods", name="old-main-0")
    _, summary = ping(serve, {})
    assert summary["deleted"] == {"pods": ["ml/old-main-0", "ml/old-main-1"]} and summary["errors"] == []


def test_a_pod_replaced_since_it_was_listed_is_kept(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=1)
    cluster.fail(409, method="DELETE", resource="pods", name="old-main-0")
    _, summary = ping(serve, {})
    assert summary["deleted"] == {} and summary["kept"] == {"changed-since-listed": 1} and summary["errors"] == []


@pytest.mark.parametrize("resource", ["workflows", "pods"])
def test_a_run_that_cannot_list_answers_503_and_deletes_nothing(cluster: Emulator, serve: Serve,
                                                                resource: str) -> None:
    old = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    cluster.fail(503, method="GET", resource=resource)
    status, answer = ping(serve, {})
    assert status == 503 and f"listing {resource}" in answer["error"]["message"]
    assert pod_names(cluster.store) == set(old) and not gc_calls(cluster, "delete")


def test_a_listing_failure_after_deletions_is_reported_in_the_summary(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "a", phase="Succeeded", finished_at=ago(500), pods=2)
    seed(cluster.store, "ml", "b", phase="Succeeded", finished_at=ago(500), pods=2)
    cluster.fail(503, method="GET", resource="pods", after=1)
    status, summary = ping(serve, {"pageSize": 2})
    assert status == 200 and summary["deleted"] == {"pods": ["ml/a-main-0", "ml/a-main-1"]}
    assert not summary["complete"] and summary["stopped"] == "listing pods failed"
    assert "503" in summary["errors"][0]["message"]


def test_a_replayed_event_changes_nothing(cluster: Emulator, serve: Serve) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    seed(cluster.store, "ml", "young", phase="Succeeded", finished_at=ago(5))
    _, first = ping(serve, {}, event_id="tick-1")
    remaining = pod_names(cluster.store)
    deletes = len(gc_calls(cluster, "delete"))
    _, replay = ping(serve, {}, event_id="tick-1")
    assert len(first["deleted"]["pods"]) == 2 and replay["deleted"] == {} and replay["errors"] == []
    assert pod_names(cluster.store) == remaining and len(gc_calls(cluster, "delete")) == deletes


# --- bad input ----------------------------------------------------------------------------------------------


def test_an_invalid_policy_is_answered_400_naming_the_field_and_nothing_happens(cluster: Emulator,
                                                                              serve: Serve) -> None:
    old = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    status, answer = ping(serve, {"maxAgeHours": -5, "dryRun": False})
    assert status == 400 and answer["error"]["message"].startswith("maxAgeHours: must not be negative")
    status, answer = ping(serve, {"selector": "team in (a"})
    assert status == 400 and answer["error"]["message"].startswith("selector:")
    assert pod_names(cluster.store) == set(old) and gc_calls(cluster) == []


def test_an_invalid_environment_default_is_answered_400(cluster: Emulator, serve: Serve,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_PAGE_SIZE", "lots")
    status, answer = ping(serve, {})
    assert status == 400 and answer["error"]["message"].startswith("GC_PAGE_SIZE:")


def test_an_event_that_is_not_a_ping_is_refused(cluster: Emulator, serve: Serve) -> None:
    headers, body = knative.resource_event("add", {"apiVersion": "v1", "kind": "Pod",
                                                   "metadata": {"name": "p", "namespace": "ml"}})
    response = serve("gc").post("/", headers=headers, data=body)
    assert response.status_code == 400 and "PingSource" in json.loads(response.data)["error"]["message"]



def test_an_orphan_whose_workflow_cannot_be_read_is_kept_and_reported(cluster: Emulator, serve: Serve) -> None:
    seed_pod(cluster.store, "ml", "orphan", workflow_name="gone", phase="Succeeded", finished_at=ago(500))
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=1)
    cluster.fail(503, method="GET", resource="workflows", name="gone")
    status, summary = ping(serve, {})
    assert status == 200 and summary["deleted"] == {"pods": ["ml/old-main-0"]}
    assert summary["kept"] == {"orphan-unconfirmed": 1} and summary["errors"][0]["object"] == "pods/ml/orphan"
    assert "orphan" in pod_names(cluster.store)


def test_a_cluster_without_knative_serving_still_collects_pods(cluster: Emulator, serve: Serve) -> None:
    old = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=1)
    cluster.fail(404, method="GET", resource="services", times=1)  # Knative's services are not served
    status, summary = ping(serve, {})
    assert status == 200 and summary["complete"]
    assert summary["deleted"] == {"pods": [f"ml/{name}" for name in old]}


def test_an_unknown_tensorboard_mode_is_answered_400(cluster: Emulator, serve: Serve,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from argoml.gc.policy import TENSORBOARD_MODES
    from argoml.tensorboard.instances import MODES

    assert TENSORBOARD_MODES == MODES
    monkeypatch.setenv("TENSORBOARD_MODE", "nodeport")
    status, answer = ping(serve, {})
    assert status == 400 and answer["error"]["message"].startswith("TENSORBOARD_MODE:")


def test_the_functions_environment_sets_defaults_the_event_overrides(cluster: Emulator, serve: Serve,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    old = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(50))
    monkeypatch.setenv("GC_DRY_RUN", "true")
    monkeypatch.setenv("GC_MAX_AGE_HOURS", "24")
    _, dry = ping(serve, {})
    assert dry["dryRun"] and sorted(dry["wouldDelete"]["pods"]) == [f"ml/{name}" for name in old]
    _, kept = ping(serve, {"dryRun": False, "maxAgeHours": 72})
    assert kept["deleted"] == {} and kept["kept"] == {"workflow-too-recent": 2}
    _, real = ping(serve, {"dryRun": False})
    assert len(real["deleted"]["pods"]) == 2 and pod_names(cluster.store) == set()


# --- who may send events --------------------------------------------------------------------------------------

SENDER = "system:serviceaccount:argoml:argoml-gc-adhoc-oidc"


@pytest.mark.parametrize(("token", "status", "message"), [
    (None, 401, "send a Kubernetes bearer token"),
    ("api-server-token", 401, "not accepted by the Kubernetes API server for audience 'argoml-gc'"),
    ("other-sender", 403, "may not send events to this function"),
    ("pingsource", 200, ""),
])
def test_with_an_audience_only_the_listed_senders_may_send_policies(
        cluster: Emulator, serve: Serve, monkeypatch: pytest.MonkeyPatch, token: str | None, status: int,
        message: str) -> None:
    monkeypatch.setenv("EVENT_AUDIENCE", "argoml-gc")
    monkeypatch.setenv("EVENT_SENDERS", SENDER)
    cluster.access.tokens["api-server-token"] = {"username": SENDER}
    cluster.access.tokens["other-sender"] = {"username": "system:serviceaccount:ml:intruder",
                                             "audiences": ["argoml-gc"]}
    cluster.access.tokens["pingsource"] = {"username": SENDER, "audiences": ["argoml-gc"]}
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    headers, body = knative.ping_event({"namespaces": ["ml"]})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    answer = serve("gc").post("/", headers=headers, data=body)
    assert answer.status_code == status
    if status == 200:
        assert answer.get_json()["deleted"] == {"pods": ["ml/old-main-0", "ml/old-main-1"]}
    else:
        assert message in answer.get_json()["error"]["message"]
        assert pod_names(cluster.store) == {"old-main-0", "old-main-1"}


def test_an_audience_without_senders_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from argoml.gc.senders import SenderPolicy

    monkeypatch.setenv("EVENT_AUDIENCE", "argoml-gc")
    monkeypatch.delenv("EVENT_SENDERS", raising=False)
    with pytest.raises(ValueError, match="EVENT_SENDERS is empty"):
        SenderPolicy.from_env()
