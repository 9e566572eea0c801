"""The local stand-in for Knative's ApiServerSource: watch the API, POST CloudEvents.

One thread per watched resource streams changes from the API server (the emulator
or the cluster in ``KUBECONFIG``) and delivers each as the CloudEvent an
ApiServerSource in Resource (or Reference) mode would send, to the sink URL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from argoml import kube
from argoml.dev import knative
from argoml.dev.delivery import Delivery, deliver

log = logging.getLogger("argoml.dev.bridge")

ACTIONS = {"ADDED": "add", "MODIFIED": "update", "DELETED": "delete"}


@dataclass(frozen=True)
class WatchedResource:
    """What one ApiServerSource resource entry watches: a custom resource, cluster-wide, by label."""

    resource: kube.Resource
    label_selector: str = ""


@dataclass
class Bridge:
    sources: list[WatchedResource]
    sink: str
    mode: str = "Resource"
    on_delivery: Callable[[str, Delivery], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _ready: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def start(self) -> Bridge:
        """Start watching; returns once every source has listed what exists."""
        for source in self.sources:
            thread = threading.Thread(target=self._pump, args=(source,), daemon=True,
                                      name=f"bridge-{source.resource.plural}")
            thread.start()
            self._threads.append(thread)
        for _ in self.sources:
            self._ready.acquire(timeout=30)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _pump(self, source: WatchedResource) -> None:
        """As the ApiServerSource's own account (``<kind>-source``), list then watch."""
        with kube.acting_as(f"{source.resource.kind.lower()}-source"):
            self._list_and_watch(source)

    def _list_and_watch(self, source: WatchedResource) -> None:
        """List (sending "add" for what exists, as an informer does), then watch from there."""
        from kubernetes import watch

        args = (source.resource.group, source.resource.version, source.resource.plural)
        revision = ""
        while not self._stop.is_set():
            try:
                api = kube.custom()
                if not revision:
                    listing = api.list_cluster_custom_object(*args, label_selector=source.label_selector)
                    revision = listing["metadata"]["resourceVersion"]
                    for obj in listing["items"]:
                        self._send("add", obj)
                    self._ready.release()
                stream = watch.Watch().stream(api.list_cluster_custom_object, *args,
                                              label_selector=source.label_selector,
                                              resource_version=revision, timeout_seconds=1)
                for change in stream:
                    if change["type"] in ACTIONS:
                        revision = change["object"]["metadata"]["resourceVersion"]
                        self._send(ACTIONS[change["type"]], change["object"])
            except Exception:  # the bridge outlives a failing API: log, wait, list again
                if not self._stop.is_set():
                    log.exception("watching %s failed; retrying", source.resource.display)
                    revision = ""
                    self._stop.wait(1)

    def _send(self, action: str, obj: dict) -> None:
        headers, body = knative.resource_event(action, obj, mode=self.mode)
        delivery = deliver(self.sink, headers, body)
        log.info("%s %s %s -> %s", headers["ce-type"], obj["kind"], obj["metadata"]["name"], delivery.status)
        if self.on_delivery is not None:
            self.on_delivery(headers["ce-type"], delivery)
