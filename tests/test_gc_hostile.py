"""gc under hostile input: no object, event or policy a cluster user can write takes a run down.

Workflows are written by their users, status included, so a run must keep (with the
reason) what it cannot read and go on; a policy arrives from any pod that can reach
the function, so every number is bounded and no event passes the operator's ceilings;
a run never sleeps past its deadline; and a page of big workflows is read within a
byte budget. The named regressions come first, the property tests (``make fuzz``
runs them longer) last.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask.testing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from argoml import gc, jsonbody
from argoml.dev import knative
from argoml.dev.argo_objects import pod, seed, workflow
from argoml.dev.emulator import Emulator, Verbatim
from argoml.errors import InvalidInput
from argoml.gc.policy import CEILINGS, FIELDS, parse_policy
from argoml.jsonread import MAX_DEPTH, Malformed, decode
from tests.clock import FakeClock

NOW = datetime.now(UTC)
Serve = Callable[[str], flask.testing.FlaskClient]
WORKFLOWS = ("argoproj.io", "v1alpha1", "workflows")


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def ping(serve: Serve, data: Any) -> tuple[int, dict[str, Any]]:
    headers, body = knative.ping_event(data)
    response = serve("gc").post("/", headers=headers, data=body)
    return response.status_code, response.get_json()


def pod_names(cluster: Emulator) -> set[str]:
    return {p["metadata"]["name"] for p in cluster.store.find(cluster.store.type_of("", "v1", "pods"))}


def forge_status(cluster: Emulator, name: str, status: Any) -> None:
    """As a user may: Argo's CRD has no status subresource, so anyone who may update a Workflow writes its status."""
    workflows = cluster.store.type_of(*WORKFLOWS)
    stored = cluster.store.get(workflows, "ml", name)
    cluster.store.replace(workflows, "ml", name, {**stored, "status": status}, subresource="status")


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# --- one bad workflow never disables gc ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [
    {"phase": {"Succeeded": True}, "finishedAt": "2020-01-01T00:00:00Z"},
    {"phase": ["Succeeded"], "finishedAt": "2020-01-01T00:00:00Z"},
    {"phase": "Succeeded", "finishedAt": {"at": 0}},
    ["not", "an", "object"],
    "Succeeded",
])
def test_a_workflow_whose_status_has_the_wrong_shape_is_kept_with_the_reason(cluster: Emulator, serve: Serve,
                                                                           status: Any) -> None:
    bad = seed(cluster.store, "ml", "forged", phase="Succeeded", finished_at=ago(500))
    good = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    forge_status(cluster, "forged", status)
    code, summary = ping(serve, {})
    assert code == 200 and summary["complete"]
    assert sorted(summary["deleted"]["pods"]) == [f"ml/{name}" for name in good]
    assert pod_names(cluster) == set(bad) and summary["kept"] == {"workflow-malformed": 2}
    [named] = summary["malformed"]["workflows"]
    assert named["object"] == "workflows.argoproj.io/ml/forged" and named["reason"].startswith("status")
    assert summary["malformed"]["count"] == 1


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """Python's default, as in the function's process (a test helper, celpy, raises it to 2,500)."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(previous)


@pytest.mark.parametrize("depth", [1500, 10_000])  # the reported case; the API server's own limit
def test_a_workflow_nested_1500_deep_is_kept_with_the_reason_and_the_run_goes_on(
        cluster: Emulator, serve: Serve, default_recursion_limit: None, depth: int) -> None:
    bad = seed(cluster.store, "ml", "deep", phase="Succeeded", finished_at=ago(500))
    good = seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    workflows = cluster.store.type_of(*WORKFLOWS)
    stored = cluster.store.get(workflows, "ml", "deep")
    deep_node = {"deep": Verbatim(nested(depth))}  # a node's status, as anyone who may update the Workflow writes it
    cluster.store.replace(workflows, "ml", "deep", {**stored, "status": {**stored["status"], "nodes": deep_node}},
                          subresource="status")
    code, summary = ping(serve, {})
    assert code == 200 and summary["complete"]
    assert sorted(summary["deleted"]["pods"]) == [f"ml/{name}" for name in good]
    assert pod_names(cluster) == set(bad) and summary["kept"] == {"workflow-malformed": 2}
    assert summary["malformed"]["workflows"] == [{"object": "workflows.argoproj.io/ml/deep",
                                                  "reason": f"nested more than {MAX_DEPTH} levels deep"}]


def test_the_deep_reader_keeps_what_it_can_read_and_marks_only_the_objects_it_cut() -> None:
    page = '{"items": [{"metadata": {"name": "ok"}}, {"metadata": {"name": "deep"}, "spec": ' + nested(5000) + \
        '}], "metadata": {"continue": "next"}}'
    read = decode(page.encode())
    ok, deep = read["items"]
    assert type(ok) is dict and isinstance(deep, Malformed)
    assert deep["metadata"] == {"name": "deep"} and read["metadata"] == {"continue": "next"}
    assert decode(b'{"a": [1, 2.5, "x\\"y", true, null]}') == {"a": [1, 2.5, 'x"y', True, None]}


@pytest.mark.parametrize("depth", [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 200])
def test_api_answers_and_request_bodies_are_cut_at_the_same_depth(depth: int) -> None:
    # One rule for all untrusted JSON: a request body is refused exactly where an API answer's object is cut.
    page = '{"items": [' + nested(depth) + "]}"  # the page and its list are two of the levels
    cut = isinstance(decode(page.encode())["items"][0], Malformed)
    assert cut == (depth + 2 > MAX_DEPTH) == jsonbody.read(page).truncated


def test_many_malformed_workflows_are_counted_and_the_first_named(cluster: Emulator, serve: Serve) -> None:
    for index in range(25):
        seed(cluster.store, "ml", f"forged-{index:02d}", phase="Succeeded", finished_at=ago(500), pods=0)
        forge_status(cluster, f"forged-{index:02d}", {"phase": [index]})
    code, summary = ping(serve, {})
    assert code == 200 and summary["malformed"]["count"] == 25 and len(summary["malformed"]["workflows"]) == 20


# --- memory by bytes, not count --------------------------------------------------------------------------------


def test_pages_larger_than_the_byte_budget_are_asked_for_again_smaller(cluster: Emulator, serve: Serve,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    workflows = cluster.store.type_of(*WORKFLOWS)
    pods: list[str] = []
    for index in range(6):
        pods += seed(cluster.store, "ml", f"big-{index}", phase="Succeeded", finished_at=ago(500), pods=1)
        stored = cluster.store.get(workflows, "ml", f"big-{index}")
        nodes = {f"big-{index}-{n}": {"id": f"big-{index}-{n}", "phase": "Succeeded", "message": "x" * 400}
                 for n in range(100)}  # about 45 KB of node status each
        cluster.store.replace(workflows, "ml", f"big-{index}", {**stored, "status": {**stored["status"],
                                                                                     "nodes": nodes}},
                              subresource="status")
    monkeypatch.setenv("GC_MAX_PAGE_BYTES", str(100 * 1024))
    code, summary = ping(serve, {})
    assert code == 200 and summary["complete"] and summary["examined"]["workflows"] == 6
    assert sorted(summary["deleted"]["pods"]) == sorted(f"ml/{name}" for name in pods)
    # Asking for 50, 12 and 3 workflows (~270, ~270, ~135 KB) passes the 100 KB budget; then one a page (45 KB
    # of the 50 KB that half the budget holds).
    lists = [c for c in cluster.calls if c.agent == "argoml-gc" and c.verb == "list" and c.resource == "workflows"]
    assert len(lists) == 3 + 6


def test_the_page_budget_is_the_operators_and_has_a_floor() -> None:
    assert parse_policy({}, {"GC_MAX_PAGE_BYTES": "1048576"}).max_page_bytes == 2**20
    with pytest.raises(InvalidInput, match=r"^GC_MAX_PAGE_BYTES: must be between 65536"):
        parse_policy({}, {"GC_MAX_PAGE_BYTES": "100"})
    with pytest.raises(InvalidInput, match=r"^maxPageBytes: not a GC policy field"):
        parse_policy({"maxPageBytes": 10**9}, {})


# --- the deadline, the ceilings, and numbers that would overflow ----------------------------------------------


def test_a_slow_rate_never_sleeps_past_max_run_seconds(cluster: Emulator) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500), pods=3)
    clock = FakeClock()
    policy = gc.parse_policy({"requestsPerSecond": 0.01, "maxRunSeconds": 5, "tensorboardTTLHours": None}, {})
    summary = gc.collect(policy, clock=clock).to_json()
    assert clock.now <= 5 and clock.sleeps == []  # the next request would have waited 100 s
    assert not summary["complete"] and summary["stopped"] == "maxRunSeconds (5) reached"
    assert summary["apiRequests"] == 1 and summary["deleted"] == {}


@pytest.mark.parametrize(("field", "value"), [
    ("requestsPerSecond", 1e-300), ("requestsPerSecond", 1e12), ("requestsPerSecond", 0.001),
    ("maxAgeHours", 1e308), ("maxAgeHours", 10**30), ("keepFailedHours", 1e300),
    ("tensorboardTTLHours", 10**300), ("maxRunSeconds", 1e-300), ("maxRunSeconds", 1e9),
    ("maxDeletions", 10**30), ("pageSize", 1e300),
])
def test_extreme_numbers_are_refused_with_400(cluster: Emulator, serve: Serve, field: str, value: Any) -> None:
    seed(cluster.store, "ml", "old", phase="Succeeded", finished_at=ago(500))
    body = {"maxAgeHours": 24, field: value} if field == "keepFailedHours" else {field: value}
    code, answer = ping(serve, body)
    assert code == 400 and answer["error"]["message"].startswith(f"{field}:"), answer
    assert len(pod_names(cluster)) == 2


@pytest.mark.parametrize(("field", "value", "env"), [
    ("requestsPerSecond", 100, "GC_LIMIT_REQUESTS_PER_SECOND=50"),
    ("maxDeletions", 1_000_000, "GC_LIMIT_DELETIONS=5000"),
    ("pageSize", 10_000, "GC_LIMIT_PAGE_SIZE=500"),
    ("maxRunSeconds", 3600, "GC_LIMIT_RUN_SECONDS=540"),
])
def test_no_event_passes_the_built_in_ceilings(field: str, value: Any, env: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^{field}: .* above this deployment's ceiling \({env}\)"):
        parse_policy({field: value}, {})


def test_the_operator_sets_the_ceilings_and_unset_defaults_follow_them() -> None:
    env = {"GC_LIMIT_REQUESTS_PER_SECOND": "5", "GC_LIMIT_DELETIONS": "100", "GC_LIMIT_PAGE_SIZE": "50",
           "GC_LIMIT_RUN_SECONDS": "60"}
    policy = parse_policy({}, env)
    assert (policy.requests_per_second, policy.max_deletions, policy.page_size, policy.max_run_seconds) == \
        (5, 100, 50, 60)
    assert parse_policy({"pageSize": 20, "maxDeletions": 100}, env).page_size == 20
    for field, value in (("requestsPerSecond", 6), ("maxDeletions", 101), ("pageSize", 51), ("maxRunSeconds", 61)):
        with pytest.raises(InvalidInput, match=f"^{field}: "):
            parse_policy({field: value}, env)
    with pytest.raises(InvalidInput, match=r"^GC_LIMIT_PAGE_SIZE: "):
        parse_policy({}, {"GC_LIMIT_PAGE_SIZE": "many"})
    assert set(CEILINGS) <= set(FIELDS)


@pytest.mark.parametrize("body", [
    b"\xff\xfe\x00{",  # not UTF-8
    ("[" * 3000 + "]" * 3000).encode(),
    ('{"namespaces": ' + "[" * 3000 + "]" * 3000 + "}").encode(),
    b'{"maxAgeHours": 1e999}',
    b'{"maxAgeHours": ' + b"9" * 5000 + b"}",
])
def test_event_bodies_that_cannot_be_read_as_a_policy_are_answered_400(cluster: Emulator, serve: Serve,
                                                                      body: bytes) -> None:
    headers, _ = knative.ping_event({})
    response = serve("gc").post("/", headers=headers, data=body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


# --- properties --------------------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                max_size=4), max_leaves=20)
FIELD_VALUES = st.dictionaries(st.sampled_from(sorted(FIELDS)), JSON | st.floats(min_value=1e-320, max_value=1e308)
                               | st.integers(min_value=-(10**40), max_value=10**40), max_size=6)


@pytest.mark.fuzz
@given(data=FIELD_VALUES | JSON)
def test_any_json_is_a_policy_or_a_400_naming_what_is_wrong(data: Any) -> None:
    try:
        policy = parse_policy(data, {"GC_MIN_AGE_HOURS": "1"})
    except InvalidInput as exc:
        assert exc.status == 400 and exc.message and len(exc.message) < 2000
        return
    assert policy.requests_per_second >= 0.01 and policy.max_run_seconds <= CEILINGS["maxRunSeconds"].default
    json.dumps(policy.to_json())  # the summary can always carry it


LABEL_VALUE = st.text(st.characters(min_codepoint=97, max_codepoint=122), max_size=8)
STATUS = st.one_of(JSON, st.fixed_dictionaries(
    {"phase": st.sampled_from(["Succeeded", "Failed", "Error", "Running"]) | JSON,
     "finishedAt": st.just("2020-01-01T00:00:00Z") | st.sampled_from(
         ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2020-13-45T99:99:99Z"]) | JSON},
    optional={"nodes": JSON}))


@pytest.mark.fuzz
@given(statuses=st.lists(STATUS, min_size=1, max_size=4), pod_statuses=st.lists(STATUS, max_size=3),
       labels=st.dictionaries(st.sampled_from(["team", "workflows.argoproj.io/cron-workflow"]), LABEL_VALUE))
def test_gc_over_any_workflow_and_pod_status_answers_200_and_keeps_what_it_cannot_read(
        _emulator: Emulator, serve: Serve, statuses: list[Any], pod_statuses: list[Any],
        labels: dict[str, str]) -> None:
    _emulator.store.clear()
    store = _emulator.store
    workflows, pods = store.type_of(*WORKFLOWS), store.type_of("", "v1", "pods")
    for index, status in enumerate(statuses):
        stored = store.create(workflows, "ml", workflow("ml", f"wf-{index}", phase="Succeeded",
                                                         finished_at=ago(500), labels=labels), keep_status=True)
        store.replace(workflows, "ml", f"wf-{index}", {**stored, "status": status}, subresource="status")
        for number, pod_status in enumerate(pod_statuses):
            made = pod("ml", f"wf-{index}-{number}", workflow_name=f"wf-{index}", phase="Succeeded",
                       finished_at=ago(500), owner=stored)
            store.create(pods, "ml", {**made, "status": pod_status}, keep_status=True)
    code, summary = ping(serve, {"selector": "team", "invert": True})
    assert code == 200, summary
    assert summary["examined"]["workflows"] == len(statuses)
    assert summary["malformed"]["count"] <= len(statuses)
