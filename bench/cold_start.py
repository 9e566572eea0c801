"""Cold start: process start to first successful response, per function, vs a bare hello-world.

Knative scales these functions to zero, so every first request after idle pays the
process start. The baseline is a functions-framework hello-world started the same
way in the same run; the target is each function within 1.5x of it.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from pathlib import Path

from argoml.dev import FUNCTIONS, runner
from bench.table import Table, ratio

HELLO = '''
import functions_framework


@functions_framework.http
def handle(request):
    return "ok"
'''
RUNS = 5


def start_to_first_response(source: Path) -> float:
    port = runner.free_port()
    process = subprocess.Popen(runner.serve_command(source, port), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        return runner.wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.terminate()
        process.wait()


def run() -> Table:
    table = Table("Cold start: process start to first 200 (median of 5)",
                  ["function", "median s", "min s", "vs hello-world", "target"])
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "main.py"
        hello.write_text(HELLO)
        sources = {"hello-world (baseline)": hello} | {
            name: runner.ROOT / "functions" / name / "main.py" for name in FUNCTIONS}
        samples: dict[str, list[float]] = {name: [] for name in sources}
        for _ in range(RUNS):  # interleaved, so drift in machine load hits every row alike
            for name, source in sources.items():
                samples[name].append(start_to_first_response(source))
    baseline = statistics.median(samples["hello-world (baseline)"])
    for name, values in samples.items():
        median = statistics.median(values)
        table.add(name, median, min(values), ratio(median, baseline), "" if "baseline" in name else "<= 1.50x")
    table.notes.append("first response = GET /healthz, the readiness probe Knative waits for before routing")
    return table
