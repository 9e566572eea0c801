"""The validate webhook under attack: every AdmissionReview is answered, in bounded work, with
the requesting user's rights.

Each case was found against the running function (issues 11 and 13) and is pinned here as the
API server would send it. Where the old behaviour was a hang, the test runs the request under a
generous ceiling (:func:`answered_within`): seconds against the milliseconds a linear check
takes, so a loaded machine cannot make it flaky, while the quadratic cases took minutes.
"""

from __future__ import annotations

import functools
import json
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

import flask.testing
import functions_framework
import pytest
from hypothesis import given
from hypothesis import strategies as st

from argoml import jsonbody
from argoml.dev.emulator import Emulator
from argoml.hyperparam import workflow
from argoml.validation import admission, budget
from tests.conftest import ROOT
from tests.test_validate_function import SWEEP, WORKFLOW, review, with_spec

UID = "705ab4f5-6393-11e8-b7cc-42010a800002"
CEILING = 30.0  # seconds; each case below answers in milliseconds once linear


def answered_within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, failing the test if it takes longer than ``seconds`` (a hang guard, not a timing)."""
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"no answer within {seconds} s"
    return outcome[0]


@functools.cache
def _client() -> flask.testing.FlaskClient:
    """One validate function for the module (properties post hundreds of reviews); ``cluster`` still resets."""
    app = functions_framework.create_app(target="handle", source=str(ROOT / "functions" / "validate" / "main.py"))
    return app.test_client()


def post(body: bytes | dict[str, Any], path: str = "/validate") -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    client = _client()
    answer = answered_within(CEILING, lambda: client.post(path, data=data, content_type="application/json"))
    return answer.status_code, answer.get_json()


def denial(body: bytes | dict[str, Any]) -> str:
    status, answer = post(body)
    assert status == 200 and answer["kind"] == "AdmissionReview" and answer["response"]["uid"] == UID
    assert answer["response"]["allowed"] is False
    return str(answer["response"]["status"]["message"])


def container(**fields: Any) -> dict[str, Any]:
    return with_spec(WORKFLOW, templates=[{"name": "main", "container": {"image": "trainer", **fields}}])


@pytest.fixture(autouse=True)
def alice_works_in_ml(cluster: Emulator) -> None:
    cluster.access.grants |= {("alice", "create", "argoproj.io", "workflows", "ml"),
                              ("alice", "get", "argoproj.io", "workflowtemplates", "ml")}


# --- bounded work ---------------------------------------------------------------------------------


def test_a_long_invalid_quantity_is_denied_in_linear_time() -> None:
    # 30 KB took 20 s: the quantity pattern backtracked quadratically. 100 KB would take minutes.
    message = denial(review(container(resources={"limits": {"cpu": "1" * 100_000 + "x"}})))
    assert "spec.templates[0].container.resources.limits.cpu: '" + "1" * 64 + "...': quantities must match" in message


def test_a_limits_key_of_repeated_dotted_segments_is_checked_in_linear_time() -> None:
    # The field-path pattern re-scanned the path from every `.limits.` in it: 22 s at 256 KB.
    key = ".limits." * 32_768 + "["
    message = denial(review(container(resources={"limits": {key: "lots"}})))
    assert "quantities must match" in message
    assert all(len(line) <= admission.MAX_PROBLEM + 2 for line in message.splitlines())


def test_megabytes_of_deeply_nested_tagged_strings_are_answered() -> None:
    # Every tagged string's path was formatted, costing its depth each: 2.4 MB took 26 s.
    deep: Any = ["{{inputs.parameters.missing}}"] * 100_000
    for _ in range(90):
        deep = {"a": deep}
    message = denial(review(with_spec(WORKFLOW, templates=[{"name": "main", "plugin": deep}])))
    lines = message.splitlines()
    assert lines[0] == "Workflow train is invalid (at least 1,000 problems):"  # it stops looking past that
    assert lines[1].endswith(".a.a[0]: templates.main: failed to resolve {{inputs.parameters.missing}}")
    assert lines[-1] == "  ... and 950+ more (`argoml validate FILE` lists them all)"


def test_a_review_beyond_the_work_budget_is_denied_with_the_reason() -> None:
    arguments = ["--flag"] * (budget.DEFAULT_UNITS + 1)
    message = denial(review(container(args=arguments)))
    assert message.startswith("Workflow train is invalid: too large to validate: it needs more than 250,000 steps")


def chain(size: int, *, last_takes_from: str) -> dict[str, Any]:
    """A DAG of ``size`` tasks, each after the one before; the last one's argument is ``last_takes_from``'s result."""
    tasks: list[dict[str, Any]] = [{"name": "t0", "template": "work"}]
    tasks += [{"name": f"t{index}", "template": "work", "dependencies": [f"t{index - 1}"]} for index in range(1, size)]
    tasks[-1]["arguments"] = {"parameters": [{"name": "x", "value": f"{{{{tasks.{last_takes_from}.outputs.result}}}}"}]}
    tasks.append({"name": "aside", "template": "work"})
    return with_spec(WORKFLOW, templates=[
        {"name": "main", "dag": {"tasks": tasks}},
        {"name": "work", "inputs": {"parameters": [{"name": "x", "default": "0"}]},
         "script": {"image": "python:3.11", "command": ["python"], "source": "print({{inputs.parameters.x}})"}}])


def test_a_3000_task_chain_is_validated_within_the_work_budget() -> None:
    # Each task of a chain has all the tasks before it as ancestors: this was ~5 s of quadratic
    # ancestry work, charged to the budget until a chain of 3,000 was denied as too costly.
    status, answer = post(review(chain(3000, last_takes_from="t0")))
    assert status == 200 and answer["response"]["allowed"] is True, answer["response"]
    listed_last_first = chain(3000, last_takes_from="t0")
    listed_last_first["spec"]["templates"][0]["dag"]["tasks"].reverse()  # once "nested too deeply to validate"
    status, answer = post(review(listed_last_first))
    assert status == 200 and answer["response"]["allowed"] is True, answer["response"]
    message = denial(review(chain(3000, last_takes_from="aside")))
    assert message.splitlines() == ["Workflow train is invalid (1 problem):",
                                    "  spec.templates[0].dag.tasks[2999].arguments.parameters[0].value: "
                                    "templates.main.tasks.t2999 missing dependency 'aside' for parameter 'x'"]


def test_a_huge_random_sweep_is_refused_before_its_trials_are_built(cluster: Emulator) -> None:
    # 1.2 KB asking for 100,000 trials of 20 floats: validate peaked at 452 MB (its limit is 256Mi).
    sweep = with_spec(SWEEP, algorithm="random", maxTrials=100_000,
                      hyperparams={f"p{i}": {"range": {"min": 0, "max": 1}} for i in range(20)})
    request = admission.parse_review(json.dumps(review(sweep)))
    tracemalloc.start()
    try:
        decision = admission.validate(request)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not decision.allowed
    assert f"would be more than {workflow.MAX_WORKFLOW_BYTES:,} bytes: its trials alone pass that after " \
        in decision.message
    assert peak < 64 << 20, f"peaked at {peak / 2**20:.0f} MiB"


# --- every well-formed AdmissionReview gets an AdmissionReview ------------------------------------


@pytest.mark.parametrize("depth", [150, 5_000])
def test_an_object_nested_too_deeply_is_denied_not_a_webhook_failure(depth: int) -> None:
    # A 400 is a webhook failure to the API server, and failurePolicy Ignore then admits the object.
    body = json.dumps(review(container(env=[{"name": "x", "value": "v"}]))).replace(
        '"value": "v"', '"value": ' + "[" * depth + "]" * depth)
    assert denial(body.encode()) == (
        f"Workflow train is invalid: nested more than {jsonbody.MAX_DEPTH} levels deep")
    status, answer = post(body.encode(), "/mutate")
    assert status == 200 and answer["response"] == {"uid": UID, "allowed": True}


@pytest.mark.parametrize("number", ["1e400", "-" + "9" * 400])
def test_a_number_beyond_float64_is_denied(number: str) -> None:
    body = json.dumps(review(container())).replace('"image": "trainer"', f'"image": "trainer", "x": {number}')
    assert "is beyond the range a Kubernetes object can hold (float64)" in denial(body.encode())


def test_an_integer_beyond_float_range_in_a_search_space_is_a_problem_not_a_crash() -> None:
    from argoml.hyperparam import search

    with pytest.raises(search.InvalidSpec) as caught:
        search.parse({"hyperparams": {"a": {"range": {"min": 0, "max": 10**400, "step": 1}},
                                      "b": {"values": [10**400]}}})
    assert [e.path for e in caught.value.errors] == ["spec.hyperparams.a.range.max", "spec.hyperparams.b.values[0]"]


# --- the requesting user's rights -----------------------------------------------------------------

FINANCE_TEMPLATE = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
    "metadata": {"name": "payroll", "namespace": "finance"},
    "spec": {"templates": [{"name": "pay", "inputs": {"parameters": [{"name": "secret-account"}]},
                            "container": {"image": "payroll", "args": ["{{inputs.parameters.secret-account}}"]}}]},
}


def _calling(name: str) -> dict[str, Any]:
    return {**with_spec(WORKFLOW, templates=[{"name": "main", "steps": [[
        {"name": "run", "templateRef": {"name": name, "template": "pay"}}]]}]),
        "metadata": {"name": "train", "namespace": "finance"}}


def _in_finance(obj: dict[str, Any]) -> dict[str, Any]:
    body = review(obj, user="mallory")
    body["request"]["namespace"] = "finance"
    return body


def test_a_template_the_user_may_not_read_is_reported_exactly_as_a_missing_one(cluster: Emulator) -> None:
    cluster.store.create(cluster.store.type_of("argoproj.io", "v1alpha1", "workflowtemplates"), "finance",
                         FINANCE_TEMPLATE)
    existing = denial(_in_finance(_calling("payroll")))
    missing = denial(_in_finance(_calling("payrolx")))
    assert existing == missing.replace("payrolx", "payroll")
    assert "not found" in existing and "secret-account" not in existing
    assert ("get", "workflowtemplates") not in {(c.verb, c.resource) for c in cluster.calls}, "it was read"
    assert {(r["user"], r["resourceAttributes"]["verb"], r["resourceAttributes"]["namespace"])
            for r in cluster.access.reviews} == {("mallory", "get", "finance")}


def test_a_review_naming_no_user_resolves_no_template(cluster: Emulator) -> None:
    cluster.store.create(cluster.store.type_of("argoproj.io", "v1alpha1", "workflowtemplates"), "finance",
                         FINANCE_TEMPLATE)
    body = _in_finance(_calling("payroll"))
    del body["request"]["userInfo"]
    assert "not found" in denial(body)
    assert cluster.calls == []


def test_a_sweep_is_admitted_only_from_a_user_who_may_create_workflows(cluster: Emulator) -> None:
    message = denial(review(SWEEP, user="bob"))
    assert message == ("HyperparamWorkflow sweep is invalid: user 'bob' may not create workflows.argoproj.io in "
                       "namespace 'ml': a HyperparamWorkflow runs its trials as a Workflow created for it, so writing "
                       "one needs that right too")
    assert cluster.access.reviews == [{"user": "bob", "groups": [], "resourceAttributes": {
        "verb": "create", "group": "argoproj.io", "resource": "workflows", "namespace": "ml"}}]
    changed = with_spec(SWEEP, parallelism=1)
    assert "may not create workflows.argoproj.io" in denial(review(changed, operation="UPDATE", old=SWEEP,
                                                                           user="bob"))
    _, answer = post(review(dict(SWEEP, status={"phase": "Running"}), operation="UPDATE", old=SWEEP,
                                        user="bob"))
    assert answer["response"]["allowed"] is True, "an update leaving the spec alone needs no check"

    cluster.access.grants.add(("group:ml-team", "create", "argoproj.io", "workflows", "ml"))
    body = review(SWEEP, user="bob")
    body["request"]["userInfo"]["groups"] = ["ml-team"]
    assert post(body)[1]["response"]["allowed"] is True


def test_a_users_right_to_launch_is_remembered_briefly_and_a_refusal_is_not(cluster: Emulator) -> None:
    cluster.access.grants.add(("carol", "create", "argoproj.io", "workflows", "ml"))
    for _ in range(3):
        assert post(review(SWEEP, user="carol"))[1]["response"]["allowed"] is True
        assert "may not create" in denial(review(SWEEP, user="dave"))
    assert [r["user"] for r in cluster.access.reviews] == ["carol", "dave", "dave", "dave"]
    assert admission.LAUNCH_CACHE_SECONDS <= 10


def test_a_sweep_in_a_review_naming_no_user_is_denied() -> None:
    body = review(SWEEP)
    del body["request"]["userInfo"]
    assert "names no user (request.userInfo)" in denial(body)


# --- properties -----------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children,
                                                                                       max_size=5),
                    max_leaves=30)
FIELDS = st.sampled_from(["entrypoint", "templates", "arguments", "parallelism", "hyperparams", "algorithm",
                          "maxTrials", "workflowTemplateRef", "onExit", "timezone", "schedules", "volumes"])
SPECS = st.dictionaries(FIELDS, JSON, max_size=6)
KINDS = st.sampled_from(["Workflow", "WorkflowTemplate", "CronWorkflow", "HyperparamWorkflow", "Pod", 7])
METADATA = st.dictionaries(st.sampled_from(["name", "generateName", "namespace", "labels", "annotations"]), JSON,
                           max_size=3)


@pytest.mark.fuzz
@given(body=JSON)
def test_any_json_body_is_an_admission_review_answer_or_a_400(body: Any) -> None:
    status, answer = post(json.dumps(body).encode())
    assert status in (200, 400)
    assert (answer["kind"] == "AdmissionReview") if status == 200 else answer["error"]["status"] == 400


@pytest.mark.fuzz
@given(kind=KINDS, spec=SPECS, metadata=METADATA, operation=st.sampled_from(["CREATE", "UPDATE"]))
def test_any_object_in_an_admission_review_is_answered_with_an_admission_review(
        kind: Any, spec: dict[str, Any], metadata: Any, operation: str) -> None:
    obj = {"apiVersion": "argoml.io/v1alpha1" if kind == "HyperparamWorkflow" else "argoproj.io/v1alpha1",
           "kind": kind, "metadata": metadata, "spec": spec}
    body = review(obj, operation=operation, old={**obj, "spec": {}} if operation == "UPDATE" else None)
    for path in ("/validate", "/mutate"):
        status, answer = post(body, path)
        assert status == 200 and answer["response"]["uid"] == UID, answer


def test_with_a_caller_token_only_requests_bearing_it_are_answered(monkeypatch: pytest.MonkeyPatch,
                                                                   serve: Callable[[str], flask.testing.FlaskClient]
                                                                   ) -> None:
    monkeypatch.setenv(admission.CALLER_TOKEN_ENV, "s3cret-from-the-admission-config")
    client = serve("validate")
    body = json.dumps(review(WORKFLOW)).encode()
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "Basic s3cret-from-the-admission-config"}):
        answer = client.post("/validate", data=body, content_type="application/json", headers=headers)
        assert answer.status_code == 401 and "answers only the Kubernetes API server" in answer.get_json()["error"][
            "message"]
    answer = client.post("/validate", data=body, content_type="application/json",
                         headers={"Authorization": "Bearer s3cret-from-the-admission-config"})
    assert answer.status_code == 200 and answer.get_json()["response"]["allowed"] is True


def test_an_update_keeping_more_problems_than_are_counted_still_ratchets() -> None:
    # Validation stops at 1,000 problems; a stored Workflow with more must still be stoppable.
    broken = with_spec(WORKFLOW, templates=[{"name": f"t{i}", "container": {}} for i in range(1_200)])
    _, answer = post(review(with_spec(broken, shutdown="Stop"), operation="UPDATE", old=broken))
    assert answer["response"]["allowed"] is True
    assert "(already there before this update)" in answer["response"]["warnings"][0]
    _, answer = post(review(with_spec(broken, entrypoint="gone"), operation="UPDATE", old=broken))
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["message"].startswith("Workflow train is invalid (at least 1,000 problems)")
