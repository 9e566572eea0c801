"""Adaptive sweeps (tpe, cmaes): one Workflow per trial, proposed as results come in, against the emulator.

The test plays Argo (:class:`argoml.dev.argo_player.ArgoPlayer` finishes trials in an order of
its own and writes each trial's metric into ``status.nodes``) and delivers the events Knative
would, also replayed, duplicated, stale and out of order.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

import flask.testing
import pytest

from argoml.dev import knative
from argoml.dev.argo_player import ArgoPlayer
from argoml.dev.emulator import Emulator
from argoml.hyperparam import adaptive, reconcile, search
from tests.test_hyperparam import EXAMPLE, NS, calls, condition, create_sweep, send, sweep, trials_of, types, workflows

Client = flask.testing.FlaskClient
NAME = "tune"


@pytest.fixture
def function(serve: Callable[[str], Client]) -> Client:
    return serve("hyperparam")


def score(item: Mapping[str, Any]) -> dict[str, Any]:
    """A known function: best (1.0) at x = 0.3, y = -0.5, model b."""
    value = 1 - (item["x"] - 0.3) ** 2 - (item["y"] + 0.5) ** 2 - (0 if item["model"] == "b" else 0.2)
    return {"score": value}


def adaptive_sweep(algorithm: str = "tpe", max_trials: int = 12, parallel: int = 3, **spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE)
    body["metadata"]["name"] = NAME
    body["spec"] |= {"algorithm": algorithm, "maxTrials": max_trials, "parallelTrials": parallel, "seed": 4,
                     "objective": {"metric": "score", "goal": "maximize"},
                     "hyperparams": {"x": {"range": {"min": -1, "max": 1}}, "y": {"range": {"min": -1, "max": 1}},
                                     "model": {"values": ["a", "b"]}}}
    body["spec"]["templates"][0]["steps"][0][0]["arguments"]["parameters"] = [
        {"name": "x", "value": "{{item.x}}"}, {"name": "y", "value": "{{item.y}}"}]
    body["spec"]["templates"][1]["inputs"]["parameters"] = [{"name": "x"}, {"name": "y"}]
    body["spec"]["templates"][1]["outputs"] = {"parameters": [{"name": "score", "valueFrom": {"path": "/tmp/s"}}]}
    body["spec"] |= spec
    return body


def running(cluster: Emulator) -> int:
    return sum(1 for w in workflows(cluster) if (w.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


def play(cluster: Emulator, function: Client, player: ArgoPlayer, limit: int = 400) -> dict[str, Any]:
    """Argo and Knative: step the Workflows, deliver an event per Workflow, until the sweep completes."""
    for _ in range(limit):
        player.step()
        for workflow in workflows(cluster):
            assert send(function, "update", workflow).status_code == 200
        assert running(cluster) <= sweep(cluster, NAME)["spec"]["parallelTrials"]
        status = sweep(cluster, NAME)["status"]
        if condition(status, "Complete")["status"] == "True":
            return status
    raise AssertionError("the sweep did not complete")


@pytest.mark.parametrize("algorithm", ["tpe", "cmaes"])
def test_an_adaptive_sweep_runs_trial_workflows_until_max_trials(cluster: Emulator, function: Client,
                                                                 algorithm: str) -> None:
    created = create_sweep(cluster, adaptive_sweep(algorithm))
    assert send(function, "add", created).status_code == 200
    first = workflows(cluster)
    assert sorted(w["metadata"]["name"] for w in first) == ["tune-0", "tune-1", "tune-2"]  # parallelTrials at once
    for index, workflow in enumerate(sorted(first, key=lambda w: w["metadata"]["name"])):
        assert workflow["metadata"]["labels"] == {"argoml.io/hyperparamworkflow": NAME, "argoml.io/trial": str(index)}
        assert workflow["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
        assert len(trials_of(workflow)) == 1 and "objective" not in workflow["spec"]
    status = play(cluster, function, ArgoPlayer(score, namespace=NS, seed=9))
    assert (status["phase"], condition(status, "Complete")["reason"]) == ("Succeeded", "MaxTrialsReached")
    assert len(workflows(cluster)) == 12 and status["trials"] == 12
    history = status["history"]
    assert [entry["trial"] for entry in history] == list(range(12))
    by_name = {w["metadata"]["name"]: w for w in workflows(cluster)}
    for entry in history:
        assert entry["workflow"] == f"tune-{entry['trial']}" and entry["state"] == "Succeeded"
        assert trials_of(by_name[entry["workflow"]]) == [entry["hyperparams"]]
        assert entry["value"] == pytest.approx(score(entry["hyperparams"])["score"])
    best = max(history, key=lambda entry: entry["value"])
    assert status["bestTrial"] == {"trial": best["trial"], "hyperparams": best["hyperparams"], "value": best["value"],
                                   "metrics": {}, "workflow": best["workflow"]}
    assert (status["trialsSucceeded"], status["trialsRunning"], status["trialsFailed"]) == (12, 0, 0)
    assert {c.agent for c in cluster.calls if c.verb == "create"} == {"argoml-hyperparam"}


def test_the_next_trial_follows_from_the_seed_and_the_history_alone() -> None:
    space = search.parse(adaptive_sweep()["spec"])
    history = [adaptive.Past(i, trial, True, score(trial)["score"], 3)
               for i, trial in enumerate(adaptive.propose(space, "maximize", [], 3))]
    assert adaptive.propose(space, "maximize", history, 2) == adaptive.propose(space, "maximize", history, 2)
    other = search.SearchSpace(space.algorithm, space.axes, space.max_trials, space.seed + 1, space.parameter_name)
    assert adaptive.propose(other, "maximize", history, 2) != adaptive.propose(space, "maximize", history, 2)


def test_replayed_duplicated_and_stale_events_never_make_a_second_trial(cluster: Emulator, function: Client) -> None:
    created = create_sweep(cluster, adaptive_sweep(max_trials=6, parallel=2))
    headers, body = knative.resource_event("add", created)
    for _ in range(3):
        assert function.post("/", headers=headers, data=body).status_code == 200
    player = ArgoPlayer(score, namespace=NS, seed=1)
    stale = [copy.deepcopy(w) for w in workflows(cluster)]
    player.play(until=lambda: running(cluster) < 2)  # one trial finished
    for workflow in reversed(workflows(cluster)):  # out of order
        assert send(function, "update", workflow).status_code == 200
    proposed = {w["metadata"]["name"]: trials_of(w) for w in workflows(cluster)}
    assert len(proposed) > 2  # finished trials were followed by new ones
    before = sweep(cluster, NAME)["status"]
    cluster.calls.clear()
    for workflow in [*stale, *workflows(cluster)]:  # stale copies and replays of every event so far
        assert send(function, "update", workflow).status_code == 200
        assert send(function, "update", workflow, mode="Reference").status_code == 200
    assert send(function, "add", created).status_code == 200
    assert {w["metadata"]["name"]: trials_of(w) for w in workflows(cluster)} == proposed
    assert calls(cluster, "create", "workflows") == 0 and calls(cluster, "patch", "hyperparamworkflows/status") == 0
    assert sweep(cluster, NAME)["status"] == before


def test_a_status_write_lost_after_creating_trials_adopts_them(cluster: Emulator, function: Client) -> None:
    cluster.fail(409, method="PATCH", resource="hyperparamworkflows/status")
    assert send(function, "add", create_sweep(cluster, adaptive_sweep())).status_code == 200
    assert calls(cluster, "create", "workflows") == 3 and len(workflows(cluster)) == 3
    history = sweep(cluster, NAME)["status"]["history"]
    by_name = {w["metadata"]["name"]: trials_of(w)[0] for w in workflows(cluster)}
    assert [(entry["workflow"], entry["hyperparams"]) for entry in history] == [
        (f"tune-{i}", by_name[f"tune-{i}"]) for i in range(3)]


def test_a_concurrent_event_that_proposed_the_same_trial_is_refused_and_adopted(cluster: Emulator,
                                                                                function: Client) -> None:
    created = create_sweep(cluster, adaptive_sweep(parallel=1))
    sweep_now = sweep(cluster, NAME)
    generated = reconcile.generate(sweep_now)
    (proposal,) = adaptive.propose(generated.space, "maximize", [], 1)
    cluster.store.create(types(cluster)[1], NS, reconcile.trial_workflow(sweep_now, generated.space, 0, proposal))
    assert send(function, "add", created).status_code == 200
    (workflow,) = workflows(cluster)
    assert trials_of(workflow) == [proposal]
    assert sweep(cluster, NAME)["status"]["history"][0]["hyperparams"] == proposal


def test_a_deleted_trial_workflow_fails_its_trial_and_the_sweep_goes_on(cluster: Emulator, function: Client) -> None:
    assert send(function, "add", create_sweep(cluster, adaptive_sweep(parallel=2))).status_code == 200
    gone = cluster.store.delete(types(cluster)[1], NS, "tune-1")
    assert send(function, "delete", gone, mode="Reference").status_code == 200
    status = sweep(cluster, NAME)["status"]
    entry = status["history"][1]
    assert (entry["state"], entry["reason"]) == ("Failed", "its Workflow tune-1 was deleted before the trial finished")
    assert sorted(w["metadata"]["name"] for w in workflows(cluster)) == ["tune-0", "tune-2"]  # not re-created
    assert status["trialsRunning"] == 2 and status["trialsFailed"] == 1


def test_reaching_the_target_stops_the_running_trials(cluster: Emulator, function: Client) -> None:
    body = adaptive_sweep(max_trials=40, parallel=3)
    body["spec"]["objective"]["target"] = 0.6
    assert send(function, "add", create_sweep(cluster, body)).status_code == 200
    status = play(cluster, function, ArgoPlayer(score, namespace=NS, seed=3))
    assert (status["phase"], condition(status, "Complete")["reason"]) == ("Succeeded", "GoalReached")
    assert status["bestTrial"]["value"] >= 0.6 and status["trials"] < 40
    stopped = [w for w in workflows(cluster) if w["spec"].get("shutdown") == "Stop"]
    assert stopped and all(w["status"]["phase"] == "Failed" for w in stopped)
    assert "reached the target" in condition(status, "Complete")["message"] or "target" in status["message"]


def test_max_failed_trials_ends_the_sweep_as_failed(cluster: Emulator, function: Client) -> None:
    body = adaptive_sweep(max_trials=20, parallel=2, maxFailedTrials=2)
    assert send(function, "add", create_sweep(cluster, body)).status_code == 200
    status = play(cluster, function, ArgoPlayer(lambda item: None, namespace=NS))
    assert (status["phase"], condition(status, "Complete")["reason"]) == ("Failed", "MaxFailedTrialsReached")
    assert status["trialsFailed"] >= 3 and status["trials"] < 20


def test_an_exhausted_discrete_space_completes_the_sweep(cluster: Emulator, function: Client) -> None:
    body = adaptive_sweep(max_trials=10, parallel=2)
    body["spec"]["hyperparams"] = {"x": {"values": [0.1, 0.3]}, "y": {"values": [-0.5]},
                                   "model": {"values": ["a", "b"]}}
    assert send(function, "add", create_sweep(cluster, body)).status_code == 200
    status = play(cluster, function, ArgoPlayer(score, namespace=NS))
    assert condition(status, "Complete")["reason"] == "SearchSpaceExhausted" and status["trials"] == 4
    assert len({json.dumps(entry["hyperparams"], sort_keys=True) for entry in status["history"]}) == 4
    assert status["bestTrial"]["hyperparams"] == {"model": "b", "x": 0.3, "y": -0.5}


def test_a_trial_name_taken_by_another_workflow_fails_that_trial_only(cluster: Emulator, function: Client) -> None:
    cluster.store.create(types(cluster)[1], NS, {"metadata": {"name": "tune-1"}, "spec": {"entrypoint": "theirs"}})
    assert send(function, "add", create_sweep(cluster, adaptive_sweep())).status_code == 200
    history = sweep(cluster, NAME)["status"]["history"]
    assert history[1]["state"] == "Failed" and "not controlled by this HyperparamWorkflow" in history[1]["reason"]
    assert [h["state"] for h in history] == ["Pending", "Failed", "Pending"]
    theirs = cluster.store.get(types(cluster)[1], NS, "tune-1")
    assert theirs["spec"] == {"entrypoint": "theirs"}


def test_an_adaptive_spec_needs_an_objective_and_a_name_that_fits_its_trials() -> None:
    body = adaptive_sweep(max_trials=1000)
    body["spec"].pop("objective")
    body["metadata"]["name"] = "x" * 60
    with pytest.raises(search.InvalidSpec) as caught:
        reconcile.generate(body)
    assert {e.path for e in caught.value.errors} == {"spec.objective", "metadata.name"}


def test_the_function_imports_optuna_only_for_an_adaptive_proposal() -> None:
    """Optuna takes about 0.2 s to import: a cold start of the hyperparam function must not pay it."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import runpy, sys; runpy.run_path('functions/hyperparam/main.py'); "
            "assert 'optuna' not in sys.modules, 'the function imported Optuna at start'; "
            "from argoml.hyperparam import adaptive, search; "
            "space = search.parse({'algorithm': 'tpe', 'maxTrials': 2, 'hyperparams': {'x': {'values': [1, 2]}}}); "
            "adaptive.propose(space, 'maximize', [], 1); assert 'optuna' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_crd_requires_an_objective_for_adaptive_algorithms_without_the_webhook() -> None:
    from tests.conftest import ROOT
    from tests.schemas import SchemaRegistry

    registry = SchemaRegistry.from_paths(ROOT / "knative" / "crd")
    body = adaptive_sweep()
    body["metadata"]["namespace"] = NS
    assert registry.problems(body) == []
    del body["spec"]["objective"]
    assert registry.problems(body) == ["spec.objective: objective is required for the tpe and cmaes algorithms"]
    body["spec"]["objective"] = {"metric": "score", "goal": "biggest"}
    assert any("'biggest' is not one of ['maximize', 'minimize']" in p for p in registry.problems(body))
