"""The periodic resync: a PingSource tick reconciles every HyperparamWorkflow, events or not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import flask.testing
import pytest

from argoml.dev import knative
from argoml.dev.argo_player import ArgoPlayer
from argoml.dev.emulator import Emulator
from argoml.hyperparam import resync
from tests.test_hyperparam import EXAMPLE, calls, send, types
from tests.test_hyperparam_adaptive import adaptive_sweep, score

Client = flask.testing.FlaskClient


@pytest.fixture
def function(serve: Callable[[str], Client]) -> Client:
    return serve("hyperparam")


def tick(function: Client) -> dict[str, Any]:
    headers, body = knative.ping_event({"resync": "all"}, namespace="argoml", name="argoml-hyperparam-resync")
    answer = function.post("/", headers=headers, data=body)
    assert answer.status_code == 200, answer.json
    return dict(answer.json or {})


def lost(cluster: Emulator, namespace: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A sweep created while no ApiServerSource adapter watched: no event for it ever arrives."""
    sweep = copy.deepcopy(body or EXAMPLE)
    sweep["metadata"]["name"] = name
    return cluster.store.create(types(cluster)[0], namespace, sweep)


def test_a_tick_reconciles_sweeps_whose_events_were_lost(cluster: Emulator, function: Client) -> None:
    for namespace, name in (("ml", "a"), ("ml", "b"), ("vision", "c")):
        lost(cluster, namespace, name)
    answer = tick(function)
    assert (answer["result"], answer["examined"], answer["changed"], answer["problems"]) == ("resynced", 3, 3, [])
    for namespace, name in (("ml", "a"), ("ml", "b"), ("vision", "c")):
        assert cluster.store.get(types(cluster)[1], namespace, name)["metadata"]["labels"]
        assert cluster.store.get(types(cluster)[0], namespace, name)["status"]["trials"] == 15


def test_a_tick_when_nothing_changed_writes_nothing(cluster: Emulator, function: Client) -> None:
    for name in ("a", "b", "c"):
        lost(cluster, "ml", name)
    tick(function)
    cluster.calls.clear()
    answer = tick(function)
    assert (answer["examined"], answer["changed"]) == (3, 0)
    assert calls(cluster, "list", "hyperparamworkflows") == 1
    assert calls(cluster, "get", "hyperparamworkflows") == 0  # the listed copy is used
    assert calls(cluster, "get", "workflows") == 3
    assert {c.verb for c in cluster.calls} == {"list", "get"}


def test_the_sweeps_are_listed_a_page_at_a_time(cluster: Emulator, function: Client,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resync, "PAGE", 2)
    for index in range(5):
        lost(cluster, "ml", f"s{index}")
    assert tick(function)["examined"] == 5
    assert calls(cluster, "list", "hyperparamworkflows") == 3


def test_a_lost_trial_finished_event_does_not_stall_an_adaptive_sweep(cluster: Emulator, function: Client) -> None:
    created = lost(cluster, "ml", "tune", adaptive_sweep(max_trials=6, parallel=2))
    assert send(function, "add", created).status_code == 200
    player = ArgoPlayer(score, namespace="ml", seed=2)
    workflows = types(cluster)[1]
    player.play(until=lambda: any((w.get("status") or {}).get("phase") == "Succeeded"
                                  for w in cluster.store.find(workflows, "ml")))
    assert len(cluster.store.find(workflows, "ml")) == 2  # the finished trial's event was lost: no proposal yet
    tick(function)
    assert len(cluster.store.find(workflows, "ml")) == 3
    history = cluster.store.get(types(cluster)[0], "ml", "tune")["status"]["history"]
    assert [entry["state"] for entry in history][-1] == "Pending" and any(e["state"] == "Succeeded" for e in history)


def test_one_sweep_the_api_fails_on_is_reported_and_the_others_go_on(cluster: Emulator, function: Client) -> None:
    for name in ("a", "b", "c"):
        lost(cluster, "ml", name)
    cluster.fail(503, method="GET", resource="workflows", name="b")
    answer = tick(function)
    assert answer["examined"] == 3 and answer["changed"] == 2
    ((problem),) = answer["problems"]
    assert problem.startswith("ml/b: ") and "503" in problem
    assert tick(function)["changed"] == 1  # the next tick heals it


def test_a_tick_with_the_api_down_answers_503_so_that_it_is_retried(cluster: Emulator, function: Client) -> None:
    cluster.fail(503, method="GET", resource="hyperparamworkflows")
    headers, body = knative.ping_event({}, namespace="argoml", name="argoml-hyperparam-resync")
    assert function.post("/", headers=headers, data=body).status_code == 503
