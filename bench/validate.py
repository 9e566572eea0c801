"""Validation speed: Argo's whole examples corpus, and one 100-template DAG workflow.

The corpus row is the issue's target (< 2 s for everything in shared/argo-examples); its
baseline is reading the same YAML, which any validator must do first. The DAG row is the
per-request work of the admission webhook for a large workflow, next to the same
workflow checked for structure only (the schema walk every resource pays).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from argoml.validation import VALIDATORS, DocumentResolver, Report, structure, validate_object
from bench.table import Table, percentile, ratio

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


def _samples(fn: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def run() -> Table:
    table = Table("Validation: Argo's examples corpus and a 100-template DAG",
                  ["what", "median ms", "p99 ms", "vs baseline", "target"])
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
    table.notes.append(f"corpus: {len(texts)} files, {checked} Argo resources validated (all accepted); 5 runs")
    table.notes.append("DAG: 100 script templates + 1 DAG, each task fed the previous one's output; 200 runs")
    return table
