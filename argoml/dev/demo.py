"""``make demo``: the whole product on one machine, with no cluster.

Starts the in-memory Kubernetes API emulator, the four functions as real
functions-framework processes, and the ApiServerSource bridge; then walks through
each capability (one module each under :mod:`argoml.dev.demos`), printing what
happened. Exits non-zero if any step fails.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argoml.dev import stack
from argoml.dev.demos import gc, hyperparam, platform, tensorboard, tuning, validate
from argoml.dev.emulator import Emulator

STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    ("The local platform", platform.run),
    ("Hyperparameter sweep: HyperparamWorkflow -> Workflow, status following the run", hyperparam.run),
    ("Adaptive search: tpe finds the optimum of a known function, trial by trial", tuning.run),
    ("Admission: Argo's rules before anything is stored", validate.run),
    ("TensorBoard for a workflow's artifacts", tensorboard.run),
    ("A sweep's TensorBoard: every trial a run, with TensorBoard's HParams", tensorboard.sweep),
    ("gc: a dry run, then a real run, over seeded workflows", gc.run),
]


@dataclass
class Demo:
    emulator: Emulator
    stack: stack.Stack

    def say(self, text: str = "") -> None:
        print(f"  {text}" if text else "", flush=True)

    def show(self, title: str, value: Any) -> None:
        rendered = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=False)
        print(f"  {title}:")
        for line in rendered.splitlines():
            print(f"    {line}")

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Poll ``check`` until it returns something truthy; fail the step after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := check():
                return result
            time.sleep(0.05)
        raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def main() -> int:
    failures = 0
    with tempfile.TemporaryDirectory(prefix="argoml-demo-") as logs, Emulator() as emulator:
        print(f"argo-ml demo: Kubernetes API emulator on {emulator.url}; function logs in {logs}")
        # The demo's object stores listen on loopback, which the log fetcher refuses unless allowed.
        with stack.running(emulator.kubeconfig, log_dir=Path(logs),
                           env={"TENSORBOARD_FETCH_ALLOW": "127.0.0.0/8"}) as running:
            demo = Demo(emulator, running)
            for number, (title, step) in enumerate(STEPS, start=1):
                print(f"\n== {number}. {title}", flush=True)
                try:
                    step(demo)
                except Exception:
                    failures += 1
                    print(f"  FAILED:\n{traceback.format_exc()}", flush=True)
                    _print_logs(Path(logs))
    print(f"\n{len(STEPS) - failures} of {len(STEPS)} demo steps succeeded")
    return 1 if failures else 0


def _print_logs(logs: Path) -> None:
    for log in sorted(logs.glob("*.log")):
        print(f"  --- {log.name} (last lines)")
        for line in log.read_text(errors="replace").splitlines()[-15:]:
            print(f"    {line}")


if __name__ == "__main__":
    sys.exit(main())
