"""``argoml results``: a sweep's trials as a table, best first, from a file or from the cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import flask.testing
import pytest

from argoml import cli
from argoml.dev.argo_player import ArgoPlayer
from argoml.dev.emulator import Emulator
from tests.test_hyperparam import NS, send, types, workflows
from tests.test_hyperparam_objectives import NAME, accuracy, run, tuned

Client = flask.testing.FlaskClient


@pytest.fixture
def function(serve: Callable[[str], Client]) -> Client:
    return serve("hyperparam")


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()]


def test_results_of_a_sweep_in_the_cluster_are_ranked_best_first(cluster: Emulator, function: Client,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run(cluster, function, tuned(), ArgoPlayer(accuracy, namespace=NS))
    assert cli.main(["results", "-n", NS, NAME]) == 0
    table = rows(capsys.readouterr().out)
    assert table[0] == ["#", "trial", "state", "accuracy", "loss", "learning-rate", "model", "workflow", "reason"]
    assert table[1][:4] == ["1*", "6", "Succeeded", "0.95"]  # learning-rate 0.3, RandomForest
    assert table[1][5:7] == ["0.3", "RandomForest"] and len(table) == 16
    values = [float(row[3]) for row in table[1:]]
    assert values == sorted(values, reverse=True)


def test_results_of_a_workflow_file_read_its_nodes(cluster: Emulator, function: Client, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run(cluster, function, tuned(goal="minimize"), ArgoPlayer(accuracy, namespace=NS, compress_nodes=True))
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflows(cluster)[0]))
    assert cli.main(["results", str(path), "--metric", "loss", "--goal", "minimize"]) == 0
    table = rows(capsys.readouterr().out)
    assert table[0][3] == "loss" and table[1][:4] == ["1*", "6", "Succeeded", "0.05"]


def test_results_of_an_adaptive_sweep_come_from_its_history(cluster: Emulator, function: Client, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_hyperparam_adaptive import adaptive_sweep, play, score

    created = cluster.store.create(types(cluster)[0], NS, adaptive_sweep(max_trials=5, parallel=2))
    assert send(function, "add", created).status_code == 200
    status = play(cluster, function, ArgoPlayer(score, namespace=NS))
    assert cli.main(["results", "-n", NS, "tune"]) == 0
    table = rows(capsys.readouterr().out)
    assert table[1][1] == str(status["bestTrial"]["trial"]) and len(table) == 6


def test_results_say_what_is_wrong(cluster: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["results", "-n", NS, "missing"]) == 1
    assert "not found" in capsys.readouterr().err
    offloaded = tmp_path / "offloaded.json"
    offloaded.write_text(json.dumps({"kind": "Workflow", "metadata": {"name": "w"},
                                     "status": {"offloadNodeStatusVersion": "fnv:1"}}))
    assert cli.main(["results", str(offloaded), "--metric", "a"]) == 1
    assert "offloaded the node status" in capsys.readouterr().err
