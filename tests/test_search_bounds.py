"""The search space is bounded before it is built: any spec gives trials that fit a Workflow or an
InvalidSpec, never a MemoryError, an OverflowError or minutes of expansion."""

from __future__ import annotations

import json
import random
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argoml.hyperparam import search, workflow


def sweep(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
            "metadata": {"name": "sweep", "namespace": "ml"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "x"}}], **spec}}


def peak_of(spec: dict[str, Any]) -> tuple[int, str]:
    """Peak Python heap (bytes) of generating ``spec``'s Workflow, and the refusal's message."""
    tracemalloc.start()
    try:
        with pytest.raises(search.InvalidSpec) as caught:
            workflow.generate(sweep(spec))
        return tracemalloc.get_traced_memory()[1], caught.value.message
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("axes", [20, 100])
def test_a_random_sweep_too_large_to_store_stops_as_soon_as_it_passes_the_bound(axes: int) -> None:
    # 1.2 KB of spec: the trials were all built before the size was checked (20 axes: 452 MB; 100: 2.1 GB).
    peak, message = peak_of({"algorithm": "random", "maxTrials": 100_000,
                             "hyperparams": {f"p{i}": {"range": {"min": 0, "max": 1}} for i in range(axes)}})
    assert f"would be more than {workflow.MAX_WORKFLOW_BYTES:,} bytes: its trials alone pass that after" in message
    assert peak < 32 << 20, f"peaked at {peak / 2**20:.0f} MiB"


def test_a_grid_of_long_values_stops_at_the_bound_too() -> None:
    peak, message = peak_of({"maxTrials": 100_000, "hyperparams": {
        "a": {"values": [f"{i:03d}" + "x" * 1000 for i in range(300)]}, "b": {"range": {"min": 0, "max": 99,
                                                                                           "step": 1}}}})
    assert "pass that after 511 of 30,000 trials" in message  # about 1 KB each: 512 of them pass 512 KiB
    assert peak < 32 << 20, f"peaked at {peak / 2**20:.0f} MiB"


def test_sampling_a_small_discrete_space_keeps_its_order_without_building_it_first() -> None:
    space = search.parse({"algorithm": "random", "maxTrials": 50, "seed": 3,
                          "hyperparams": {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}}})
    everything = [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]  # the grid, last axis fastest
    assert space.trials() == random.Random(3).sample(everything, 6)


AXIS = st.one_of(
    st.fixed_dictionaries({"values": st.lists(st.one_of(st.integers(-10**400, 10**400), st.text(max_size=300),
                                                        st.floats(), st.booleans()), max_size=50)}),
    st.fixed_dictionaries({"range": st.fixed_dictionaries(
        {"min": st.one_of(st.integers(-10**400, 10**400), st.floats()),
         "max": st.one_of(st.integers(-10**400, 10**400), st.floats())},
        optional={"step": st.one_of(st.integers(-5, 10**6), st.floats(-1, 1e6)),
                  "count": st.one_of(st.integers(-1, 10**7), st.floats()), "scale": st.sampled_from(["log", "x"])})}),
)
SPECS = st.fixed_dictionaries(
    {"hyperparams": st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), AXIS, max_size=30)},
    optional={"algorithm": st.sampled_from(["grid", "random", "sobol", "bayes"]),
              "maxTrials": st.one_of(st.integers(-1, 200_000), st.floats()),
              "seed": st.one_of(st.integers(-1, 2**70), st.floats())})


@pytest.mark.fuzz
@given(spec=SPECS)
def test_any_search_space_gives_trials_that_fit_or_an_invalid_spec(spec: dict[str, Any]) -> None:
    try:
        generated = workflow.generate(sweep(spec))
    except search.InvalidSpec as exc:
        assert exc.errors
        return
    assert len(json.dumps(generated.workflow, separators=(",", ":"))) <= workflow.MAX_WORKFLOW_BYTES
    assert 1 <= generated.trials <= search.MAX_TRIALS_LIMIT
