"""The validate function as the API server calls it: AdmissionReviews over HTTP, through
functions-framework, reading referenced WorkflowTemplates from the (emulated) cluster."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import flask.testing
import jsonpatch
import pytest

from argoml.dev.emulator import Emulator

Serve = Callable[[str], flask.testing.FlaskClient]

WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "trainer"}}]},
}
LIBRARY = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
    "metadata": {"name": "library", "namespace": "ml"},
    "spec": {"templates": [{"name": "fit", "container": {"image": "trainer"}}]},
}
SWEEP: dict[str, Any] = {
    "apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
    "metadata": {"name": "sweep", "namespace": "ml"},
    "spec": {"hyperparams": {"lr": {"values": [0.1, 0.2]}}, "entrypoint": "main",
             "templates": [{"name": "main", "container": {"image": "trainer"}}]},
}


@pytest.fixture(autouse=True)
def alice_works_in_ml(cluster: Emulator) -> None:
    """alice, who sends the reviews below, may run workflows and read templates in ml (as an editor may)."""
    cluster.access.grants |= {("alice", "create", "argoproj.io", "workflows", "ml"),
                              ("alice", "get", "argoproj.io", "workflowtemplates", "ml"),
                              ("alice", "get", "argoproj.io", "clusterworkflowtemplates", "*")}


def review(obj: dict[str, Any] | None, *, operation: str = "CREATE", old: dict[str, Any] | None = None,
           api_version: str = "admission.k8s.io/v1", dry_run: bool = False, user: str = "alice") -> dict[str, Any]:
    source = obj or old or {}
    group, _, version = source.get("apiVersion", "argoproj.io/v1alpha1").rpartition("/")
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": source.get("kind", "Workflow")},
        "resource": {"group": group, "version": version, "resource": "workflows"},
        "name": source.get("metadata", {}).get("name"), "namespace": "ml", "operation": operation,
        "userInfo": {"username": user}, "object": obj, "oldObject": old, "dryRun": dry_run}}


def post(serve: Serve, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = serve("validate").post(path, data=data, content_type="application/json")
    return answer.status_code, answer.get_json()


def with_spec(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["spec"].update(changes)
    return changed


def test_a_valid_workflow_is_allowed_in_the_reviews_own_api_version(serve: Serve) -> None:
    for api_version in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
        status, body = post(serve, "/validate", review(WORKFLOW, api_version=api_version))
        assert status == 200
        assert body == {"apiVersion": api_version, "kind": "AdmissionReview",
                        "response": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}}


def test_an_invalid_workflow_is_denied_with_every_problem(serve: Serve) -> None:
    invalid = with_spec(WORKFLOW, entrypiont="main", templates=[{"name": "main", "container": {}}])
    _, body = post(serve, "/validate", review(invalid))
    response = body["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    assert response["status"]["message"] == (
        "Workflow train is invalid (2 problems):\n"
        '  spec.entrypiont: unknown field "entrypiont" (did you mean "entrypoint"?)\n'
        "  spec.templates[0].container.image: templates.main.container.image may not be empty")


def test_a_sweep_with_an_invalid_search_space_is_denied_with_every_problem(serve: Serve) -> None:
    invalid = with_spec(SWEEP, algorithm="bayes", hyperparams={"lr": {"range": {"min": 0.5, "max": 0.1,
                                                                                "step": 0.1}}}, entrypiont="main")
    status, body = post(serve, "/validate", review(invalid))
    response = body["response"]
    assert status == 200 and response["allowed"] is False and response["status"]["code"] == 400
    message = response["status"]["message"]
    assert "spec.algorithm: unknown algorithm 'bayes'" in message
    assert "spec.hyperparams.lr.range" in message and 'spec.entrypiont: unknown field "entrypiont"' in message


def test_a_denial_lists_the_first_fifty_problems_and_counts_the_rest(serve: Serve) -> None:
    many = with_spec(WORKFLOW, templates=[{"name": f"t{i}", "container": {}} for i in range(60)])
    message = post(serve, "/validate", review(many))[1]["response"]["status"]["message"]
    lines = message.splitlines()
    assert lines[0] == "Workflow train is invalid (61 problems):" and len(lines) == 52
    assert lines[-1] == "  ... and 11 more (`argoml validate FILE` lists them all)"


def test_a_valid_sweep_is_allowed_without_warnings(serve: Serve) -> None:
    sweep = with_spec(SWEEP, parallelism=1, templates=[{"name": "main", "steps": [[
        {"name": "fit", "template": "fit", "withParam": "{{workflow.parameters.hyperparams}}",
         "arguments": {"parameters": [{"name": "lr", "value": "{{item.lr}}"}]}}]]},
        {"name": "fit", "inputs": {"parameters": [{"name": "lr"}]}, "container": {"image": "trainer"}}])
    response = post(serve, "/validate", review(sweep))[1]["response"]
    assert response["allowed"] is True
    assert not response.get("warnings")  # trials queueing behind parallelism is a choice, not a mistake


def test_template_refs_are_resolved_in_the_cluster_once_the_user_may_read_them(cluster: Emulator,
                                                                               serve: Serve) -> None:
    cluster.store.create(cluster.store.type_of("argoproj.io", "v1alpha1", "workflowtemplates"), "ml", LIBRARY)
    calling = with_spec(WORKFLOW, templates=[{"name": "main", "steps": [[
        {"name": "fit", "templateRef": {"name": "library", "template": "fit"}}]]}])
    assert post(serve, "/validate", review(calling))[1]["response"]["allowed"] is True
    assert {(c.agent, c.verb, c.resource, c.namespace, c.name) for c in cluster.calls} == {
        ("argoml-validate", "create", "subjectaccessreviews", None, None),
        ("argoml-validate", "get", "workflowtemplates", "ml", "library")}
    assert cluster.access.reviews == [{"user": "alice", "groups": [], "resourceAttributes": {
        "verb": "get", "group": "argoproj.io", "resource": "workflowtemplates", "namespace": "ml"}}]

    missing = copy.deepcopy(calling)
    missing["spec"]["templates"][0]["steps"][0][0]["templateRef"]["template"] = "predict"
    response = post(serve, "/validate", review(missing))[1]["response"]
    assert response["allowed"] is False
    assert "templates.main.steps[0].fit template reference library.predict not found" in response["status"]["message"]


def test_cluster_scoped_template_refs_are_resolved_in_the_cluster(cluster: Emulator, serve: Serve) -> None:
    shared = {**copy.deepcopy(LIBRARY), "kind": "ClusterWorkflowTemplate"}
    shared["metadata"] = {"name": "shared-library"}
    cluster.store.create(cluster.store.type_of("argoproj.io", "v1alpha1", "clusterworkflowtemplates"), None, shared)
    calling = with_spec(WORKFLOW, templates=[{"name": "main", "steps": [[
        {"name": "fit", "templateRef": {"name": "shared-library", "template": "fit", "clusterScope": True}}]]}])
    assert post(serve, "/validate", review(calling))[1]["response"]["allowed"] is True
    assert {(c.verb, c.resource, c.name) for c in cluster.calls} == {
        ("create", "subjectaccessreviews", None), ("get", "clusterworkflowtemplates", "shared-library")}


def test_an_api_failure_while_resolving_is_a_503_not_a_denial(cluster: Emulator, serve: Serve) -> None:
    cluster.fail(503, method="GET", resource="workflowtemplates")
    calling = with_spec(WORKFLOW, templates=[{"name": "main", "steps": [[
        {"name": "fit", "templateRef": {"name": "library", "template": "fit"}}]]}])
    status, body = post(serve, "/validate", review(calling))
    assert status == 503
    assert "reading workflowtemplates.argoproj.io ml/library" in body["error"]["message"]


def test_delete_and_connect_are_allowed_without_work(cluster: Emulator, serve: Serve) -> None:
    for operation in ("DELETE", "CONNECT"):
        _, body = post(serve, "/validate", review(None, operation=operation, old=WORKFLOW))
        assert body["response"] == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}
    assert cluster.calls == []


def test_an_update_that_keeps_the_spec_is_allowed_without_work(cluster: Emulator, serve: Serve) -> None:
    calling = with_spec(WORKFLOW, templates=[{"name": "main", "steps": [[
        {"name": "fit", "templateRef": {"name": "library", "template": "fit"}}]]}])
    running = dict(calling, status={"phase": "Running"})
    _, body = post(serve, "/validate", review(running, operation="UPDATE", old=calling))
    assert body["response"]["allowed"] is True
    assert cluster.calls == []


def test_an_update_to_an_invalid_spec_is_denied(serve: Serve) -> None:
    broken = with_spec(WORKFLOW, entrypoint="gone")
    _, body = post(serve, "/validate", review(broken, operation="UPDATE", old=WORKFLOW))
    assert body["response"]["allowed"] is False
    assert "spec.entrypoint: template name 'gone' undefined" in body["response"]["status"]["message"]


def test_a_workflow_whose_template_was_deleted_can_still_be_stopped(cluster: Emulator, serve: Serve) -> None:
    # Stored while library/fit existed; the WorkflowTemplate is gone now. `argo stop` writes
    # spec.shutdown: the update must not be refused for a problem it did not introduce.
    running = with_spec(WORKFLOW, templates=[{"name": "main", "steps": [[
        {"name": "fit", "templateRef": {"name": "library", "template": "fit"}}]]}])
    stopping = with_spec(running, shutdown="Stop")
    _, body = post(serve, "/validate", review(stopping, operation="UPDATE", old=running))
    assert body["response"]["allowed"] is True
    assert any("(already there before this update)" in w and "library" in w for w in body["response"]["warnings"])

    broken = with_spec(stopping, entrypoint="gone")  # a new problem still blocks the update
    _, body = post(serve, "/validate", review(broken, operation="UPDATE", old=running))
    assert body["response"]["allowed"] is False
    assert "spec.entrypoint: template name 'gone' undefined" in body["response"]["status"]["message"]


def test_a_dry_run_gets_the_answer_the_real_request_would(serve: Serve) -> None:
    broken = with_spec(WORKFLOW, entrypoint="gone")
    assert post(serve, "/validate", review(broken, dry_run=True)) == post(serve, "/validate", review(broken))


def test_warnings_are_passed_on(serve: Serve) -> None:
    template = copy.deepcopy(LIBRARY)
    template["spec"]["templates"][0]["container"]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    _, body = post(serve, "/validate", review(template))
    assert body["response"]["allowed"] is True
    assert body["response"]["warnings"] == [
        "spec.templates[0].container.volumeMounts[0].name: templates.fit.container.volumeMounts[0].name 'data' is "
        "not a volume of the template or the workflow"]


def test_warnings_fit_what_the_api_server_passes_on_and_say_what_did_not(serve: Serve) -> None:
    # The API server drops a warning holding a control character and, past 4096 characters
    # of warnings in all, drops the rest without a word.
    template = copy.deepcopy(LIBRARY)
    template["spec"]["templates"][0]["container"]["volumeMounts"] = [
        {"name": f"data-{i}\tcache", "mountPath": f"/data/{i}"} for i in range(60)]
    _, body = post(serve, "/validate", review(template))
    warnings = body["response"]["warnings"]
    assert sum(map(len, warnings)) <= 4096 and all(len(w) <= 256 for w in warnings)
    assert not any(c in w for w in warnings for c in "\t\n\r")
    shown = len(warnings) - 1
    assert warnings[0].endswith("'data-0 cache' is not a volume of the template or the workflow")
    assert warnings[-1] == (f"{60 - shown} more warnings not shown: `argoml validate` on the resource lists "
                            "them all")


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "the body is not JSON"),
    (b"[" * 100_000, "the body (below 102 levels) is not JSON"),
    ([], "expected an AdmissionReview object"),
    ({"apiVersion": "v1", "kind": "Pod"}, "expected kind AdmissionReview"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "the AdmissionReview has no request"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}},
     "request.uid is missing"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "u", "operation": "ERASE"}}, "request.operation must be one of"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "u", "operation": "CREATE", "object": "wf"}}, "request.object must be an object"),
])
def test_a_malformed_review_is_a_400_naming_the_problem(serve: Serve, body: Any, message: str) -> None:
    status, answer = post(serve, "/validate", body)
    assert status == 400
    assert message in answer["error"]["message"]


def test_mutation_fills_hyperparam_defaults_and_labels_the_algorithm(serve: Serve) -> None:
    _, body = post(serve, "/mutate", review(SWEEP))
    response = body["response"]
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    patched = jsonpatch.apply_patch(SWEEP, json.loads(base64.b64decode(response["patch"])))
    assert patched["spec"] == dict(SWEEP["spec"], algorithm="grid", parameterName="hyperparams")
    assert patched["metadata"] == dict(SWEEP["metadata"], labels={"argoml.io/algorithm": "grid"})


def test_mutation_keeps_what_the_user_chose(serve: Serve) -> None:
    chosen = with_spec(SWEEP, algorithm="random", parameterName="trials")
    chosen["metadata"]["labels"] = {"team": "vision"}
    _, body = post(serve, "/mutate", review(chosen))
    patched = jsonpatch.apply_patch(chosen, json.loads(base64.b64decode(body["response"]["patch"])))
    assert patched["spec"] == chosen["spec"]
    assert patched["metadata"]["labels"] == {"team": "vision", "argoml.io/algorithm": "random"}

    labelled = copy.deepcopy(patched)
    assert "patch" not in post(serve, "/mutate", review(labelled))[1]["response"]


def test_mutation_labels_only_with_a_valid_label_value(serve: Serve) -> None:
    odd = with_spec(SWEEP, algorithm="grïd")  # not ASCII: the API server would refuse the label
    _, body = post(serve, "/mutate", review(odd))
    patch = json.loads(base64.b64decode(body["response"]["patch"]))
    assert [op["path"] for op in patch] == ["/spec/parameterName"]


def test_mutation_leaves_other_kinds_alone(serve: Serve) -> None:
    _, body = post(serve, "/mutate", review(WORKFLOW))
    assert body["response"] == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def test_routes(serve: Serve) -> None:
    client = serve("validate")
    assert client.get("/healthz").status_code == 200
    answer = client.get("/validate")
    assert answer.status_code == 404
    assert "POST an AdmissionReview to /validate, /validate/warn or /mutate" in answer.get_json()["error"]["message"]


def test_a_resource_of_the_wrong_shape_is_denied_with_reasons_not_a_500(serve: Serve) -> None:
    shapeless = dict(WORKFLOW, spec={"entrypoint": ["main"], "templates": {"main": {}}})
    status, body = post(serve, "/validate", review(shapeless))
    assert status == 200
    assert body["response"]["allowed"] is False
    assert "spec.templates: must be of type array, got object" in body["response"]["status"]["message"]


# -- enforcement modes and the Argo version ------------------------------------------------------

INVALID_WORKFLOW = with_spec(WORKFLOW, entrypoint="missing")


def test_enforce_mode_denies_an_invalid_workflow(serve: Serve) -> None:
    response = post(serve, "/validate", review(INVALID_WORKFLOW))[1]["response"]
    assert response["allowed"] is False
    assert "spec.entrypoint: template name 'missing' undefined" in response["status"]["message"]


def test_warn_mode_admits_an_invalid_workflow_with_every_problem_as_a_warning(serve: Serve) -> None:
    invalid = with_spec(INVALID_WORKFLOW, templates=[{"name": "main", "container": {
        "image": "trainer", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}}])
    status, body = post(serve, "/validate/warn", review(invalid))
    assert status == 200
    assert body["response"]["allowed"] is True
    assert body["response"]["warnings"] == [
        "error: spec.entrypoint: template name 'missing' undefined",
        "spec.templates[0].container.volumeMounts[0].name: templates.main.container.volumeMounts[0].name 'data' is "
        "not a volume of the template or the workflow"]


def test_warn_mode_admits_a_valid_workflow_without_warnings(serve: Serve) -> None:
    assert post(serve, "/validate/warn", review(WORKFLOW))[1]["response"] == {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def test_warn_mode_still_enforces_hyperparamworkflows(serve: Serve) -> None:
    response = post(serve, "/validate/warn", review(with_spec(SWEEP, entrypoint="missing")))[1]["response"]
    assert response["allowed"] is False
    assert "template name 'missing' undefined" in response["status"]["message"]


def test_the_argo_version_in_the_environment_decides_single_forms(serve: Serve,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cron = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 2 * * *", "workflowSpec": WORKFLOW["spec"]}}
    monkeypatch.setenv("ARGO_VERSION", "3.7")
    response = post(serve, "/validate", review(cron))[1]["response"]
    assert response["allowed"] is True and response["warnings"][0].startswith("spec.schedule: schedule is deprecated")
    monkeypatch.setenv("ARGO_VERSION", "4.1")
    response = post(serve, "/validate", review(cron))[1]["response"]
    assert response["allowed"] is False
    assert 'spec.schedule: unknown field "spec.schedule"' in response["status"]["message"]
