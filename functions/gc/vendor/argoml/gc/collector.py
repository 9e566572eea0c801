"""One GC run: index the workflows, stream the pods page by page, delete what the policy allows.

Memory stays bounded by the page, in objects and in bytes (:mod:`~argoml.gc.api`):
workflows are reduced to a small index entry as each page arrives, pods and
TensorBoard objects are judged and dropped page by page. A workflow that cannot be
read is kept, with its pods, and named in the summary (``malformed``). Deletions are
capped by ``maxDeletions`` (dry-run would-deletes count too, so a dry run shows exactly
what a real run would do), paced by ``requestsPerSecond`` and stopped at
``maxRunSeconds``: before a delete, and before any wait for the pacer that would end
past it, so that the run answers before Knative's request timeout would cut it off.

Failures: if the workflows cannot be listed, or listing fails before anything was
deleted, the run raises :class:`~argoml.errors.UpstreamError` (503, Knative retries;
nothing happened yet). Once something was deleted, a listing failure ends the run
and is reported in the summary instead. A failed delete is reported and the run goes
on; a delete answered 404 counts as done (someone else got there first, or this is a
replayed event); a 409 (the uid precondition failed: the name now belongs to a new
object) keeps the object.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argoml import argo, kube
from argoml.errors import UpstreamError
from argoml.gc import tensorboards
from argoml.gc.api import PacedApi
from argoml.gc.pacing import Clock, DeadlineReached, SystemClock, TokenBucket
from argoml.gc.policy import Policy
from argoml.gc.selection import (
    POD_FIELD_SELECTOR,
    POD_LABEL_SELECTOR,
    Orphan,
    Verdict,
    WorkflowIndex,
    judge_pod,
)
from argoml.tensorboard import labels

CHANGED = "changed-since-listed"
UNCONFIRMED = "orphan-unconfirmed"


@dataclass
class Summary:
    """What a run did; :meth:`to_json` is the function's answer and log line."""

    policy: Policy
    examined: Counter[str] = field(default_factory=Counter)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    would_delete: dict[str, list[str]] = field(default_factory=dict)
    kept: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, str]] = field(default_factory=list)
    attempted: int = 0  # deletions attempted (or, in a dry run, intended): what maxDeletions caps
    stopped: str | None = None
    requests: int = 0
    paced_seconds: float = 0.0
    malformed: list[dict[str, str]] = field(default_factory=list)
    malformed_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.policy.dry_run,
            "complete": self.stopped is None,
            **({"stopped": self.stopped} if self.stopped else {}),
            "examined": {kind: self.examined[kind] for kind in ("workflows", "pods", "tensorboards")},
            "deleted": self.deleted,
            "wouldDelete": self.would_delete,
            "kept": dict(sorted(self.kept.items())),
            "errors": self.errors,
            "malformed": {"count": self.malformed_count, "workflows": self.malformed},
            "apiRequests": self.requests,
            "pacedSeconds": round(self.paced_seconds, 3),
            "policy": self.policy.to_json(),
        }


class _Stop(Exception):
    """Ends the run early; the reason is already in the summary."""


def collect(policy: Policy, *, now: datetime | None = None, clock: Clock | None = None) -> Summary:
    """Apply ``policy`` to the cluster once; returns the summary (raises UpstreamError, see module)."""
    clock = clock or SystemClock()
    started = clock.monotonic()
    bucket = TokenBucket(policy.requests_per_second, clock, deadline=started + policy.max_run_seconds)
    api = PacedApi(bucket, policy.page_size, policy.max_page_bytes)
    run = _Run(policy, api, now or datetime.now(UTC), Summary(policy), clock, started)
    try:
        index = run.index_workflows()
        run.sweep(kube.PODS, index, judge_pod, label_selector=POD_LABEL_SELECTOR, field_selector=POD_FIELD_SELECTOR)
        if policy.tensorboard_ttl_hours is not None:
            run.sweep_tensorboards(index)
    except _Stop:
        pass
    except DeadlineReached:
        run.summary.stopped = run.out_of_time()
    run.summary.requests, run.summary.paced_seconds = api.requests, bucket.waited
    return run.summary


Judge = Callable[[kube.Obj, WorkflowIndex, Policy, datetime], Verdict]


