"""The periodic resync over 1,000 sweeps: the first tick (every sweep's Workflow created) and a tick
when nothing changed, next to listing the same 1,000 sweeps alone (the least a resync can cost).

The hyperparam function runs as a real process against the API emulator; a tick is the
PingSource event. When nothing changed a tick must write nothing: it reads each sweep's
Workflow and compares.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.request
from typing import Any

from argoml import kube, manifests
from argoml.dev import knative, runner
from argoml.dev.emulator import Emulator, using_kubeconfig
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS
from bench.table import Table, ratio

SWEEPS = 1000


def run() -> Table:
    table = Table(f"Hyperparam resync over {SWEEPS:,} sweeps (PingSource tick, end to end against the emulator)",
                  ["case", "sweeps", "seconds", "ms per sweep", "vs listing them", "writes"])
    example = manifests.load_all((runner.ROOT / "examples" / "hparam.yaml").read_text())[0]
    with Emulator() as emulator:
        store = emulator.store
        sweeps = store.type_of(HYPERPARAM_WORKFLOWS.group, HYPERPARAM_WORKFLOWS.version, HYPERPARAM_WORKFLOWS.plural)
        for index in range(SWEEPS):
            body = copy.deepcopy(example)
            body["metadata"]["name"] = f"sweep-{index}"
            store.create(sweeps, f"team-{index % 10}", body)
        function = runner.start("hyperparam", env={"KUBECONFIG": str(emulator.kubeconfig), "LOG_LEVEL": "WARNING"})
        try:
            started = time.perf_counter()
            with using_kubeconfig(emulator.kubeconfig):  # this process lists too (the baseline)
                listed = sum(len(page) for page in kube.list_pages(HYPERPARAM_WORKFLOWS, None, limit=100))
            listing = time.perf_counter() - started
            assert listed == SWEEPS
            table.add("list every sweep, 100 a page (baseline)", SWEEPS, listing, listing / SWEEPS * 1000, "1.00x", 0)
            for label in ("first tick: every sweep's Workflow created", "tick when nothing changed"):
                emulator.calls.clear()
                seconds, answer = _tick(function.url)
                writes = sum(1 for c in emulator.calls if c.verb in ("create", "patch", "update", "delete"))
                table.add(label, answer["examined"], seconds, seconds / SWEEPS * 1000, ratio(seconds, listing), writes)
        finally:
            function.stop()
    table.notes.append("a tick when nothing changed: one list request per 100 sweeps and one Workflow read per "
                       "sweep, no writes; the emulator answers over loopback, so API latency on a cluster adds to it")
    return table


def _tick(url: str) -> tuple[float, dict[str, Any]]:
    headers, body = knative.ping_event({"resync": "all"}, namespace="argoml", name="argoml-hyperparam-resync")
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method="POST"),
                                timeout=600) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - started, answer
