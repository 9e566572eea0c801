"""The local stack: the four functions, the ApiServerSource bridge and the PingSource ticker.

``make run`` starts it against the cluster in ``KUBECONFIG`` or, with none, against a local
playground (:mod:`argoml.dev.playground`) that kubectl can use; ``make demo`` and the
end-to-end tests start it against the emulator. The watched resources are the ones
``knative/`` declares ApiServerSources for. Under ``make run`` a ticker sends gc the
policy in ``GC_POLICY`` on the cron schedule ``GC_SCHEDULE``, a dry run unless the
policy says otherwise, and another sends hyperparam its resync tick, as the PingSources do;
with ``ARGO_PLAYER=on`` the Argo player
(:mod:`argoml.dev.argo_player`, a stand-in for Argo's controller) runs the sweeps' Workflows,
reporting made-up metrics, so that their status evolves where no Argo runs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argoml import argo
from argoml.dev import FUNCTIONS, playground, runner
from argoml.dev.argo_player import ArgoPlayer
from argoml.dev.bridge import Bridge, WatchedResource
from argoml.dev.delivery import Delivery
from argoml.dev.ticker import Ticker
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS, LABEL

GC_SCHEDULE = "*/10 * * * *"
RESYNC_SCHEDULE = "*/5 * * * *"  # as the argoml-hyperparam-resync PingSource in knative/sources/
GC_POLICY = '{"dryRun": true}'
ARGO_PLAYER_ENV = "ARGO_PLAYER"
ARGO_PLAYER_INTERVAL = 2.0  # seconds between two of its steps: a sweep of 15 trials takes about 40 s

HYPERPARAM_SOURCES = [
    WatchedResource(HYPERPARAM_WORKFLOWS),
    WatchedResource(argo.WORKFLOWS, label_selector=LABEL),
]


@dataclass
class Stack:
    functions: dict[str, runner.FunctionProcess] = field(default_factory=dict)
    bridge: Bridge | None = None
    deliveries: list[tuple[str, Delivery]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return self.functions[name].url


@contextlib.contextmanager
def running(kubeconfig: Path | None, *, ports: dict[str, int] | None = None,
            log_dir: Path | None = None, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """Start every function (in parallel) and the bridge; stop them all on exit.

    With ``kubeconfig``, this process (the bridge) and the functions use that cluster.
    """
    stack = Stack()
    function_env = dict(env or {})
    if kubeconfig is not None:
        os.environ["KUBECONFIG"] = function_env["KUBECONFIG"] = str(kubeconfig)
    errors: list[BaseException] = []

    def start(name: str) -> None:
        try:
            log_file = log_dir / f"{name}.log" if log_dir else None
            stack.functions[name] = runner.start(name, env=function_env, port=(ports or {}).get(name),
                                                 log_file=log_file)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(name,)) for name in FUNCTIONS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if errors:
            raise errors[0]
        stack.bridge = Bridge(HYPERPARAM_SOURCES, stack.url("hyperparam"),
                              on_delivery=lambda kind, d: stack.deliveries.append((kind, d))).start()
        yield stack
    finally:
        if stack.bridge is not None:
            stack.bridge.stop()
        for function in stack.functions.values():
            function.stop()


def main() -> None:
    """``make run``: serve the functions on fixed ports against the cluster in KUBECONFIG, or a playground."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the playground's every request
    ports = {name: 8081 + i for i, name in enumerate(FUNCTIONS)}
    log_dir = Path("out/logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    schedule = os.environ.get("GC_SCHEDULE") or GC_SCHEDULE
    try:
        gc_policy = json.loads(os.environ.get("GC_POLICY") or GC_POLICY)
    except ValueError as exc:
        sys.exit(f"GC_POLICY is not JSON: {exc}")
    player = (os.environ.get(ARGO_PLAYER_ENV) or "off").strip().lower()
    if player not in ("on", "off"):
        sys.exit(f"{ARGO_PLAYER_ENV} must be on or off, not {player!r}")
    try:
        with playground.cluster() as cluster:
            _serve(cluster, ports, log_dir, schedule, gc_policy, argo_player=player == "on")
    except playground.ClusterProblem as exc:
        sys.exit(f"make run: {exc}")
    sys.exit(0)


def made_up_metrics(item: Mapping[str, Any]) -> dict[str, float]:
    """What the Argo player reports a trial measured: ``accuracy`` (and ``loss``), the same for the same
    hyperparameters, between 0.60 and 0.95. Made up: no trial ran."""
    digest = hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).digest()
    accuracy = round(0.60 + 0.35 * int.from_bytes(digest[:4], "big") / 2**32, 4)
    return {"accuracy": accuracy, "loss": round(1 - accuracy, 4)}


def _serve(cluster: playground.Cluster, ports: dict[str, int], log_dir: Path, schedule: str,
           gc_policy: object, *, argo_player: bool) -> None:
    if cluster.emulator is not None:
        print(f"no cluster configured: a local playground (the argo-ml API emulator) serves {cluster.emulator.url}")
        print(f"export KUBECONFIG={playground.KUBECONFIG}   # then: kubectl apply -f examples/hparam.yaml")
    else:
        print(f"cluster: {cluster.kubeconfig}")
    with running(cluster.kubeconfig, ports=ports, log_dir=log_dir) as stack:
        for name, function in stack.functions.items():
            print(f"{name:12} {function.url}   (log: {log_dir / name}.log)")
        if cluster.emulator is not None:
            print(f"TensorBoard page: {stack.url('tensorboard')}/ (bearer token: {playground.TOKEN}); "
                  f"gc now: .venv/bin/argoml ping {stack.url('gc')} --data '{{\"dryRun\": true}}'")
        try:
            ticker = Ticker(schedule, gc_policy, stack.url("gc"), name="gc-local").start()
        except ValueError as exc:
            sys.exit(f"GC_SCHEDULE: {exc}")
        resync = Ticker(RESYNC_SCHEDULE, {"resync": "all"}, stack.url("hyperparam"),
                        name="argoml-hyperparam-resync").start()
        player = None
        if argo_player:
            player = ArgoPlayer(outputs=made_up_metrics, label_selector=LABEL).start(ARGO_PLAYER_INTERVAL)
            print("Argo player ON: a stand-in for Argo's controller, not Argo. It moves the sweeps' Workflows "
                  "through Pending, Running, Succeeded/Failed and makes up each trial's accuracy and loss; "
                  "no pod runs.")
        print("watching HyperparamWorkflows and their Workflows; Ctrl-C stops")
        print(f"gc: policy {json.dumps(gc_policy)} on schedule {schedule!r} (GC_POLICY, GC_SCHEDULE)")
        print(f"hyperparam: every sweep resynced on schedule {RESYNC_SCHEDULE!r}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        ticker.stop()
        resync.stop()
        if player is not None:
            player.stop()


if __name__ == "__main__":
    main()