@dataclass
class _Run:
    policy: Policy
    api: PacedApi
    now: datetime
    summary: Summary
    clock: Clock
    started: float
    _uids: dict[tuple[str, str, str], str | None] = field(default_factory=dict)  # owner -> its uid now, or None

    @property
    def scopes(self) -> tuple[str | None, ...]:
        return self.policy.namespaces if self.policy.namespaces is not None else (None,)

    def index_workflows(self) -> WorkflowIndex:
        """Every workflow in scope; a failure here always raises (pods cannot be judged without it)."""
        index = WorkflowIndex(malformed=self.summary.malformed)
        for scope in self.scopes:
            for page in self.api.pages(argo.WORKFLOWS, scope):
                for workflow in page:
                    index.add(workflow, self.policy, self.now)
                self.summary.malformed_count = index.malformed_count
        self.summary.examined["workflows"] = len(index)
        return index

    def out_of_time(self) -> str:
        # Answer before Knative's timeout would (a timed-out run is retried from the start);
        # the next tick goes on from here.
        return f"maxRunSeconds ({self.policy.max_run_seconds:g}) reached"

    def sweep(self, resource: kube.Resource, index: WorkflowIndex, judge: Judge, *, label_selector: str,
              field_selector: str = "", counted_as: str = "pods", missing_ok: bool = False,
              on_kept: Callable[[kube.Obj], None] | None = None) -> None:
        """Judge every listed object of ``resource`` in scope and delete those with no reason to stay."""
        for page in self._pages(resource, label_selector, field_selector, missing_ok):
            for obj in page:
                self.summary.examined[counted_as] += 1
                reason = judge(obj, index, self.policy, self.now)
                if isinstance(reason, Orphan):
                    reason = self._confirm(reason, resource, obj)
                if reason is None:
                    self._delete(resource, obj)
                else:
                    self.summary.kept[reason] += 1
                    if on_kept is not None:
                        on_kept(obj)

    def sweep_tensorboards(self, index: WorkflowIndex) -> None:
        kept_instances: set[tuple[str, str]] = set()

        def keep_instance(obj: kube.Obj) -> None:
            kept_instances.add(tensorboards.instance_of(obj))

        def judge_service(obj: kube.Obj, index: WorkflowIndex, policy: Policy, now: datetime) -> Verdict:
            if tensorboards.instance_of(obj) in kept_instances:
                return tensorboards.IN_USE
            return tensorboards.judge_tensorboard(obj, index, policy, now)

        # Only the kinds the tensorboard function's mode makes (and gc's role for that mode grants).
        if self.policy.tensorboard_mode == "knative":
            self.sweep(kube.KNATIVE_SERVICES, index, tensorboards.judge_tensorboard, missing_ok=True,
                       label_selector=labels.INSTANCE_PARTS, counted_as="tensorboards")
            return
        self.sweep(kube.DEPLOYMENTS, index, tensorboards.judge_tensorboard, label_selector=labels.INSTANCE_PARTS,
                   counted_as="tensorboards", on_kept=keep_instance)
        self.sweep(kube.SERVICES, index, judge_service, label_selector=labels.INSTANCE_PARTS,
                   counted_as="tensorboards")

    def _confirm(self, orphan: Orphan, resource: kube.Resource, obj: kube.Obj) -> str | None:
        """``None`` if the orphan's workflow (or sweep) is still gone (one GET per name), else why to keep it."""
        key = (orphan.owner.kind, orphan.namespace, orphan.workflow)
        if key not in self._uids:
            try:
                workflow = self.api.get(orphan.owner, orphan.namespace, orphan.workflow)
                self._uids[key] = str((workflow.get("metadata") or {}).get("uid", ""))
            except kube.NotFound:
                self._uids[key] = None
            except UpstreamError as exc:
                self.summary.errors.append({"object": f"{resource.display}/{_ref(obj)}", "message": exc.message})
                return UNCONFIRMED
        return None if orphan.still_gone(self._uids[key]) else orphan.kept_as

    def _pages(self, resource: kube.Resource, label_selector: str, field_selector: str,
               missing_ok: bool) -> Iterator[Sequence[kube.Obj]]:
        for scope in self.scopes:
            try:
                yield from self.api.pages(resource, scope, label_selector=label_selector, field_selector=field_selector)
            except kube.NotFound:
                if missing_ok:  # e.g. Knative Serving not installed
                    return
                raise
            except UpstreamError as exc:
                if not self.summary.attempted:
                    raise
                self.summary.errors.append({"object": resource.display, "message": exc.message})
                self.summary.stopped = f"listing {resource.display} failed"
                raise _Stop from exc

    def _delete(self, resource: kube.Resource, obj: kube.Obj) -> None:
        summary, metadata = self.summary, obj.get("metadata") or {}
        if summary.attempted >= self.policy.max_deletions:
            summary.stopped = f"maxDeletions ({self.policy.max_deletions}) reached"
            raise _Stop
        if self.clock.monotonic() - self.started >= self.policy.max_run_seconds:
            summary.stopped = self.out_of_time()
            raise _Stop
        summary.attempted += 1
        ref = _ref(obj)
        if self.policy.dry_run:
            summary.would_delete.setdefault(resource.display, []).append(ref)
            return
        try:
            self.api.delete(resource, metadata["namespace"], metadata["name"], metadata.get("uid", ""))
        except kube.Conflict:  # the uid precondition failed: a new object has the name
            summary.kept[CHANGED] += 1
            return
        except kube.NotFound:  # already gone counts as done
            pass
        except UpstreamError as exc:
            summary.errors.append({"object": f"{resource.display}/{ref}", "message": exc.message})
            return
        summary.deleted.setdefault(resource.display, []).append(ref)


def _ref(obj: kube.Obj) -> str:
    metadata = obj.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"
