"""Search spaces: reading specs (with field paths in every error) and expanding them into trials."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest

from argoml.hyperparam import search
from argoml.hyperparam.search import InvalidSpec, SpecError


def trials(hyperparams: dict[str, Any], **spec: Any) -> list[dict[str, Any]]:
    return search.parse({**spec, "hyperparams": hyperparams}).trials()


def column(hyperparam: dict[str, Any], **spec: Any) -> list[Any]:
    return [trial["x"] for trial in trials({"x": hyperparam}, **spec)]


def errors_of(spec: dict[str, Any]) -> list[SpecError]:
    with pytest.raises(InvalidSpec) as caught:
        search.parse(spec)
    return list(caught.value.errors)


# --- values and ranges ------------------------------------------------------------------------------


def test_values_keep_their_json_types() -> None:
    values = column({"values": ["SVM", 3, 0.5, True, False]})
    assert values == ["SVM", 3, 0.5, True, False]
    assert [type(v) for v in values] == [str, int, float, bool, bool]


def test_integer_bounds_and_step_give_integers() -> None:
    values = column({"range": {"min": 16, "max": 128, "step": 16}})
    assert values == [16, 32, 48, 64, 80, 96, 112, 128]
    assert all(type(v) is int for v in values)
    # The API server stores 1.0 as 1 (JSON has one number type): integral floats are integers, as on the cluster.
    assert [type(v) for v in column({"range": {"min": 1.0, "max": 3.0, "step": 1.0}})] == [int, int, int]
    assert [type(v) for v in column({"range": {"min": 1, "max": 2, "step": 0.5}})] == [float, float, float]


def test_integral_float_values_are_the_integers_the_api_server_stores() -> None:
    values = column({"values": [2.0, 0.5, 1e300, 10**30, True]})
    assert values == [2, 0.5, 1e300, 1e30, True] and [type(v) for v in values] == [int, float, float, float, bool]
    (error,) = errors_of({"hyperparams": {"x": {"values": [1, 1.0]}}})
    assert error == SpecError("spec.hyperparams.x.values[1]", "1.0 repeats spec.hyperparams.x.values[0]: it would "
                                                              "run the same trials twice")
    assert search.parse({"maxTrials": 5.0, "seed": 3.0, "hyperparams": {"x": {"range": {
        "min": 0, "max": 1, "count": 3.0}}}}).max_trials == 5


@pytest.mark.parametrize(("range_", "values"), [
    pytest.param({"min": 0.1, "max": 0.5, "step": 0.1}, [0.1, 0.2, 0.3, 0.4, 0.5], id="decimal steps are exact"),
    pytest.param({"min": -0.3, "max": -0.1, "step": 0.1}, [-0.3, -0.2, -0.1], id="a negative range reaches its end"),
    pytest.param({"min": -1, "max": 1, "step": 0.5}, [-1.0, -0.5, 0.0, 0.5, 1.0], id="a range may cross zero"),
    pytest.param({"min": 0.5, "max": 0.1, "step": -0.1}, [0.5, 0.4, 0.3, 0.2, 0.1],
                 id="a negative step counts down"),
    pytest.param({"min": 0, "max": 1, "step": 0.3}, [0.0, 0.3, 0.6, 0.9], id="it stops at the last step within max"),
    pytest.param({"min": 3, "max": 3, "step": 1}, [3], id="min equal to max is one point (step)"),
    pytest.param({"min": 0.5, "max": 0.5, "count": 1}, [0.5], id="min equal to max is one point (count)"),
    pytest.param({"min": 0, "max": 1, "count": 5}, [0.0, 0.25, 0.5, 0.75, 1.0],
                 id="count spaces points evenly, both ends included"),
    pytest.param({"min": 0, "max": 10, "count": 6, "scale": "linear"}, [0, 2, 4, 6, 8, 10],
                 id="linear is the default scale"),
    pytest.param({"min": 0, "max": 1, "count": 4}, [0.0, 1 / 3, 2 / 3, 1.0], id="count divides the interval"),
    pytest.param({"min": 1e-5, "max": 1e-1, "count": 5, "scale": "log"}, [1e-05, 1e-04, 1e-03, 1e-02, 1e-01],
                 id="a log scale gives exact decades"),
    pytest.param({"min": 1, "max": 8, "count": 4, "scale": "log"}, [1.0, 2.0, 4.0, 8.0],
                 id="a log scale multiplies by a constant factor"),
    pytest.param({"min": 1e-300, "max": 1e300, "count": 3, "scale": "log"}, [1e-300, 1.0, 1e300],
                 id="a log scale stays finite at any magnitude"),
])
def test_a_range_expands_to(range_: dict[str, Any], values: list[Any]) -> None:
    assert column({"range": range_}) == values


def test_log_scale_count_is_exact_between_decades() -> None:
    thirteen = column({"range": {"min": 1e-6, "max": 1, "count": 13, "scale": "log"}})
    assert thirteen[::2] == [1e-06, 1e-05, 1e-04, 1e-03, 1e-02, 1e-01, 1.0]  # no 0.00999999999999999


# --- grid -------------------------------------------------------------------------------------------


def test_grid_orders_axes_by_name_with_the_last_varying_fastest() -> None:
    space = {"model": {"values": ["RF", "SVM"]}, "learning-rate": {"range": {"min": 0.1, "max": 0.3, "step": 0.1}},
             "batch": {"values": [8, 16]}}
    expected = [{"batch": b, "learning-rate": lr, "model": m}
                for b in (8, 16) for lr in (0.1, 0.2, 0.3) for m in ("RF", "SVM")]
    assert trials(space) == expected
    assert trials(dict(reversed(space.items()))) == expected  # the order written does not matter
    assert list(trials(space)[0]) == ["batch", "learning-rate", "model"]


def test_the_older_controllers_sweep_gives_fifteen_trials() -> None:
    result = trials({"learning-rate": {"range": {"min": 0.1, "max": 0.5, "step": 0.1}},
                     "model": {"values": ["RandomForest", "SVM", "LogisticRegression"]}}, algorithm="grid")
    assert result == [{"learning-rate": lr, "model": m} for lr in (0.1, 0.2, 0.3, 0.4, 0.5)
                      for m in ("RandomForest", "SVM", "LogisticRegression")]


# --- random -----------------------------------------------------------------------------------------


def test_random_is_reproducible_from_the_seed() -> None:
    space = {"a": {"values": [1, 2, 3]}, "b": {"values": [True, False]}}
    assert trials(space, algorithm="random", maxTrials=3, seed=1) == [
        {"a": 1, "b": False}, {"a": 3, "b": True}, {"a": 2, "b": True}]
    assert trials(space, algorithm="random", maxTrials=3, seed=1) == trials(space, algorithm="random", maxTrials=3,
                                                                            seed=1)
    assert trials(space, algorithm="random", maxTrials=3, seed=2) != trials(space, algorithm="random", maxTrials=3,
                                                                            seed=1)


def test_random_samples_ranges_continuously_and_lists_by_choice() -> None:
    result = trials({"lr": {"range": {"min": 0.001, "max": 0.1, "scale": "log"}}, "model": {"values": ["svm", "rf"]},
                     "depth": {"range": {"min": 2, "max": 8, "step": 1}}}, algorithm="random", maxTrials=4, seed=7)
    assert [(t["depth"], t["model"]) for t in result] == [(4, "rf"), (2, "svm"), (2, "svm"), (5, "svm")]
    assert [t["lr"] for t in result] == pytest.approx([0.0020030802451010635, 0.01179679435154557,
                                                        0.010348358517483777, 0.0013794655119657416])


def test_uniform_sampling_covers_the_widest_float_interval() -> None:
    values = column({"range": {"min": -1.7e308, "max": 1.7e308}}, algorithm="random", maxTrials=20, seed=1)
    assert len(set(values)) == 20 and all(math.isfinite(v) and abs(v) <= 1.7e308 for v in values)
    assert min(values) < 0 < max(values)


def test_log_uniform_sampling_spreads_over_decades() -> None:
    values = column({"range": {"min": 1e-6, "max": 1.0, "scale": "log"}}, algorithm="random", maxTrials=600)
    decades = [min(5, int(-math.log10(v))) for v in values]
    assert all(1e-6 <= v <= 1.0 for v in values)
    assert all(70 <= decades.count(d) <= 130 for d in range(6))  # uniform would put ~99.9% under 1e-3


def test_random_never_repeats_a_trial() -> None:
    result = trials({"a": {"range": {"min": 1, "max": 10, "step": 1}}, "b": {"values": ["x", "y"]}},
                    algorithm="random", maxTrials=19, seed=3)
    assert len(result) == 19
    assert len({(t["a"], t["b"]) for t in result}) == 19


def test_random_over_a_space_smaller_than_max_trials_tries_each_point_once() -> None:
    result = trials({"a": {"values": [1, 2, 3]}, "b": {"values": [True, False]}}, algorithm="random",
                    maxTrials=10, seed=1)
    assert sorted((t["a"], t["b"]) for t in result) == sorted((a, b) for a in (1, 2, 3) for b in (True, False))


def test_a_continuous_range_gives_floats_even_between_integral_bounds() -> None:
    # 0.0..1.0 reaches the function as 0..1: it must not collapse into the two points 0 and 1.
    values = column({"range": {"min": 0, "max": 1}}, algorithm="random", maxTrials=30, seed=5)
    assert len(set(values)) == 30 and all(type(v) is float and 0 <= v <= 1 for v in values)
    integers = column({"range": {"min": -3, "max": 40, "step": 1}}, algorithm="random", maxTrials=30, seed=5)
    assert len(set(integers)) == 30 and all(type(v) is int and -3 <= v <= 40 for v in integers)


# --- sobol ------------------------------------------------------------------------------------------


def test_sobol_points_are_stratified_and_seeded() -> None:
    values = column({"range": {"min": 0.0, "max": 1.0}}, algorithm="sobol", maxTrials=16, seed=11)
    assert sorted(int(v * 16) for v in values) == list(range(16))  # one point in every sixteenth
    assert values == column({"range": {"min": 0.0, "max": 1.0}}, algorithm="sobol", maxTrials=16, seed=11)
    assert values != column({"range": {"min": 0.0, "max": 1.0}}, algorithm="sobol", maxTrials=16, seed=12)


def test_sobol_maps_points_onto_lists_and_log_ranges_without_repeats() -> None:
    result = trials({"lr": {"range": {"min": 1e-4, "max": 1.0, "scale": "log"}},
                     "model": {"values": ["a", "b", "c"]}, "depth": {"range": {"min": 1, "max": 4, "step": 1}}},
                    algorithm="sobol", maxTrials=10, seed=0)
    assert len(result) == 10
    assert all(1e-4 <= t["lr"] <= 1.0 and t["model"] in "abc" and t["depth"] in (1, 2, 3, 4) for t in result)
    discrete = trials({"model": {"values": ["a", "b", "c"]}, "depth": {"range": {"min": 1, "max": 4, "step": 1}}},
                      algorithm="sobol", maxTrials=10, seed=0)
    assert len({(t["model"], t["depth"]) for t in discrete}) == 10


def test_sobol_beyond_its_dimensions_is_an_invalid_spec_not_a_crash() -> None:
    space = {f"p{i}": {"range": {"min": 0.0, "max": 1.0}} for i in range(search.SOBOL_MAX_DIMENSIONS + 1)}
    (error,) = errors_of({"algorithm": "sobol", "maxTrials": 2, "hyperparams": space})
    assert error == SpecError("spec.hyperparams", "21,202 hyperparameters, more than the 21,201 dimensions a Sobol' "
                                                  "sequence has: use algorithm: random")


def test_scipy_is_imported_only_for_sobol() -> None:
    code = ("import sys; from argoml.hyperparam import search\n"
            "s = {'hyperparams': {'x': {'range': {'min': 0, 'max': 1.0}}}, 'maxTrials': 4}\n"
            "search.parse({**s, 'algorithm': 'random'}).trials(); assert 'scipy' not in sys.modules\n"
            "search.parse({**s, 'algorithm': 'sobol'}).trials(); assert 'scipy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- limits -----------------------------------------------------------------------------------------


def test_a_grid_larger_than_the_default_cap_is_rejected_with_the_numbers() -> None:
    (error,) = errors_of({"hyperparams": {"a": {"range": {"min": 0, "max": 100, "step": 1}},
                                          "b": {"range": {"min": 0, "max": 99, "step": 1}}}})
    assert error.path == "spec.hyperparams"
    assert "10,100 combinations (101 x 100)" in error.message and "maxTrials (10,000)" in error.message
    assert "algorithm: random" in error.message


def test_a_million_point_grid_is_rejected_without_being_built() -> None:
    (error,) = errors_of({"hyperparams": {"a": {"range": {"min": 0, "max": 999_999, "step": 1}},
                                          "b": {"range": {"min": 1, "max": 10**12, "step": 1}}}})
    assert "1,000,000,000,000,000,000 combinations" in error.message


def test_max_trials_raises_the_grid_cap_up_to_the_limit() -> None:
    space = {"a": {"range": {"min": 0, "max": 100, "step": 1}}, "b": {"range": {"min": 0, "max": 99, "step": 1}}}
    assert len(trials(space, maxTrials=10_100)) == 10_100
    (error,) = errors_of({"maxTrials": 100_001, "hyperparams": space})
    assert error == SpecError("spec.maxTrials", "100,001 is more than the 100,000 trials one Workflow can carry")


# --- invalid specs: one precise message per problem, all at once ------------------------------------


@pytest.mark.parametrize(("hyperparam", "path", "fragment"), [
    ({"values": []}, "spec.hyperparams.x.values", "expected a non-empty list"),
    ({"values": "abc"}, "spec.hyperparams.x.values", "got a string"),
    ({"values": [1, {"a": 1}]}, "spec.hyperparams.x.values[1]", "expected a string, number or boolean"),
    ({"values": [1, None]}, "spec.hyperparams.x.values[1]", "got null"),
    ({"values": ["a", "b", "a"]}, "spec.hyperparams.x.values[2]", "repeats spec.hyperparams.x.values[0]"),
    ({"range": {"min": 0, "max": 1, "step": 0}}, "spec.hyperparams.x.range.step", "must not be 0"),
    ({"range": {"min": 0, "max": 1, "step": -0.1}}, "spec.hyperparams.x.range.step", "must be > 0 when min <= max"),
    ({"range": {"min": 1, "max": 0, "step": 0.1}}, "spec.hyperparams.x.range", "min 1 is greater than max 0 with a "
                                                                               "positive step"),
    ({"range": {"min": 0, "max": 1, "count": 3, "scale": "log"}}, "spec.hyperparams.x.range.min", "must be > 0"),
    ({"range": {"min": 1, "max": -1, "count": 3, "scale": "log"}}, "spec.hyperparams.x.range.max", "must be > 0"),
    ({"range": {"min": 1, "max": 10, "step": 1, "scale": "log"}}, "spec.hyperparams.x.range.step",
     "spaces points by count"),
    ({"range": {"min": 1, "max": 10, "step": 1, "count": 3}}, "spec.hyperparams.x.range", "step or count, not both"),
    ({"range": {"min": 0, "max": 1}}, "spec.hyperparams.x.range", "a grid needs step or count"),
    ({"range": {"max": 1, "step": 0.1}}, "spec.hyperparams.x.range.min", "required"),
    ({"range": {"min": "0", "max": 1, "step": 0.1}}, "spec.hyperparams.x.range.min", "expected a number, got '0'"),
    ({"range": {"min": True, "max": 1, "step": 0.1}}, "spec.hyperparams.x.range.min", "got true"),
    ({"range": {"min": 0, "max": 1, "count": 0}}, "spec.hyperparams.x.range.count", "expected a positive integer"),
    ({"range": {"min": 0, "max": 1, "count": 1}}, "spec.hyperparams.x.range.count", "at least 2"),
    ({"range": {"min": 0, "max": 1, "count": 3, "scale": "exp"}}, "spec.hyperparams.x.range.scale",
     "expected linear or log"),
    ({"range": {"min": 0, "max": 1, "stride": 1}}, "spec.hyperparams.x.range.stride", "unknown field"),
    ({"range": {"min": 0, "max": 10**20, "step": 1}}, "spec.hyperparams.x.range", "more than 1,000,000,000,000,000"),
    ({"range": [0, 1]}, "spec.hyperparams.x.range", "expected an object with min and max"),
    ({"values": [1], "range": {"min": 0, "max": 1, "step": 1}}, "spec.hyperparams.x", "exactly one of values or "
                                                                                       "range"),
    ({}, "spec.hyperparams.x", "exactly one of values or range"),
    ({"choices": [1]}, "spec.hyperparams.x.choices", "unknown field"),
    ([1, 2], "spec.hyperparams.x", "expected an object with values or range, got an array"),
])
def test_invalid_hyperparameter_is_named_by_its_path(hyperparam: Any, path: str, fragment: str) -> None:
    errors = errors_of({"hyperparams": {"x": hyperparam}})
    assert any(e.path == path and fragment in e.message for e in errors), errors


@pytest.mark.parametrize(("spec", "path", "fragment"), [
    ({"algorithm": "bayes"}, "spec.algorithm", "unknown algorithm 'bayes': expected grid, random, sobol, tpe or cmaes"),
    ({"algorithm": "random"}, "spec.maxTrials", "required with algorithm: random"),
    ({"algorithm": "sobol"}, "spec.maxTrials", "required with algorithm: sobol"),
    ({"maxTrials": 0}, "spec.maxTrials", "expected a positive integer, got 0"),
    ({"maxTrials": 2.5}, "spec.maxTrials", "expected a positive integer, got 2.5"),
    ({"seed": -1}, "spec.seed", "expected an integer from 0 to 2^63-1, got -1"),
    ({"seed": 2**63}, "spec.seed", "expected an integer from 0 to 2^63-1"),
    ({"parameterName": "p" * 129}, "spec.parameterName", "expected a workflow parameter name (1-128 letters"),
    ({"parameterName": "has space"}, "spec.parameterName", "expected a workflow parameter name"),
    ({"arguments": {"parameters": [{"name": "data", "value": "s3://x"}, {"name": "hyperparams"}]}},
     "spec.parameterName", "'hyperparams' collides with the existing argument spec.arguments.parameters[1]"),
    ({"parameterName": "trials", "arguments": {"parameters": [{"name": "trials"}]}}, "spec.parameterName",
     "'trials' collides"),
    ({"arguments": []}, "spec.arguments", "expected an object"),
    ({"hyperparams": {}}, "spec.hyperparams", "got an empty object"),
    ({"hyperparams": None}, "spec.hyperparams", "got null"),
    ({"hyperparams": {"bad name": {"values": [1]}}}, "spec.hyperparams['bad name']", "a hyperparameter name"),
    ({"hyperparams": {"a.b": {"values": [1]}}}, "spec.hyperparams['a.b']", "a hyperparameter name"),
])
def test_invalid_spec_field_is_named_by_its_path(spec: dict[str, Any], path: str, fragment: str) -> None:
    errors = errors_of({"hyperparams": {"x": {"values": [1]}}} | spec)
    assert any(e.path == path and fragment in e.message for e in errors), errors


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidSpec) as caught:
        search.parse({"algorithm": "bayes", "hyperparams": {"a": {"values": []},
                                                            "b": {"range": {"min": 0, "max": 1, "step": 0}}}})
    assert [e.path for e in caught.value.errors] == ["spec.algorithm", "spec.hyperparams.a.values",
                                                     "spec.hyperparams.b.range.step"]
    assert caught.value.status == 422
    assert caught.value.message.startswith("spec.algorithm: unknown algorithm 'bayes'")
    assert caught.value.details[1] == {"path": "spec.hyperparams.a.values",
                                       "message": "expected a non-empty list, got an empty list"}


def test_errors_use_the_callers_path() -> None:
    errors: list[SpecError] = []
    assert search.read({"hyperparams": {"x": {"values": []}}}, errors, "request.object.spec") is None
    assert [e.path for e in errors] == ["request.object.spec.hyperparams.x.values"]


def test_a_continuous_range_is_allowed_for_sampling() -> None:
    space = search.parse({"algorithm": "random", "maxTrials": 5, "hyperparams": {"x": {"range": {"min": 0.0,
                                                                                               "max": 2.0}}}})
    assert space.size is None and len(space.trials()) == 5
