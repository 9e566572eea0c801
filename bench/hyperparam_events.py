"""Hyperparam event handling latency, end to end, next to a no-op CloudEvent function.

Both run as real functions-framework processes against the API emulator and get the
same ApiServerSource events over HTTP, interleaved so that machine load hits every
row alike. The baseline only parses the CloudEvent; the difference is what the
hyperparam function's work (its API calls included) adds. Target: under 20 ms.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from argoml import argo, manifests
from argoml.dev import knative, runner
from argoml.dev.emulator import Emulator
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS
from bench.table import Table, percentile, ratio

NOOP = '''
import functions_framework
from cloudevents.http import from_http


@functions_framework.http
def handle(request):
    if request.method == "GET":  # the readiness probe
        return "ok"
    event = from_http(dict(request.headers), request.get_data(), data_unmarshaller=lambda raw: raw)
    return {"event": event["id"]}
'''
EVENTS = 60
BASELINE = "no-op CloudEvent function (baseline)"
ADD = "hyperparam: add (creates the Workflow)"
REPLAY = "hyperparam: replayed add (no change)"
UPDATE = "hyperparam: Workflow update (status follows)"


def run() -> Table:
    table = Table(f"Hyperparam event handling, end to end against the emulator ({EVENTS} events each)",
                  ["function and event", "median ms", "p95 ms", "vs no-op", "over no-op ms", "target"])
    example = manifests.load_all((runner.ROOT / "examples" / "hparam.yaml").read_text())[0]
    samples: dict[str, list[float]] = {BASELINE: [], ADD: [], REPLAY: [], UPDATE: []}
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emulator:
        (Path(tmp) / "functions" / "noop").mkdir(parents=True)
        (Path(tmp) / "functions" / "noop" / "main.py").write_text(NOOP)
        env = {"KUBECONFIG": str(emulator.kubeconfig), "LOG_LEVEL": "WARNING"}
        noop = runner.start("noop", env=env, root=Path(tmp))
        function = runner.start("hyperparam", env=env)
        try:
            store = emulator.store
            sweeps = store.type_for(HYPERPARAM_WORKFLOWS)
            workflows = store.type_for(argo.WORKFLOWS)
            for index in range(EVENTS):
                body = copy.deepcopy(example)
                body["metadata"]["name"] = f"sweep-{index}"
                add = knative.resource_event("add", store.create(sweeps, "bench", body))
                samples[BASELINE].append(_post(noop.url, add))
                samples[ADD].append(_post(function.url, add))
                samples[REPLAY].append(_post(function.url, add))
                running = store.patch(workflows, "bench", f"sweep-{index}", {"status": {"phase": "Running"}},
                                      "application/merge-patch+json", subresource="status")
                samples[UPDATE].append(_post(function.url, knative.resource_event("update", running)))
        finally:
            function.stop()
            noop.stop()
    baseline = statistics.median(samples[BASELINE])
    for label, values in samples.items():
        median, own = statistics.median(values), label == BASELINE
        table.add(label, median * 1000, percentile(values, 95) * 1000, ratio(median, baseline),
                  "" if own else (median - baseline) * 1000, "" if own else "< 20")
    table.notes.append("add: read the sweep, read the Workflow (404), create it, patch the status; "
                       "replay: the two reads only; update: two reads and a status patch")
    table.notes.append("the API server is the in-memory emulator (reached over loopback HTTP), so API latency "
                       "on a cluster comes on top")
    return table


def _post(url: str, request: tuple[dict[str, str], bytes]) -> float:
    headers, body = request
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method="POST"),
                                timeout=30) as response:
        response.read()
        if response.status != 200:
            raise AssertionError(f"{url} answered {response.status}")
    return time.perf_counter() - started
