"""The level-triggered resync: every HyperparamWorkflow reconciled, whatever events were lost.

Knative's ApiServerSource does not replay: its adapter's initial list emits nothing, and a
change made while no adapter watched (install order, a crash, a node drain, an Eventing
upgrade) sends no event at all. For an adaptive sweep a lost "trial finished" event would
stall it forever. So a PingSource (``knative/sources/pingsources.yaml``, every few minutes)
sends the hyperparam function a tick, and the tick lists every HyperparamWorkflow, a page at a
time, and reconciles each through :func:`argoml.hyperparam.reconcile.reconcile`, the code path
of the events. Reconciling converges on live state, so a tick is cheap when nothing changed:
the listed sweep is not read again, its Workflow is read (or its trial Workflows listed), and
nothing is written. One sweep that cannot be reconciled (the API failed on it, it is
malformed) is reported in the answer and the others go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from argoml import kube
from argoml.errors import ArgomlError, Unprocessable
from argoml.events import PingEvent
from argoml.hyperparam import reconcile
from argoml.hyperparam.workflow import HYPERPARAM_WORKFLOWS

PAGE = 100  # sweeps per list request: bounds the memory one tick holds
MAX_REPORTED = 50  # problems named in the answer; the rest are counted


@dataclass
class Summary:
    """What one tick did: the function's JSON answer."""

    examined: int = 0
    changed: int = 0
    problems: list[str] = field(default_factory=list)

    def to_json(self, event_id: str) -> dict[str, Any]:
        shown = self.problems[:MAX_REPORTED]
        answer: dict[str, Any] = {"event": event_id, "result": "resynced", "examined": self.examined,
                                  "changed": self.changed, "problems": shown}
        if len(self.problems) > len(shown):
            answer["moreProblems"] = len(self.problems) - len(shown)
        return answer


def run(event: PingEvent) -> Summary:
    """Reconcile every HyperparamWorkflow in the cluster (the tick's data is not read)."""
    summary = Summary()
    for page in _pages():
        for sweep in page:
            metadata = sweep.get("metadata") or {}
            namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
            summary.examined += 1
            try:
                outcome = reconcile.reconcile(namespace, name, listed=sweep)
            except ArgomlError as exc:  # this sweep only: the API failed on it, or it is malformed
                summary.problems.append(f"{namespace}/{name}: {exc.message}")
                continue
            except RecursionError:
                summary.problems.append(f"{namespace}/{name}: nested too deeply to reconcile; skipped")
                continue
            if outcome.status is not None and outcome.status != sweep.get("status"):
                summary.changed += 1
    return summary


def _pages() -> Iterator[list[dict[str, Any]]]:
    pages = kube.list_pages(HYPERPARAM_WORKFLOWS, None, limit=PAGE)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except RecursionError:  # the API server stores objects nested deeper than the client parses
            raise Unprocessable("a HyperparamWorkflow is nested too deeply to read, so the list cannot go on: find "
                                "and fix it (kubectl get hparam -A)") from None
        yield page
