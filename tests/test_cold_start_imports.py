"""A function's main.py starts without the modules only a request needs (bench/cold_start.py measures the cost)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

PER_REQUEST = ("urllib3", "yaml", "kubernetes")  # the proxy, artifact repository ConfigMaps, the API client


@pytest.mark.parametrize("function", ["gc", "hyperparam", "tensorboard", "validate"])
def test_starting_a_function_does_not_import_per_request_modules(function: str) -> None:
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'functions' / function)!r}); import main; "
            f"loaded = sorted(m for m in {PER_REQUEST!r} if m in sys.modules); "
            "assert not loaded, f'imported at start: {loaded}'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
