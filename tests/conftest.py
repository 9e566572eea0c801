"""Shared fixtures: the API emulator, functions served through functions-framework, events.

``cluster`` is an emulated Kubernetes API server reached over HTTP by the real
``kubernetes`` client (through a kubeconfig in ``KUBECONFIG``, the way the functions
find a cluster); it is emptied before each test. ``serve`` loads a function with
functions-framework's ``create_app`` and returns a Flask test client.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import flask.testing
import functions_framework
import pytest
from hypothesis import HealthCheck, settings

from argoml.dev.emulator import Call, Emulator, using_kubeconfig

# CI runs few examples per property, deterministically (so a loaded 2-core machine never
# flakes on a deadline); `make fuzz` sets HYPOTHESIS_PROFILE=fuzz for a long, random search.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
# The shared fixtures (CRDs, Argo's examples) sit beside the main checkout; a git worktree is one level deeper.
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "crds").is_dir()), ROOT.parent / "shared")


@pytest.fixture(scope="session")
def _emulator() -> Iterator[Emulator]:
    with Emulator() as emulator, using_kubeconfig(emulator.kubeconfig):
        yield emulator


MODE_ENV = "TENSORBOARD_MODE"
_MODE = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def recorded_calls() -> list[tuple[str, Call]]:
    """Every API request made against ``cluster`` during the session, with the TensorBoard mode the test
    ran in (the RBAC audit checks each against that mode's roles)."""
    return []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """Note the mode a test ran in (read before its monkeypatch is undone)."""
    try:
        return (yield)
    finally:
        item.stash[_MODE] = os.environ.get(MODE_ENV, "").strip() or "knative"


@pytest.fixture
def cluster(_emulator: Emulator, recorded_calls: list[tuple[str, Call]],
            request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The emulated cluster, empty, with no injected failures and no recorded calls."""
    _emulator.reset()
    yield _emulator
    mode = request.node.stash.get(_MODE, "knative")
    recorded_calls.extend((mode, call) for call in _emulator.calls)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``after_all`` (audits of what the others did) run last."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


@pytest.fixture
def serve(cluster: Emulator) -> Callable[[str], flask.testing.FlaskClient]:
    """``serve("gc")``: a test client for functions/gc/main.py, talking to ``cluster``."""

    def load(name: str) -> flask.testing.FlaskClient:
        app = functions_framework.create_app(target="handle", source=str(ROOT / "functions" / name / "main.py"))
        return app.test_client()

    return load
