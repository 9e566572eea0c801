"""The GC policy: defaults from the environment, overrides from the event, every bad field named.

Also the pieces of a run that need no cluster: the token bucket's pacing (on a fake
clock) and a pod's own finish time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from argoml.errors import InvalidInput
from argoml.gc.pacing import TokenBucket
from argoml.gc.policy import FIELDS, Policy, parse_policy
from argoml.gc.selection import Orphan, pod_finished_at
from tests.clock import FakeClock
from tests.conftest import ROOT


def test_an_empty_event_gets_the_built_in_defaults() -> None:
    assert parse_policy(None, {}) == parse_policy({}, {}) == Policy()
    policy = Policy()
    assert policy.namespaces is None and policy.max_age_hours == 168 and policy.keep_failed_hours == 168
    assert not policy.dry_run and not policy.invert and policy.orphans


def test_every_field_is_read_from_the_event() -> None:
    policy = parse_policy({"namespaces": ["ml-team", "vision"], "maxAgeHours": 240, "keepFailedHours": 336.5,
                           "selector": "team=vision,tier in (a,b)", "namePrefixes": ["nightly-", "nightly-"],
                           "invert": True, "dryRun": True, "maxDeletions": 7, "requestsPerSecond": 2.5,
                           "orphans": False, "tensorboardTTLHours": None, "pageSize": 50,
                           "maxRunSeconds": 60}, {})
    assert policy.namespaces == ("ml-team", "vision")
    assert (policy.max_age_hours, policy.keep_failed_hours) == (240, 336.5)
    assert str(policy.selector) == "team=vision,tier in (a,b)" and policy.name_prefixes == ("nightly-",)
    assert policy.invert and policy.dry_run and not policy.orphans
    assert (policy.max_deletions, policy.requests_per_second, policy.page_size) == (7, 2.5, 50)
    assert policy.tensorboard_ttl_hours is None and policy.max_run_seconds == 60


ENV = {"GC_NAMESPACES": "a, b", "GC_MAX_AGE_HOURS": "10", "GC_KEEP_FAILED_HOURS": "20", "GC_SELECTOR": "x=y",
       "GC_NAME_PREFIXES": "p-,q-", "GC_INVERT": "true", "GC_DRY_RUN": "yes", "GC_MAX_DELETIONS": "3",
       "GC_REQUESTS_PER_SECOND": "4", "GC_ORPHANS": "off", "GC_TENSORBOARD_TTL_HOURS": "off", "GC_PAGE_SIZE": "9",
       "GC_MAX_RUN_SECONDS": "120"}


def test_environment_variables_set_the_defaults() -> None:
    policy = parse_policy({}, ENV)
    assert policy.namespaces == ("a", "b") and policy.max_age_hours == 10 and policy.keep_failed_hours == 20
    assert str(policy.selector) == "x=y" and policy.name_prefixes == ("p-", "q-") and policy.invert
    assert policy.dry_run and policy.max_deletions == 3 and policy.requests_per_second == 4
    assert not policy.orphans and policy.tensorboard_ttl_hours is None and policy.page_size == 9
    assert policy.max_run_seconds == 120
    assert set(ENV) == {spec.env for spec in FIELDS.values()}, "every field has an environment default"


def test_the_event_overrides_the_environment_field_by_field() -> None:
    policy = parse_policy({"maxAgeHours": 1, "dryRun": False, "namespaces": "all"}, ENV)
    assert policy.max_age_hours == 1 and not policy.dry_run and policy.namespaces is None
    assert policy.keep_failed_hours == 20 and policy.max_deletions == 3


def test_failed_workflows_follow_max_age_unless_kept_longer() -> None:
    assert parse_policy({"maxAgeHours": 48}, {}).keep_failed_hours == 48
    assert parse_policy({"maxAgeHours": 48}, {"GC_MAX_AGE_HOURS": "5"}).keep_failed_hours == 48
    assert parse_policy({"maxAgeHours": 48, "keepFailedHours": 96}, {}).keep_failed_hours == 96
    with pytest.raises(InvalidInput, match=r"^keepFailedHours: 24 is less than maxAgeHours \(48\)"):
        parse_policy({"maxAgeHours": 48, "keepFailedHours": 24}, {})


def test_the_policy_reports_itself_resolved() -> None:
    data = {"namespaces": ["ml"], "maxAgeHours": 240.0, "keepFailedHours": 336.0, "selector": "a=b",
            "namePrefixes": ["n-"], "invert": False, "dryRun": True, "maxDeletions": 10, "requestsPerSecond": 5.0,
            "orphans": True, "tensorboardTTLHours": 12.0, "pageSize": 100, "maxRunSeconds": 300.0}
    assert parse_policy(data, {}).to_json() == data
    assert set(data) == set(FIELDS)


@pytest.mark.parametrize("data, field", [
    ({"maxAgeHours": -1}, "maxAgeHours"),
    ({"maxAgeHours": "168"}, "maxAgeHours"),
    ({"maxAgeHours": True}, "maxAgeHours"),
    ({"keepFailedHours": -0.5}, "keepFailedHours"),
    ({"tensorboardTTLHours": -2}, "tensorboardTTLHours"),
    ({"namespaces": []}, "namespaces"),
    ({"namespaces": "ml-team"}, "namespaces"),
    ({"namespaces": ["ml", "Bad_NS"]}, "namespaces[1]"),
    ({"namespaces": ["../kube-system"]}, "namespaces[0]"),
    ({"selector": "team in (a"}, "selector"),
    ({"selector": "bad key!=x"}, "selector"),
    ({"selector": ["team=vision"]}, "selector"),
    ({"namePrefixes": "nightly-"}, "namePrefixes"),
    ({"namePrefixes": ["ok-", "Not OK"]}, "namePrefixes[1]"),
    ({"invert": "yes"}, "invert"),
    ({"dryRun": 1}, "dryRun"),
    ({"orphans": None}, "orphans"),
    ({"maxDeletions": 0}, "maxDeletions"),
    ({"maxDeletions": 2.5}, "maxDeletions"),
    ({"requestsPerSecond": 0}, "requestsPerSecond"),
    ({"pageSize": 0}, "pageSize"),
    ({"maxAgeHour": 10}, "maxAgeHour"),
    ({"invert": True}, "invert"),
])
def test_an_invalid_field_is_named(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_policy(data, {})
    assert raised.value.message.startswith(f"{field}:"), raised.value.message


@pytest.mark.parametrize("data", [[{"maxAgeHours": 1}], "dryRun", 7])
def test_data_that_is_not_an_object_is_refused(data: Any) -> None:
    with pytest.raises(InvalidInput, match=r"^data: expected a GC policy object"):
        parse_policy(data, {})


def test_an_invalid_environment_default_names_the_variable() -> None:
    with pytest.raises(InvalidInput, match=r"^GC_MAX_AGE_HOURS: expected a number of hours, got 'a week'"):
        parse_policy({}, {"GC_MAX_AGE_HOURS": "a week"})
    with pytest.raises(InvalidInput, match=r"^GC_DRY_RUN: expected true or false"):
        parse_policy({}, {"GC_DRY_RUN": "maybe"})
    assert parse_policy({"maxAgeHours": 3}, {"GC_MAX_AGE_HOURS": "a week"}).max_age_hours == 3


@pytest.mark.parametrize(("data", "field"), [
    ({"maxAgeHours": 0}, "maxAgeHours"),
    ({"maxAgeHours": 48, "keepFailedHours": 12}, "keepFailedHours"),
    ({"maxAgeHours": 48, "tensorboardTTLHours": 1}, "tensorboardTTLHours"),
])
def test_no_event_goes_below_the_deployments_minimum_age(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: .* below this deployment's minimum age "
                                           r"\(GC_MIN_AGE_HOURS=24\)"):
        parse_policy(data, {"GC_MIN_AGE_HOURS": "24"})
    assert parse_policy({"maxAgeHours": 24, "tensorboardTTLHours": None}, {"GC_MIN_AGE_HOURS": "24"})


def test_invert_acts_on_the_workflows_the_selector_and_prefixes_do_not_match() -> None:
    plain = parse_policy({"selector": "workflows.argoproj.io/cron-workflow", "namePrefixes": ["nightly-"]}, {})
    inverted = parse_policy({"selector": "workflows.argoproj.io/cron-workflow", "namePrefixes": ["nightly-"],
                             "invert": True}, {})
    scheduled = {"workflows.argoproj.io/cron-workflow": "nightly"}
    for name, labels, expected in [("nightly-1", scheduled, True), ("nightly-1", {}, False),
                                   ("adhoc-1", scheduled, False), ("adhoc-1", None, False)]:
        assert plain.applies_to(name, labels) is expected
        assert inverted.applies_to(name, labels) is not expected


def test_the_token_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    clock = FakeClock(start=1000.0)
    bucket = TokenBucket(rate=4, clock=clock)
    for _ in range(4):
        bucket.take()
    assert clock.sleeps == []
    for _ in range(8):
        bucket.take()
    assert len(clock.sleeps) == 8 and clock.now - 1000 == pytest.approx(2.0)
    assert bucket.waited == pytest.approx(2.0)


def test_idle_time_refills_the_bucket_up_to_the_burst_only() -> None:
    clock = FakeClock(start=1000.0)
    bucket = TokenBucket(rate=2, clock=clock, burst=3)
    for _ in range(3):
        bucket.take()
    clock.now += 60
    for _ in range(3):
        bucket.take()
    assert clock.sleeps == []
    bucket.take()
    assert clock.sleeps == [pytest.approx(0.5)]


def test_a_pods_own_finish_time_is_its_last_container_to_stop() -> None:
    pod = {"status": {"phase": "Succeeded", "containerStatuses": [
        {"state": {"terminated": {"finishedAt": "2024-05-01T10:00:00Z"}}},
        {"state": {"terminated": {"finishedAt": "2024-05-01T12:00:00.5+00:00"}}},
        {"state": {"running": {"startedAt": "2024-05-01T13:00:00Z"}}}],
        "initContainerStatuses": [{"state": {"terminated": {"finishedAt": "2024-05-01T09:00:00Z"}}}],
        "conditions": [{"type": "Ready", "lastTransitionTime": "2024-06-01T00:00:00Z"}]}}
    assert pod_finished_at(pod) == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)


def test_without_container_states_the_last_condition_change_is_the_finish_time() -> None:
    pod = {"status": {"phase": "Failed", "conditions": [
        {"type": "PodScheduled", "lastTransitionTime": "2024-05-01T08:00:00Z"},
        {"type": "Ready", "lastTransitionTime": "2024-05-01T11:00:00Z"}]}}
    assert pod_finished_at(pod) == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert pod_finished_at({"status": {"phase": "Failed"}}) is None


@pytest.mark.parametrize("name", ["scheduled", "adhoc"])
def test_the_example_policies_are_valid(name: str) -> None:
    data = json.loads((ROOT / "examples" / "gc-policies" / f"{name}.json").read_text())
    policy = parse_policy(data, {})
    cron = {"workflows.argoproj.io/cron-workflow": "nightly"}
    assert policy.applies_to("nightly-1714564800", cron) is (name == "scheduled")
    assert policy.applies_to("try-lr", {}) is (name == "adhoc")
    assert policy.max_age_hours == {"scheduled": 240, "adhoc": 168}[name]


def test_an_orphan_stays_an_orphan_only_while_no_workflow_of_its_own_has_the_name() -> None:
    unowned, owned = Orphan("ml", "wf", None), Orphan("ml", "wf", "uid-old")
    assert unowned.still_gone(None) and owned.still_gone(None)
    assert owned.still_gone("uid-new"), "a new workflow of the same name is not the pod's"
    assert not unowned.still_gone("uid-new"), "a workflow created during the run may be the pod's"
    assert not owned.still_gone("uid-old")
