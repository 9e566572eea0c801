"""Objectives on grid, random and sobol sweeps: results read from the Workflow, the best trial, stopping.

The test plays Argo with :class:`argoml.dev.argo_player.ArgoPlayer` (or writes node shapes by
hand where the case is about one shape), and delivers the Workflow events Knative would.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import flask.testing
import pytest

from argoml.dev import knative
from argoml.dev.argo_player import ArgoPlayer
from argoml.dev.emulator import Emulator
from argoml.hyperparam import reconcile, results
from tests.test_hyperparam import EXAMPLE, MERGE, NS, condition, create_sweep, send, sweep, trials_of, types, workflows

Client = flask.testing.FlaskClient
NAME = "example-hparam-sweep"
MODEL_BONUS = {"RandomForest": 0.05, "SVM": 0.0, "LogisticRegression": -0.05}


@pytest.fixture
def function(serve: Callable[[str], Client]) -> Client:
    return serve("hyperparam")


def accuracy(item: Mapping[str, Any]) -> dict[str, Any]:
    """A known response surface: best at learning-rate 0.3 with RandomForest."""
    value = 0.9 - (item["learning-rate"] - 0.3) ** 2 + MODEL_BONUS[item["model"]]
    return {"accuracy": round(value, 6), "loss": round(1 - value, 6)}


def tuned(algorithm: str = "grid", goal: str = "maximize", **objective: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE)
    body["spec"] |= {"algorithm": algorithm, "objective": {"metric": "accuracy", "goal": goal,
                                                          "additionalMetrics": ["loss"], **objective}}
    if algorithm != "grid":
        body["spec"]["maxTrials"] = 6
        body["spec"]["seed"] = 3
    return body


def deliver(function: Client, cluster: Emulator) -> None:
    """The Workflow update events Knative would deliver after the player wrote."""
    for workflow in workflows(cluster):
        assert send(function, "update", workflow).status_code == 200


def run(cluster: Emulator, function: Client, body: dict[str, Any], player: ArgoPlayer) -> dict[str, Any]:
    assert send(function, "add", create_sweep(cluster, body)).status_code == 200
    for _ in range(200):
        changed = player.step()
        deliver(function, cluster)
        if not changed:
            return sweep(cluster)["status"]
    raise AssertionError("the sweep did not finish")


@pytest.mark.parametrize("algorithm", ["grid", "random", "sobol"])
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_the_best_trial_is_the_one_with_the_best_value(cluster: Emulator, function: Client, algorithm: str,
                                                       goal: str) -> None:
    status = run(cluster, function, tuned(algorithm, goal), ArgoPlayer(accuracy, namespace=NS, seed=5))
    trials = trials_of(workflows(cluster)[0])
    values = [accuracy(trial)["accuracy"] for trial in trials]
    best = (max if goal == "maximize" else min)(range(len(values)), key=lambda i: values[i])
    assert status["bestTrial"] == {"trial": best, "hyperparams": trials[best], "value": values[best],
                                   "metrics": {"loss": accuracy(trials[best])["loss"]}, "workflow": NAME}
    assert (status["phase"], status["trialsSucceeded"], status["trialsFailed"], status["trialsWithoutValue"],
            status["trialsRunning"]) == ("Succeeded", len(trials), 0, 0, 0)
    assert [entry["trial"] for entry in status["history"]] == list(range(len(trials)))
    assert all(entry["state"] == "Succeeded" and entry["value"] == values[entry["trial"]]
               for entry in status["history"])
    complete = condition(status, "Complete")
    assert complete["status"] == "True"
    assert complete["reason"] == ("MaxTrialsReached" if algorithm != "grid" else "SearchSpaceExhausted")
    assert f"best: trial {best}, accuracy = {values[best]:g}" in status["message"]


def node(index: int, phase: str, outputs: list[dict[str, Any]] | None = None, *, children: list[str] | None = None,
         kind: str = "Pod", display: str | None = None, finished: str = "2026-01-01T00:10:00Z") -> tuple[str, dict]:
    node_id = f"n{index}-{display or ''}-{kind}"
    body: dict[str, Any] = {"id": node_id, "displayName": display or f"train({index}:learning-rate:0.1,model:SVM)",
                            "type": kind, "phase": phase, "finishedAt": finished}
    if outputs is not None:
        body["outputs"] = {"parameters": outputs}
    if children:
        body["children"] = children
    return node_id, body


def accuracy_of(value: Any) -> list[dict[str, Any]]:
    return [{"name": "accuracy", "value": value}]


def test_trials_without_a_usable_value_are_recorded_with_the_reason(cluster: Emulator, function: Client) -> None:
    assert send(function, "add", create_sweep(cluster, tuned())).status_code == 200
    attempt_failed = node(5, "Failed", accuracy_of("0.99"), display="train(5:learning-rate:0.2,model:SVM)(0)")
    attempt_ok = node(5, "Succeeded", accuracy_of("0.7"), display="train(5:learning-rate:0.2,model:SVM)(1)")
    nested_step = node(6, "Succeeded", accuracy_of("0.6"), display="fit")
    nodes = dict([
        node(0, "Succeeded", accuracy_of("0.8")),
        node(1, "Succeeded", [{"name": "loss", "value": "0.1"}]),  # metric missing
        node(2, "Succeeded", accuracy_of("high")),  # not a number
        node(3, "Succeeded", accuracy_of("NaN")),
        node(4, "Failed", accuracy_of("0.95")),  # failed, even though it reported a value
        attempt_failed, attempt_ok,
        node(5, "Succeeded", accuracy_of("0.7"), kind="Retry", children=[attempt_failed[0], attempt_ok[0]],
             display="train(5:learning-rate:0.2,model:SVM)"),
        nested_step,
        node(6, "Succeeded", None, kind="Steps", children=[nested_step[0]]),  # the value comes from a descendant
        node(7, "Running"),
    ])
    workflow = cluster.store.patch(types(cluster)[1], NS, NAME, {"status": {"phase": "Running", "nodes": nodes}},
                                   MERGE, subresource="status")
    assert send(function, "update", workflow).status_code == 200
    status = sweep(cluster)["status"]
    history = {entry["trial"]: entry for entry in status["history"]}
    assert history[0]["value"] == 0.8
    assert "no output parameter 'accuracy'" in history[1]["reason"] and "value" not in history[1]
    assert "'high', not a number" in history[2]["reason"]
    assert "not a finite number" in history[3]["reason"]
    assert (history[4]["state"], "value" in history[4]) == ("Failed", False)
    assert (history[5]["state"], history[5]["value"]) == ("Succeeded", 0.7)  # the retry: one trial, its last attempt
    assert history[6]["value"] == 0.6
    assert history[7]["state"] == "Running" and history[8]["state"] == "Pending"
    assert (status["trialsSucceeded"], status["trialsFailed"], status["trialsWithoutValue"],
            status["trialsRunning"]) == (6, 1, 3, 8)
    assert status["bestTrial"]["trial"] == 0


def test_reaching_the_target_stops_the_running_workflow(cluster: Emulator, function: Client) -> None:
    player = ArgoPlayer(accuracy, namespace=NS, seed=1)
    status = run(cluster, function, tuned(target=0.9), player)
    (workflow,) = workflows(cluster)
    assert workflow["spec"]["shutdown"] == "Stop"
    assert workflow["status"]["phase"] == "Failed"  # as Argo marks a stopped Workflow
    assert status["phase"] == "Succeeded" and status["bestTrial"]["value"] >= 0.9
    assert condition(status, "Complete")["reason"] == "GoalReached"
    assert "reached the target: accuracy" in status["message"]
    assert status["trialsFailed"] > 0  # the trials the stop cut short
    assert status["trialsSucceeded"] < 15


def test_more_failures_than_max_failed_trials_stop_the_sweep(cluster: Emulator, function: Client) -> None:
    body = tuned()
    body["spec"]["maxFailedTrials"] = 1
    status = run(cluster, function, body, ArgoPlayer(lambda item: None if item["model"] == "SVM" else accuracy(item),
                                                     namespace=NS, seed=2))
    (workflow,) = workflows(cluster)
    assert workflow["spec"]["shutdown"] == "Stop"
    assert status["phase"] == "Failed" and condition(status, "Complete")["reason"] == "MaxFailedTrialsReached"
    assert "more than maxFailedTrials (1)" in status["message"]


def test_max_failed_trials_works_without_an_objective(cluster: Emulator, function: Client) -> None:
    body = copy.deepcopy(EXAMPLE)
    body["spec"]["maxFailedTrials"] = 0
    status = run(cluster, function, body, ArgoPlayer(lambda item: None, namespace=NS))
    assert workflows(cluster)[0]["spec"]["shutdown"] == "Stop"
    assert condition(status, "Complete")["reason"] == "MaxFailedTrialsReached"
    assert "bestTrial" not in status and "history" not in status and "trialsWithoutValue" not in status


def test_a_sweep_without_objective_reports_as_before(cluster: Emulator, function: Client) -> None:
    status = run(cluster, function, copy.deepcopy(EXAMPLE), ArgoPlayer(accuracy, namespace=NS))
    assert set(status) == {"observedGeneration", "phase", "message", "workflowName", "workflowGeneration", "trials",
                           "trialsSucceeded", "trialsFailed", "startedAt", "finishedAt", "conditions"}
    assert [c["type"] for c in status["conditions"]] == ["SpecValid", "WorkflowCreated", "UpToDate"]
    assert (status["phase"], status["trialsSucceeded"]) == ("Succeeded", 15)
    assert "shutdown" not in workflows(cluster)[0]["spec"]


def test_compressed_nodes_are_read(cluster: Emulator, function: Client) -> None:
    status = run(cluster, function, tuned(), ArgoPlayer(accuracy, namespace=NS, compress_nodes=True))
    workflow = workflows(cluster)[0]
    assert workflow["status"]["compressedNodes"] and not workflow["status"].get("nodes")
    assert (status["trialsSucceeded"], status["bestTrial"]["hyperparams"]) == (
        15, {"learning-rate": 0.3, "model": "RandomForest"})


def test_offloaded_nodes_make_the_results_unknown_not_zero(cluster: Emulator, function: Client) -> None:
    status = run(cluster, function, tuned(), ArgoPlayer(accuracy, namespace=NS, offload_nodes=True))
    assert "trialsSucceeded" not in status and "bestTrial" not in status
    assert "offloaded the node status" in status["message"]
    known = condition(status, "ResultsKnown")
    assert (known["status"], known["reason"]) == ("False", "NodesUnreadable")


def test_compressed_nodes_beyond_the_bound_are_not_inflated() -> None:
    bomb = base64.b64encode(gzip.compress(b'{"a": "' + b"x" * (results.MAX_NODES_BYTES + 10) + b'"}')).decode()
    assert len(bomb) < results.MAX_NODES_BYTES // 100  # a small object that would inflate past the bound
    found = results.read({"status": {"compressedNodes": bomb}}, None, results.Metrics("accuracy"))
    assert not found.known and "more than 32 MiB" in (found.reason or "")
    for garbage in ("not base64!", base64.b64encode(b"not gzip").decode(),
                    base64.b64encode(gzip.compress(b"[1, 2]")).decode()):
        found = results.read({"status": {"compressedNodes": garbage}}, None, results.Metrics("accuracy"))
        assert not found.known and "unknown" in (found.reason or "")


def test_a_labelled_workflow_a_user_made_is_ignored_however_it_looks(cluster: Emulator, function: Client) -> None:
    create_sweep(cluster, tuned())
    stray = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
             "metadata": {"name": NAME, "namespace": NS, "labels": {reconcile.LABEL: NAME}},
             "status": {"phase": {"not": "a string"}, "nodes": [1, 2, 3]}}
    answer = send(function, "update", stray)
    assert answer.status_code == 200 and answer.json["result"] == "ignored"
    headers, _ = knative.resource_event("update", stray)
    stray.pop("status")
    body = (json.dumps(stray)[:-1] + ', "status": ' + '{"a": ' * 1200 + "{}" + "}" * 1200 + "}").encode()
    answer = function.post("/", headers=headers, data=body)
    # Too deep to read: a 400 (never a 5xx that Knative would retry forever).
    assert answer.status_code == 400 and "nested" in answer.json["error"]["message"]


def test_values_are_parsed_as_argo_writes_them() -> None:
    assert results._number(" 0.5\n", "m") == (0.5, None)
    assert results._number("1e400", "m")[0] is None
    assert results._number(10**400, "m")[0] is None
    assert results._number(True, "m")[0] is None
    assert math.isclose(results._number("-3", "m")[0] or 0, -3)


def test_a_history_too_large_for_the_status_is_left_out_and_said(cluster: Emulator, function: Client) -> None:
    body = tuned()
    body["spec"]["hyperparams"] = {"a": {"range": {"min": 0, "max": 49, "step": 1}},
                                   "b": {"range": {"min": 0, "max": 39, "step": 1}}}  # 2,000 trials
    assert send(function, "add", create_sweep(cluster, body)).status_code == 200
    nodes = dict([node(0, "Succeeded", accuracy_of("0.5"))])
    workflow = cluster.store.patch(types(cluster)[1], NS, NAME, {"status": {"phase": "Running", "nodes": nodes}},
                                   MERGE, subresource="status")
    assert send(function, "update", workflow).status_code == 200
    status = sweep(cluster)["status"]
    assert "history" not in status and status["bestTrial"]["value"] == 0.5
    assert "the history of 2,000 trials is not kept in the status" in status["message"]
    assert len(json.dumps(status)) < 16 << 10
