"""Validation of HyperparamWorkflows: the hyperparam function's search-space rules, then Argo's."""

from __future__ import annotations

import copy
from typing import Any

from argoml import manifests
from tests.argo_manifests import example, problems, with_spec
from tests.conftest import ROOT

EXAMPLE = example("hparam.yaml")


def changed(**spec: Any) -> dict[str, Any]:
    return with_spec(EXAMPLE, **spec)


def test_the_example_sweep_is_valid_without_warnings() -> None:
    assert problems(EXAMPLE) == [] and problems(EXAMPLE, "warning") == []


def test_every_example_sweep_is_valid() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in manifests.load_all(path.read_text()):
            if doc.get("kind") == "HyperparamWorkflow":
                assert problems(doc) == [], path.name


def test_search_space_and_workflow_problems_are_all_reported_at_the_sweeps_own_paths() -> None:
    sweep = changed(algorithm="bayes", entrypiont="sweep")
    sweep["spec"]["hyperparams"]["model"] = {"values": []}
    sweep["spec"]["templates"][0]["steps"][0][0]["template"] = "missing"
    found = problems(sweep)
    assert ("spec.algorithm", "unknown algorithm 'bayes': expected grid, random, sobol, tpe or cmaes") in found
    assert any(path == "spec.hyperparams.model.values" for path, _ in found)
    assert ("spec.entrypiont", 'unknown field "entrypiont"') in found
    assert any("missing" in message for _, message in found)


def test_the_trials_parameter_counts_as_defined_even_when_the_search_space_is_invalid() -> None:
    sweep = changed(algorithm="bayes")
    assert [path for path, _ in problems(sweep)] == ["spec.algorithm"]


def test_a_misspelt_hyperparameter_in_an_item_reference_is_caught() -> None:
    # The trials are known, so {{item.learning_rate}} (the space says learning-rate) would
    # fail every trial at run time.
    sweep = copy.deepcopy(EXAMPLE)
    sweep["spec"]["templates"][0]["steps"][0][0]["arguments"]["parameters"][0]["value"] = "{{item.learning_rate}}"
    assert problems(sweep) == [("spec.templates[0].steps[0][0].arguments.parameters[0].value",
                                "templates.sweep.steps failed to resolve {{item.learning_rate}}")]


def test_a_grid_over_the_cap_is_refused_with_the_numbers() -> None:
    sweep = changed(hyperparams={"a": {"range": {"min": 1, "max": 200, "step": 1}},
                                 "b": {"range": {"min": 1, "max": 100, "step": 1}}})
    ((path, message),) = problems(sweep)
    assert path == "spec.hyperparams" and "20,000 combinations (200 x 100)" in message and "random" in message


def test_a_sweep_whose_trials_nothing_loops_over_is_warned_about() -> None:
    sweep = changed(templates=[{"name": "sweep", "container": {"image": "trainer:1"}}])
    assert problems(sweep) == []
    warnings = dict(problems(sweep, "warning"))
    assert warnings["spec.templates"].startswith("no step or task loops over the 15 trials")


def test_unknown_fields_outside_spec_are_errors() -> None:
    sweep = copy.deepcopy(EXAMPLE)
    sweep["metadata"]["lables"] = {}
    sweep["sepc"] = {}
    assert problems(sweep) == [("sepc", 'unknown field "sepc"'), ("metadata.lables", 'unknown field "lables"')]
