"""Validation of a sweep's tuning fields (objective, parallelTrials, maxFailedTrials), offline and in the webhook."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from argoml import cli
from argoml.hyperparam import tuning
from tests.argo_manifests import example, problems, with_spec
from tests.conftest import ROOT

TPE = example("hparam-tpe.yaml")


def changed(**spec: Any) -> dict[str, Any]:
    return with_spec(TPE, **spec)


def test_the_tpe_example_is_valid_without_warnings() -> None:
    assert problems(TPE) == [] and problems(TPE, "warning") == []


@pytest.mark.parametrize(("spec", "path", "fragment"), [
    ({"objective": {"metric": "accuracy", "goal": "biggest"}}, "spec.objective.goal", "unknown goal 'biggest'"),
    ({"objective": {"metric": "accuracy"}}, "spec.objective.goal", "required: maximize or minimize"),
    ({"objective": {"goal": "maximize"}}, "spec.objective.metric", "required"),
    ({"objective": {"metric": "top 1", "goal": "maximize"}}, "spec.objective.metric", "not a valid parameter name"),
    ({"objective": {"metric": "a", "goal": "maximize", "target": "high"}}, "spec.objective.target",
     "expected a number"),
    ({"objective": {"metric": "a", "goal": "maximize", "additionalMetrics": ["a"]}},
     "spec.objective.additionalMetrics[0]", "listed twice"),
    ({"objective": {"metric": "a", "goal": "maximize", "weight": 1}}, "spec.objective.weight", "unknown field"),
    ({"objective": None}, "spec.objective", "expected an object"),
    ({"parallelTrials": 0}, "spec.parallelTrials", "expected a positive integer"),
    ({"parallelTrials": 31}, "spec.parallelTrials", "more than maxTrials (30)"),
    ({"maxFailedTrials": -1}, "spec.maxFailedTrials", "expected an integer >= 0"),
    ({"maxTrials": 1001}, "spec.maxTrials", "more than the 1,000 trials an adaptive sweep"),
    ({"algorithm": "grid", "parallelTrials": 2}, "spec.parallelTrials", "only for algorithm: tpe or cmaes"),
])
def test_each_tuning_problem_is_named_by_its_path(spec: dict[str, Any], path: str, fragment: str) -> None:
    found = problems(changed(**spec))
    assert any(p == path and fragment in m for p, m in found), found


def test_an_adaptive_sweep_without_objective_is_refused() -> None:
    sweep = copy.deepcopy(TPE)
    del sweep["spec"]["objective"]
    assert ("spec.objective", "required with algorithm: tpe (the metric to optimise and its goal)") in problems(sweep)


def test_a_history_that_could_not_fit_the_status_is_refused() -> None:
    sweep = changed(maxTrials=1000, hyperparams={"prompt": {"values": ["x" * 900, "y"]}})
    ((path, message),) = problems(sweep)
    assert path == "spec.maxTrials" and "would not fit the 512 KiB" in message
    assert tuning.MAX_HISTORY_BYTES < 1 << 20


def test_a_loop_template_that_does_not_declare_the_metric_is_a_warning() -> None:
    sweep = copy.deepcopy(TPE)
    sweep["spec"]["templates"][1]["outputs"]["parameters"] = [{"name": "loss", "valueFrom": {"path": "/tmp/loss"}}]
    assert problems(sweep) == []
    (warning,) = problems(sweep, "warning")
    assert warning[0] == "spec.templates[1].outputs.parameters"
    assert "declares no output parameter 'accuracy'" in warning[1]
    sweep["spec"]["templates"][0]["steps"][0][0] = {**sweep["spec"]["templates"][0]["steps"][0][0],
                                                    "templateRef": {"name": "shared", "template": "train"}}
    del sweep["spec"]["templates"][0]["steps"][0][0]["template"]
    assert any("a templateRef" in m for _, m in problems(sweep, "warning"))


def test_a_metric_declared_by_a_template_the_loop_calls_counts() -> None:
    sweep = copy.deepcopy(TPE)
    train = sweep["spec"]["templates"][1]
    sweep["spec"]["templates"][1] = {"name": "train", "inputs": train["inputs"],
                                     "steps": [[{"name": "fit", "template": "fit"}]]}
    sweep["spec"]["templates"].append({**train, "name": "fit", "inputs": {}})
    assert not any("declares no output parameter" in m for _, m in problems(sweep, "warning"))


def test_argoml_validate_checks_the_new_fields(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps(changed(parallelTrials=0)))  # JSON is YAML
    assert cli.main(["validate", str(bad)]) == 1
    assert "spec.parallelTrials: expected a positive integer" in capsys.readouterr().out


def test_validating_an_adaptive_sweep_does_not_import_optuna() -> None:
    code = ("import sys; from argoml import manifests; from argoml.validation import validate_object; "
            f"doc = manifests.load_all(open({str(ROOT / 'examples' / 'hparam-tpe.yaml')!r}).read())[0]; "
            "assert not [p for p in validate_object(doc).problems if p.severity == 'error']; "
            "assert 'optuna' not in sys.modules, 'validate imported Optuna'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
