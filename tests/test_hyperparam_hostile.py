"""Any Workflow status gives trial results or a recorded reason, never a crash (Argo's Workflows have no
status subresource: whoever may update a Workflow writes its status)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

import flask.testing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from argoml.dev.emulator import Emulator
from argoml.hyperparam import results, trials
from tests.test_hyperparam import MERGE, NS, create_sweep, send, sweep, types
from tests.test_hyperparam_objectives import NAME, tuned

Client = flask.testing.FlaskClient

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=20)
names = st.sampled_from(["train(0:x:1)", "train(1:x:2)", "train(1:x:2)(0)", "fit", "train(", "(0:", "train(99:"])
phases = st.sampled_from(["Succeeded", "Failed", "Error", "Running", "Pending", "Omitted"]) | json_values
outputs = st.fixed_dictionaries({"parameters": st.lists(st.fixed_dictionaries(
    {"name": st.sampled_from(["accuracy", "loss", "other"]), "value": json_values | st.sampled_from(
        ["0.5", "NaN", "inf", "-1e400", " 2 ", "x"])}), max_size=3)}) | json_values
nodes = st.dictionaries(st.text(max_size=6), st.fixed_dictionaries(
    {}, optional={"displayName": names | json_values, "phase": phases, "outputs": outputs, "type": json_values,
                  "children": st.lists(st.text(max_size=6), max_size=3) | json_values,
                  "finishedAt": json_values, "id": json_values, "message": json_values}) | json_values, max_size=8)
statuses = st.fixed_dictionaries({}, optional={
    "phase": phases, "nodes": nodes | json_values, "offloadNodeStatusVersion": json_values,
    "compressedNodes": st.builds(lambda n: base64.b64encode(gzip.compress(json.dumps(n).encode())).decode(), nodes)
    | json_values}) | json_values


@pytest.mark.fuzz
@given(status=statuses, loops=st.none() | st.lists(st.sampled_from(["train", "fit", ""]), max_size=2))
def test_the_metric_reader_answers_any_status(status: Any, loops: list[str] | None) -> None:
    found = results.read({"status": status}, loops, results.Metrics("accuracy", ("loss",)))
    assert found.known or found.reason
    for index, trial in found.trials.items():
        assert trial.index == index and trial.state in trials.STATES
        assert trial.value is None or trial.value == trial.value  # never NaN
        if trial.state == results.SUCCEEDED and trial.value is None:
            assert trial.reason


@pytest.mark.fuzz
@given(history=json_values | st.lists(st.fixed_dictionaries({}, optional={
    "trial": json_values, "hyperparams": json_values, "state": st.sampled_from(trials.STATES) | json_values,
    "workflow": json_values, "value": json_values, "metrics": json_values, "resultAt": json_values}), max_size=5))
def test_a_history_read_back_from_any_status_keeps_only_well_formed_entries(history: Any) -> None:
    for record in trials.parse_history(history):
        entry = record.as_status()
        assert isinstance(entry["trial"], int) and entry["state"] in trials.STATES
        json.dumps(entry, allow_nan=False)


@pytest.mark.fuzz
@given(status=statuses)
def test_a_workflow_event_with_any_status_is_answered_without_a_5xx(cluster: Emulator,
                                                                    serve: Callable[[str], Client],
                                                                    status: Any) -> None:
    cluster.reset()
    function = serve("hyperparam")
    assert send(function, "add", create_sweep(cluster, tuned())).status_code == 200
    try:
        workflow = cluster.store.patch(types(cluster)[1], NS, NAME, {"status": status if isinstance(status, dict)
                                                                     else {"phase": status}}, MERGE,
                                       subresource="status")
    except Exception:  # not storable as a status at all: nothing to deliver
        return
    answer = send(function, "update", workflow)
    assert answer.status_code in (200, 400, 422), answer.json
    if answer.status_code == 200:
        json.dumps(sweep(cluster)["status"], allow_nan=False)
