"""The hyperparam function: HyperparamWorkflow events in, Workflows and status out, via the emulator."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import flask.testing
import pytest

from argoml import cli, manifests
from argoml.dev import knative
from argoml.dev.emulator import Emulator
from argoml.hyperparam import reconcile, search
from argoml.hyperparam.workflow import generate
from tests.conftest import ROOT

NS = "ml"
MERGE = "application/merge-patch+json"
EXAMPLE = manifests.load_all((ROOT / "examples" / "hparam.yaml").read_text())[0]
MODELS = ("RandomForest", "SVM", "LogisticRegression")
FIFTEEN = [{"learning-rate": lr, "model": m} for lr in (0.1, 0.2, 0.3, 0.4, 0.5) for m in MODELS]

Client = flask.testing.FlaskClient


@pytest.fixture
def function(serve: Callable[[str], Client]) -> Client:
    return serve("hyperparam")


def types(cluster: Emulator) -> tuple[Any, Any]:
    store = cluster.store
    return store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows"), store.type_of("argoproj.io", "v1alpha1",
                                                                                       "workflows")


def create_sweep(cluster: Emulator, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return cluster.store.create(types(cluster)[0], NS, copy.deepcopy(body or EXAMPLE))


def sweep(cluster: Emulator, name: str = "example-hparam-sweep") -> dict[str, Any]:
    return cluster.store.get(types(cluster)[0], NS, name)


def workflows(cluster: Emulator) -> list[dict[str, Any]]:
    return cluster.store.find(types(cluster)[1], NS)


def send(function: Client, action: str, obj: dict[str, Any], mode: str = "Resource") -> Any:
    headers, body = knative.resource_event(action, obj, mode=mode)
    return function.post("/", headers=headers, data=body)


def calls(cluster: Emulator, verb: str, resource: str) -> int:
    return sum(1 for c in cluster.calls if c.verb == verb and c.resource == resource)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def trials_of(workflow: dict[str, Any], parameter: str = "hyperparams") -> list[dict[str, Any]]:
    (value,) = [p["value"] for p in workflow["spec"]["arguments"]["parameters"] if p["name"] == parameter]
    return json.loads(value)


def launch(cluster: Emulator, function: Client) -> dict[str, Any]:
    created = create_sweep(cluster)
    assert send(function, "add", created).status_code == 200
    return created


def set_workflow_status(cluster: Emulator, status: dict[str, Any]) -> dict[str, Any]:
    return cluster.store.patch(types(cluster)[1], NS, "example-hparam-sweep", {"status": status}, MERGE,
                               subresource="status")


# --- creating the Workflow ------------------------------------------------------------------------


def test_add_event_creates_an_owned_labelled_workflow_with_every_trial(cluster: Emulator, function: Client) -> None:
    created = create_sweep(cluster)
    answer = send(function, "add", created)
    assert answer.status_code == 200 and answer.json["result"] == "reconciled"
    (workflow,) = workflows(cluster)
    assert workflow["metadata"]["name"] == "example-hparam-sweep"
    assert workflow["metadata"]["labels"] == {"argoml.io/hyperparamworkflow": "example-hparam-sweep"}
    assert workflow["metadata"]["ownerReferences"] == [
        {"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow", "name": "example-hparam-sweep",
         "uid": created["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert trials_of(workflow) == FIFTEEN
    assert not set(search.SEARCH_FIELDS) & set(workflow["spec"])
    assert workflow["spec"]["templates"] == EXAMPLE["spec"]["templates"]
    assert workflow["spec"]["entrypoint"] == "sweep" and workflow["spec"]["parallelism"] == 5


def test_status_records_the_workflow_trials_and_conditions(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    status = sweep(cluster)["status"]
    assert {k: status[k] for k in ("workflowName", "workflowGeneration", "trials", "phase", "observedGeneration",
                                   "trialsSucceeded", "trialsFailed")} == {
        "workflowName": "example-hparam-sweep", "workflowGeneration": 1, "trials": 15, "phase": "Pending",
        "observedGeneration": 1, "trialsSucceeded": 0, "trialsFailed": 0}
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("SpecValid", "True", "Valid"), ("WorkflowCreated", "True", "Created"),
        ("UpToDate", "True", "CurrentGeneration")]
    for item in status["conditions"]:
        assert set(item) == {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
        assert item["observedGeneration"] == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["lastTransitionTime"])
    assert "15 trials" in status["message"]
    assert calls(cluster, "patch", "hyperparamworkflows/status") == 1
    assert {c.agent for c in cluster.calls} == {"argoml-hyperparam"}


def test_every_status_field_written_is_declared_by_the_crd(cluster: Emulator, function: Client) -> None:
    """The API server prunes status fields its CRD does not declare; none of ours may be lost."""
    from tests.schemas import SchemaRegistry

    launch(cluster, function)
    set_workflow_status(cluster, {"phase": "Failed", "startedAt": "2026-01-01T00:00:00Z",
                                  "finishedAt": "2026-01-01T01:00:00Z", "nodes": {}})
    send(function, "update", cluster.store.find(types(cluster)[1], NS)[0])
    current = sweep(cluster)
    assert {"startedAt", "finishedAt"} <= set(current["status"])
    assert SchemaRegistry.from_paths(ROOT / "knative" / "crd").problems(current) == []


def test_reference_mode_reads_the_object_through_the_api(cluster: Emulator, function: Client) -> None:
    created = create_sweep(cluster)
    answer = send(function, "add", created, mode="Reference")
    assert answer.status_code == 200
    assert calls(cluster, "get", "hyperparamworkflows") == 1
    (workflow,) = workflows(cluster)
    assert trials_of(workflow) == FIFTEEN


def test_a_custom_parameter_name_is_appended_to_existing_arguments(cluster: Emulator, function: Client) -> None:
    body = copy.deepcopy(EXAMPLE)
    body["spec"] |= {"parameterName": "grid", "arguments": {"parameters": [{"name": "dataset", "value": "s3://d"}]}}
    send(function, "add", create_sweep(cluster, body))
    (workflow,) = workflows(cluster)
    assert [p["name"] for p in workflow["spec"]["arguments"]["parameters"]] == ["dataset", "grid"]
    assert trials_of(workflow, "grid") == FIFTEEN


# --- idempotence ----------------------------------------------------------------------------------


def test_replayed_and_duplicated_events_create_one_workflow(cluster: Emulator, function: Client) -> None:
    created = create_sweep(cluster)
    headers, body = knative.resource_event("add", created)
    answers = [function.post("/", headers=headers, data=body) for _ in range(3)]
    answers.append(send(function, "update", sweep(cluster)))
    assert [a.status_code for a in answers] == [200] * 4
    assert len(workflows(cluster)) == 1
    assert calls(cluster, "create", "workflows") == 1
    assert calls(cluster, "patch", "hyperparamworkflows/status") == 1  # nothing changed after the first


def test_an_update_that_does_not_change_spec_changes_nothing(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    hpw_type = types(cluster)[0]
    before = sweep(cluster)
    relabelled = cluster.store.patch(hpw_type, NS, "example-hparam-sweep", {"metadata": {"labels": {"team": "x"}}},
                                     MERGE)
    assert relabelled["metadata"]["generation"] == 1
    cluster.calls.clear()
    assert send(function, "update", relabelled).status_code == 200
    assert calls(cluster, "create", "workflows") == 0 and calls(cluster, "patch", "hyperparamworkflows/status") == 0
    assert sweep(cluster)["status"] == before["status"]


def test_an_event_for_a_sweep_deleted_since_does_nothing(cluster: Emulator, function: Client) -> None:
    created = create_sweep(cluster)
    cluster.store.delete(types(cluster)[0], NS, "example-hparam-sweep")
    answer = send(function, "add", created)
    assert answer.status_code == 200 and answer.json["result"] == "ignored"
    assert workflows(cluster) == []


def test_delete_events_of_a_sweep_need_no_api_call(cluster: Emulator, function: Client) -> None:
    created = launch(cluster, function)
    cluster.store.delete(types(cluster)[0], NS, "example-hparam-sweep")
    assert workflows(cluster) == []  # the ownerReference cascade
    cluster.calls.clear()
    answer = send(function, "delete", created)
    assert answer.status_code == 200 and answer.json["result"] == "ignored"
    assert "ownerReference" in answer.json["message"]
    assert cluster.calls == []


# --- spec changes, deleted Workflows, Workflows of others --------------------------------------------


def test_a_spec_change_after_launch_keeps_the_running_workflow(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    (first,) = workflows(cluster)
    changed = cluster.store.patch(types(cluster)[0], NS, "example-hparam-sweep",
                                  {"spec": {"hyperparams": {"model": {"values": ["SVM"]}}}}, MERGE)
    assert changed["metadata"]["generation"] == 2
    assert send(function, "update", changed).status_code == 200
    (still,) = workflows(cluster)
    assert still["metadata"]["uid"] == first["metadata"]["uid"] and trials_of(still) == FIFTEEN
    status = sweep(cluster)["status"]
    assert status["observedGeneration"] == 2 and status["workflowGeneration"] == 1 and status["trials"] == 15
    up_to_date = condition(status, "UpToDate")
    assert (up_to_date["status"], up_to_date["reason"]) == ("False", "SpecChangedAfterLaunch")
    assert "delete the Workflow to launch" in up_to_date["message"]


def test_deleting_an_outdated_workflow_launches_the_current_spec(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    cluster.store.patch(types(cluster)[0], NS, "example-hparam-sweep",
                        {"spec": {"hyperparams": {"model": {"values": ["SVM"]}}}}, MERGE)
    gone = cluster.store.delete(types(cluster)[1], NS, "example-hparam-sweep")
    assert send(function, "delete", gone).status_code == 200
    (workflow,) = workflows(cluster)
    assert trials_of(workflow) == [{"learning-rate": lr, "model": "SVM"} for lr in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert workflow["metadata"]["annotations"]["argoml.io/generation"] == "2"
    status = sweep(cluster)["status"]
    assert (status["workflowGeneration"], status["trials"], condition(status, "UpToDate")["status"]) == (2, 5, "True")


def test_a_deleted_workflow_is_not_recreated_for_the_same_spec(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    set_workflow_status(cluster, {"phase": "Succeeded", "startedAt": "2026-01-01T00:00:00Z",
                                  "finishedAt": "2026-01-01T01:00:00Z"})
    finished = cluster.store.get(types(cluster)[1], NS, "example-hparam-sweep")
    assert send(function, "update", finished).status_code == 200
    gone = cluster.store.delete(types(cluster)[1], NS, "example-hparam-sweep")  # e.g. Argo's ttlStrategy
    for mode in ("Resource", "Reference"):
        assert send(function, "delete", gone, mode=mode).status_code == 200
    assert workflows(cluster) == []
    status = sweep(cluster)["status"]
    assert status["phase"] == "Succeeded" and status["finishedAt"] == "2026-01-01T01:00:00Z"
    created = condition(status, "WorkflowCreated")
    assert (created["status"], created["reason"]) == ("False", "WorkflowDeleted")
    assert "not re-created" in status["message"]


def test_a_workflow_of_the_same_name_not_owned_is_left_untouched(cluster: Emulator, function: Client) -> None:
    theirs = cluster.store.create(types(cluster)[1], NS, {"metadata": {"name": "example-hparam-sweep"},
                                                          "spec": {"entrypoint": "theirs"}})
    answer = send(function, "add", create_sweep(cluster))
    assert answer.status_code == 200
    (workflow,) = workflows(cluster)
    assert workflow == theirs
    assert calls(cluster, "create", "workflows") == 0
    status = sweep(cluster)["status"]
    assert status["phase"] == "Blocked" and "not controlled by this HyperparamWorkflow" in status["message"]
    created = condition(status, "WorkflowCreated")
    assert (created["status"], created["reason"]) == ("False", "NameTaken")
    assert "workflowName" not in status


# --- invalid specs --------------------------------------------------------------------------------


def test_an_invalid_spec_is_recorded_in_status_and_answered_2xx(cluster: Emulator, function: Client) -> None:
    body = copy.deepcopy(EXAMPLE)
    body["spec"]["hyperparams"] = {"model": {"values": []}, "lr": {"range": {"min": 0, "max": 1, "step": 0}}}
    answer = send(function, "add", create_sweep(cluster, body))
    assert answer.status_code == 200
    assert workflows(cluster) == []
    status = sweep(cluster)["status"]
    assert status["phase"] == "Invalid" and status["observedGeneration"] == 1
    assert "spec.hyperparams.lr.range.step: must not be 0" in status["message"]
    assert "spec.hyperparams.model.values: expected a non-empty list" in status["message"]
    valid = condition(status, "SpecValid")
    assert (valid["status"], valid["reason"]) == ("False", "InvalidSpec")


def test_a_spec_with_thousands_of_problems_keeps_its_status_small(cluster: Emulator, function: Client) -> None:
    body = copy.deepcopy(EXAMPLE)
    body["spec"]["hyperparams"]["model"] = {"values": ["SVM"] * 20_000}  # 19,999 repeats, one problem each
    assert send(function, "add", create_sweep(cluster, body)).status_code == 200
    status = sweep(cluster)["status"]
    assert status["phase"] == "Invalid"
    assert status["message"].startswith("invalid spec: spec.hyperparams.model.values[1]: 'SVM' repeats")
    assert len(status["message"]) <= reconcile.MAX_MESSAGE and "more characters" in status["message"]
    assert len(condition(status, "SpecValid")["message"]) <= reconcile.MAX_MESSAGE


def test_last_transition_time_moves_only_when_a_condition_changes(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    past = "2020-01-01T00:00:00Z"
    conditions = [c | {"lastTransitionTime": past} for c in sweep(cluster)["status"]["conditions"]]
    cluster.store.patch(types(cluster)[0], NS, "example-hparam-sweep", {"status": {"conditions": conditions}}, MERGE,
                        subresource="status")
    running = set_workflow_status(cluster, {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z"})
    assert send(function, "update", running).status_code == 200
    status = sweep(cluster)["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["lastTransitionTime"] for c in status["conditions"]} == {
        "SpecValid": past, "WorkflowCreated": past, "UpToDate": past}
    edited = cluster.store.patch(types(cluster)[0], NS, "example-hparam-sweep",
                                 {"spec": {"hyperparams": {"model": {"values": []}}}}, MERGE)
    assert send(function, "update", edited).status_code == 200
    status = sweep(cluster)["status"]
    assert condition(status, "SpecValid")["status"] == "False"
    assert condition(status, "SpecValid")["lastTransitionTime"] != past
    assert condition(status, "WorkflowCreated")["lastTransitionTime"] == past


def test_a_sweep_name_too_long_for_a_workflow_is_invalid() -> None:
    body = copy.deepcopy(EXAMPLE)
    body["metadata"]["name"] = "x" * 64
    with pytest.raises(search.InvalidSpec) as caught:
        generate(body)
    assert [e.path for e in caught.value.errors] == ["metadata.name"]


def test_a_workflow_too_large_to_store_is_rejected_with_its_size() -> None:
    body = copy.deepcopy(EXAMPLE)
    body["spec"]["hyperparams"] = {"prompt": {"values": [f"{i:04d}" + "x" * 400 for i in range(3000)]}}
    with pytest.raises(search.InvalidSpec) as caught:
        generate(body)
    (error,) = caught.value.errors
    assert error.path == "spec.hyperparams"
    # Half of Argo's 1 MiB: the nodes of every trial need room before Argo has to compress them.
    assert re.search(r"would be more than 524,288 bytes: its trials alone pass that after 1,2\d\d of 3,000 trials",
                     error.message)
    assert "algorithm: random" in error.message


def test_the_api_server_rejecting_the_workflow_is_recorded(cluster: Emulator, function: Client) -> None:
    cluster.fail(422, method="POST", resource="workflows")
    assert send(function, "add", create_sweep(cluster)).status_code == 200
    status = sweep(cluster)["status"]
    assert status["phase"] == "Invalid" and "the API server rejected the Workflow" in status["message"]
    assert condition(status, "WorkflowCreated")["reason"] == "Rejected"


def test_a_policy_webhook_denying_the_workflow_is_recorded_not_retried(cluster: Emulator, function: Client) -> None:
    denial = 'admission webhook "validation.gatekeeper.sh" denied the request: [trusted-images] not allowed'
    cluster.fail(403, method="POST", resource="workflows", message=denial)
    assert send(function, "add", create_sweep(cluster)).status_code == 200
    status = sweep(cluster)["status"]
    assert status["phase"] == "Invalid" and status["message"] == f"the API server rejected the Workflow: {denial}"
    cluster.fail(403, method="POST", resource="workflows", message='workflows.argoproj.io is forbidden: User '
                 '"system:serviceaccount:knative:hyperparam" cannot create resource "workflows"')
    edited = cluster.store.patch(types(cluster)[0], NS, "example-hparam-sweep",
                                 {"spec": {"hyperparams": {"model": {"values": ["SVM"]}}}}, MERGE)
    assert send(function, "update", edited).status_code == 503  # missing RBAC: fixable, so Knative retries


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "resource"), [("GET", "hyperparamworkflows"), ("GET", "workflows"),
                                                  ("POST", "workflows"), ("PATCH", "hyperparamworkflows/status")])
def test_an_api_failure_answers_503_and_the_retry_completes(cluster: Emulator, function: Client, method: str,
                                                             resource: str) -> None:
    created = create_sweep(cluster)
    cluster.fail(503, method=method, resource=resource)
    answer = send(function, "add", created)
    assert answer.status_code == 503
    assert "the Kubernetes API answered 503" in answer.json["error"]["message"]
    assert send(function, "add", created).status_code == 200  # Knative's retry
    (workflow,) = workflows(cluster)
    assert trials_of(workflow) == FIFTEEN
    assert calls(cluster, "create", "workflows") == (2 if resource == "workflows" and method == "POST" else 1)
    assert sweep(cluster)["status"]["workflowName"] == "example-hparam-sweep"


def test_a_conflicting_status_write_is_retried_with_a_fresh_read(cluster: Emulator, function: Client) -> None:
    cluster.fail(409, method="PATCH", resource="hyperparamworkflows/status", times=2)
    assert send(function, "add", create_sweep(cluster)).status_code == 200
    assert calls(cluster, "patch", "hyperparamworkflows/status") == 3
    assert calls(cluster, "create", "workflows") == 1
    assert sweep(cluster)["status"]["trials"] == 15


def test_a_workflow_created_concurrently_is_adopted(cluster: Emulator, function: Client) -> None:
    cluster.fail(409, method="POST", resource="workflows")
    assert send(function, "add", create_sweep(cluster)).status_code == 200
    assert len(workflows(cluster)) == 1


def test_unending_conflicts_answer_503(cluster: Emulator, function: Client) -> None:
    cluster.fail(409, method="PATCH", resource="hyperparamworkflows/status", times=10)
    answer = send(function, "add", create_sweep(cluster))
    assert answer.status_code == 503 and "kept changing" in answer.json["error"]["message"]


@pytest.mark.parametrize(("headers", "body", "fragment"), [
    (knative.resource_event("add", EXAMPLE)[0], b"{not json", "is not JSON"),
    ({"content-type": "application/json"}, b"[1, 2]", "not a CloudEvent"),
    (knative.resource_event("add", EXAMPLE)[0], json.dumps({"kind": "HyperparamWorkflow"}).encode(),
     "data.metadata: missing"),
])
def test_a_malformed_event_answers_400(function: Client, headers: dict[str, str], body: bytes, fragment: str) -> None:
    answer = function.post("/", headers=headers, data=body)
    assert answer.status_code == 400 and fragment in answer.json["error"]["message"]


@pytest.mark.parametrize(("obj", "fragment"), [
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": NS}}, "unexpected event about Pod"),
    ({**EXAMPLE, "metadata": {"name": "example", "namespace": "../kube-system"}}, "is not a valid namespace name"),
    ({**EXAMPLE, "metadata": {"name": "Bad_Name", "namespace": NS}}, "is not a valid object name"),
    ({**EXAMPLE, "metadata": {"name": "cluster-scoped"}}, "is not a valid namespace name"),
])
def test_an_event_this_function_cannot_act_on_answers_400(cluster: Emulator, function: Client, obj: dict[str, Any],
                                                          fragment: str) -> None:
    answer = send(function, "add", obj)
    assert answer.status_code == 400 and fragment in answer.json["error"]["message"]
    assert cluster.calls == []


# --- status follows the run -----------------------------------------------------------------------


def trial_node(index: int, phase: str, step: str = "train") -> tuple[str, dict[str, Any]]:
    node_id = f"example-hparam-sweep-{index}"
    return node_id, {"id": node_id, "name": f"example-hparam-sweep[0].{step}({index}:model:SVM)",
                     "displayName": f"{step}({index}:learning-rate:0.1,model:SVM)", "type": "Pod", "phase": phase}


def test_workflow_events_update_the_owners_phase_times_and_trial_counts(cluster: Emulator, function: Client) -> None:
    launch(cluster, function)
    nodes = dict([trial_node(0, "Succeeded"), trial_node(1, "Failed"), trial_node(2, "Running"),
                  trial_node(3, "Succeeded"), trial_node(4, "Error")])
    nodes["example-hparam-sweep"] = {"displayName": "example-hparam-sweep", "type": "Steps", "phase": "Running"}
    nodes["example-hparam-sweep-g"] = {"displayName": "[0]", "type": "StepGroup", "phase": "Running"}
    running = set_workflow_status(cluster, {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z", "nodes": nodes})
    assert send(function, "update", running).status_code == 200
    status = sweep(cluster)["status"]
    assert {k: status.get(k) for k in ("phase", "startedAt", "finishedAt", "trialsSucceeded", "trialsFailed")} == {
        "phase": "Running", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": None, "trialsSucceeded": 2,
        "trialsFailed": 2}
    nodes.update([trial_node(2, "Succeeded")])
    done = set_workflow_status(cluster, {"phase": "Failed", "finishedAt": "2026-01-01T02:00:00Z", "nodes": nodes})
    assert send(function, "update", done, mode="Reference").status_code == 200
    status = sweep(cluster)["status"]
    assert (status["phase"], status["finishedAt"], status["trialsSucceeded"], status["trialsFailed"]) == (
        "Failed", "2026-01-01T02:00:00Z", 3, 2)
    assert "failed: 15 trials, 3 succeeded, 2 failed" in status["message"]


def test_a_labelled_workflow_not_controlled_by_a_sweep_is_ignored(cluster: Emulator, function: Client) -> None:
    create_sweep(cluster)
    stray = cluster.store.create(types(cluster)[1], NS, {"metadata": {
        "name": "example-hparam-sweep", "labels": {"argoml.io/hyperparamworkflow": "example-hparam-sweep"}}})
    cluster.calls.clear()
    answer = send(function, "update", stray)
    assert answer.status_code == 200 and answer.json["result"] == "ignored"
    assert cluster.calls == []
    assert "status" not in sweep(cluster)


def test_a_workflow_event_naming_an_invalid_owner_is_refused_without_an_api_call(cluster: Emulator,
                                                                                 function: Client) -> None:
    owner = {"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow", "name": "../../secrets/x",
             "uid": "u", "controller": True}
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "w", "namespace": NS, "ownerReferences": [owner]}}
    answer = send(function, "update", workflow)
    assert answer.status_code == 400
    assert "ownerReference names '../../secrets/x'" in answer.json["error"]["message"]
    assert cluster.calls == []


def test_trial_nodes_are_the_expansions_of_loops_over_the_trials_parameter() -> None:
    workflow = {"metadata": {"annotations": {"argoml.io/parameter": "grid"}},
                "spec": {"templates": [
                    {"name": "main", "dag": {"tasks": [
                        {"name": "fit", "template": "fit", "withParam": "{{ workflow.parameters.grid }}"},
                        {"name": "fan", "template": "fit", "withParam": "{{workflow.parameters.grid-other}}"}]}}]},
                "status": {"nodes": dict([trial_node(0, "Succeeded", "fit"), trial_node(1, "Error", "fit"),
                                          trial_node(2, "Failed", "fan"), trial_node(3, "Omitted", "fit")])}}
    assert reconcile.count_trials(workflow) == (1, 1)
    workflow["spec"] = {"workflowTemplateRef": {"name": "shared"}}  # loops not visible: every expansion counts
    assert reconcile.count_trials(workflow) == (1, 2)


# --- offline preview ------------------------------------------------------------------------------


def test_expand_prints_the_workflow_a_sweep_generates(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["expand", str(ROOT / "examples" / "hparam.yaml")]) == 0
    (workflow,) = manifests.load_all(capsys.readouterr().out)
    assert workflow["kind"] == "Workflow" and workflow["metadata"]["name"] == "example-hparam-sweep"
    assert trials_of(workflow) == FIFTEEN
    assert workflow == generate(EXAMPLE).workflow


def test_expand_reports_every_error_with_its_path(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "sweeps.yaml"
    manifest.write_text("apiVersion: argoml.io/v1alpha1\nkind: HyperparamWorkflow\nmetadata: {name: bad}\n"
                        "spec:\n  algorithm: random\n  hyperparams:\n"
                        "    wd: {range: {min: 1e-5, max: 0, count: 3, scale: log}}\n"
                        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n")
    assert cli.main(["expand", str(manifest), "--no-validate"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors == [f"{manifest}: bad: spec.maxTrials: required with algorithm: random",
                      f"{manifest}: bad: spec.hyperparams.wd.range.max: must be > 0 with scale: log, got 0",
                      f"{manifest}: document 2: not a HyperparamWorkflow (kind 'ConfigMap')"]
    assert cli.main(["expand", str(manifest)]) == 1  # checked as the webhook would: the spec's own errors too
    assert f"{manifest}: bad: spec.entrypoint: is required" in capsys.readouterr().err


def test_expand_answers_unreadable_input_with_a_message(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [\n")
    odd = tmp_path / "odd.yaml"
    odd.write_text("kind: HyperparamWorkflow\nmetadata: 5\nspec: {hyperparams: {a: {values: [1]}}}\n")
    for path, expected in ((tmp_path / "missing.yaml", "Can't read from file"), (broken, "failed to parse"),
                           (odd, "metadata.name: None cannot name the Workflow")):
        assert cli.main(["expand", str(path), "--no-validate"]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"{path}: ") and expected in line, line


def test_validate_reads_the_sampled_example_as_kubectl_does(capsys: pytest.CaptureFixture[str]) -> None:
    # YAML 1.1 reads min: 1e-5 as a string; kubectl (YAML 1.2 numbers) and the cluster read a number.
    assert cli.main(["validate", str(ROOT / "examples" / "hparam-random.yaml")]) == 0
    assert "expected a number" not in capsys.readouterr().out


def test_manifests_read_numbers_as_kubectl_does() -> None:
    assert manifests.load_all("a: 1e-5\nb: 16\nc: 0.1\nd: 1.5E+3\ne: abc\n") == [
        {"a": 1e-05, "b": 16, "c": 0.1, "d": 1500.0, "e": "abc"}]


def test_null_arguments_parameters_get_the_trials() -> None:
    body = copy.deepcopy(EXAMPLE)
    body["spec"]["arguments"] = {"parameters": None}
    (parameter,) = generate(body).workflow["spec"]["arguments"]["parameters"]
    assert parameter["name"] == "hyperparams" and len(json.loads(parameter["value"])) == 15


# --- end to end: the function as a process, events from the bridge ---------------------------------


@pytest.mark.slow
def test_end_to_end_the_bridge_and_the_function_process_run_a_sweep(cluster: Emulator) -> None:
    import threading

    from argoml.dev import runner, stack
    from argoml.dev.bridge import Bridge

    def wait_until(check: Callable[[], Any]) -> Any:
        """Block until ``check`` holds after some write to the store (a generous bound, never a timing)."""
        changed = threading.Event()
        cluster.store.listeners.append(changed.set)
        try:
            while not (result := check()):
                assert changed.wait(timeout=60), "the cluster stopped changing before the sweep got there"
                changed.clear()
            return result
        finally:
            cluster.store.listeners.remove(changed.set)

    function = runner.start("hyperparam")
    bridge = Bridge(stack.HYPERPARAM_SOURCES, function.url).start()
    try:
        create_sweep(cluster)
        workflow = wait_until(lambda: next(iter(workflows(cluster)), None))
        assert trials_of(workflow) == FIFTEEN
        wait_until(lambda: sweep(cluster).get("status", {}).get("workflowName"))
        set_workflow_status(cluster, {"phase": "Succeeded", "finishedAt": "2026-01-01T01:00:00Z",
                                      "nodes": dict(trial_node(i, "Succeeded") for i in range(15))})
        status = wait_until(lambda: (s := sweep(cluster).get("status", {})).get("phase") == "Succeeded" and s)
        assert (status["trialsSucceeded"], status["finishedAt"]) == (15, "2026-01-01T01:00:00Z")
    finally:
        bridge.stop()
        function.stop()
