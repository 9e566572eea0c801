"""Validation speed: Argo's whole examples corpus, one 100-template DAG workflow, and the
admission webhook's warm latency.

The corpus row is the issue's target (< 2 s for everything in shared/argo-examples); its
baseline is reading the same YAML, which any validator must do first. The DAG rows are the
library's per-resource work, next to the structure check alone. The webhook rows POST
AdmissionReviews over loopback HTTP to the validate function served by functions-framework,
next to an allow-all AdmissionReview function served the same way (the HTTP and
functions-framework floor); the target is p99 < 20 ms for the example sweep.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from argoml import manifests
from argoml.dev import runner
from argoml.dev.runner import ROOT
from argoml.validation import VALIDATORS, DocumentResolver, Report, structure, validate_object
from bench.table import Table, percentile, ratio

ALLOW_ALL = '''
import json

import flask
import functions_framework


@functions_framework.http
def handle(request):
    if request.method == "GET":
        return "ok"
    review = request.get_json()
    answer = {"apiVersion": review["apiVersion"], "kind": "AdmissionReview",
              "response": {"uid": review["request"]["uid"], "allowed": True}}
    return flask.Response(json.dumps(answer), mimetype="application/json")
'''
WARMUP, REQUESTS = 30, 300

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "argo-examples"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dag_workflow(size: int = 100) -> dict[str, Any]:
    """A DAG of ``size`` tasks, each its own template, each fed the previous task's output."""
    tasks, templates = [], []
    for index in range(size):
        task: dict[str, Any] = {"name": f"step-{index}", "template": f"work-{index}"}
        if index:
            task["depends"] = f"step-{index - 1}.Succeeded"
            previous = f"{{{{tasks.step-{index - 1}.outputs.result}}}}"
            task["arguments"] = {"parameters": [{"name": "x", "value": previous}]}
        tasks.append(task)
        templates.append({"name": f"work-{index}", "inputs": {"parameters": [{"name": "x", "default": "0"}]},
                          "script": {"image": "python:3.11", "command": ["python"],
                                     "source": "print({{inputs.parameters.x}} + 1)"}})
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "big-dag-"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates]}}


def example_sweep() -> dict[str, Any]:
    """The example HyperparamWorkflow users copy (examples/hparam.yaml): 15 trials."""
    sweep: dict[str, Any] = manifests.load_all((ROOT / "examples" / "hparam.yaml").read_text())[0]
    sweep["metadata"]["namespace"] = "ml"
    return sweep


def _review(obj: dict[str, Any]) -> bytes:
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "bench", "kind": {"group": obj["apiVersion"].split("/")[0], "version": "v1alpha1",
                                 "kind": obj["kind"]},
        "operation": "CREATE", "namespace": "ml", "object": obj}}).encode()


def _latencies(port: int, body: bytes, path: str = "/validate") -> list[float]:
    def once() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        answer = json.loads(connection.getresponse().read())
        connection.close()
        assert answer["response"]["allowed"], answer

    _samples(once, WARMUP)
    return _samples(once, REQUESTS)


def _webhook_rows(table: Table) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "main.py"
        source.write_text(ALLOW_ALL)
        port = runner.free_port()
        baseline_process = subprocess.Popen(runner.serve_command(source, port), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        function = None
        try:
            runner.wait_healthy(f"http://127.0.0.1:{port}/", baseline_process)
            function = runner.start("validate", env={"LOG_LEVEL": "WARNING"})
            rows: list[tuple[str, list[float]]] = [("webhook: allow-all AdmissionReview (baseline)",
                                                    _latencies(port, _review(example_sweep()), "/"))]
            for name, obj in (("example sweep", example_sweep()), ("100-template DAG", dag_workflow())):
                rows.append((f"webhook: {name}", _latencies(function.port, _review(obj))))
        finally:
            baseline_process.terminate()
            baseline_process.wait()
            if function is not None:
                function.stop()
    base = statistics.median(rows[0][1])
    for name, samples in rows:
        target = "p99 < 20 ms" if "example" in name else ""
        table.add(name, statistics.median(samples) * 1e3, percentile(samples, 99) * 1e3,
                  ratio(statistics.median(samples), base), target)


def _corpus_texts() -> list[str]:
    return [path.read_text() for path in sorted(EXAMPLES.rglob("*.yaml"))]


def _parse(texts: list[str]) -> list[Any]:
    return [d for text in texts for d in yaml.load_all(text, Loader=_Loader) if d]


def _validate_all(documents: list[Any]) -> int:
    resolver = DocumentResolver(documents)
    checked = 0
    for document in documents:
        if document.get("kind") in VALIDATORS:
            assert validate_object(document, resolver).ok
            checked += 1
    return checked


def _samples(fn: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def run() -> Table:
    table = Table("Validation: Argo's examples corpus, a 100-template DAG, the admission webhook (warm)",
                  ["what", "p50 ms", "p99 ms", "p50 vs baseline", "target"])
    texts = _corpus_texts()
    documents = _parse(texts)
    checked = _validate_all(documents)
    parse = _samples(lambda: _parse(texts), 5)
    whole = _samples(lambda: _validate_all(_parse(texts)), 5)
    validate_only = _samples(lambda: _validate_all(documents), 5)
    base = statistics.median(parse)
    table.add("corpus: read YAML only (baseline)", base * 1e3, percentile(parse, 99) * 1e3, "1.00x", "")
    table.add("corpus: validate parsed", statistics.median(validate_only) * 1e3,
              percentile(validate_only, 99) * 1e3, ratio(statistics.median(validate_only), base), "")
    table.add("corpus: read + validate", statistics.median(whole) * 1e3, percentile(whole, 99) * 1e3,
              ratio(statistics.median(whole), base), "< 2000 ms")

    big = dag_workflow()
    structure_only = _samples(lambda: structure.check(big, "Workflow", Report()), 200)
    full = _samples(lambda: validate_object(big), 200)
    assert validate_object(big).ok
    small = statistics.median(structure_only)
    table.add("100-template DAG: structure only (baseline)", small * 1e3, percentile(structure_only, 99) * 1e3,
              "1.00x", "")
    table.add("100-template DAG: full validation", statistics.median(full) * 1e3, percentile(full, 99) * 1e3,
              ratio(statistics.median(full), small), "")
    _webhook_rows(table)
    table.notes.append(f"corpus: {len(texts)} files, {checked} Argo resources validated (all accepted); 5 runs")
    table.notes.append("DAG: 100 script templates + 1 DAG, each task fed the previous one's output; 200 runs")
    table.notes.append(f"webhook: warm, {REQUESTS} sequential POSTs after {WARMUP} warm-up, a new loopback connection "
                       "each; the example sweep is examples/hparam.yaml (search space expanded, then the "
                       "generated Workflow checked)")
    return table
