"""HyperparamWorkflow -> Argo Workflow, driven by ApiServerSource events.

Every event is a trigger, not a source of truth: the function reads the live
HyperparamWorkflow and its Workflow through the API and converges on them, so a
replayed, duplicated, late or out-of-order event changes nothing it should not.
One reconcile:

1. read the HyperparamWorkflow (gone or being deleted: nothing to do — its Workflow
   goes with it through the ownerReference), then the Workflow of the same name;
2. a Workflow of that name not controlled by this HyperparamWorkflow is left alone,
   and the status says so;
3. a valid spec whose generation has not been launched yet gets its Workflow, unless
   one from an earlier generation still exists: a spec change never replaces a
   Workflow (that would kill a running sweep); the status says which generation runs,
   and deleting that Workflow launches the current one;
4. the status subresource is patched with what was found, only when it changed, with
   the resourceVersion read in step 1 as a precondition (a conflict re-reads).

The rules are explained for users in docs/hyperparam.md.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoml import argo, jsontypes, kube, names
from argoml.errors import InvalidInput, Unprocessable, UpstreamError
from argoml.events import Action, ResourceEvent
from argoml.hyperparam import results, schedule, search, trials, tuning
from argoml.hyperparam.workflow import (
    API_VERSION,
    GENERATION_ANNOTATION,
    GROUP,
    HYPERPARAM_WORKFLOWS,
    KIND,
    LABEL,
    PARAMETER_ANNOTATION,
    TRIALS_ANNOTATION,
    Generated,
    generate,
    trial_loops,
    trial_workflow,
    trials_of,
)
from argoml.timestamps import now_rfc3339

CONFLICT_ATTEMPTS = 5
LIST_PAGE = 100
_TRIAL_NAME = re.compile(r"(?P<sweep>[a-z0-9][-a-z0-9]*)-\d{1,6}")
# A spec can hold thousands of problems (a list of 100k repeated values); the status must
# stay small enough to store, or its patch fails on every retry. metav1.Condition allows 32 KiB.
MAX_MESSAGE = 8192


@dataclass(frozen=True)
class Outcome:
    """What handling one event did; the function's JSON answer."""

    result: str  # reconciled | ignored
    kind: str  # of the object the answer is about
    namespace: str
    name: str
    message: str
    status: Mapping[str, Any] | None = None

    def to_json(self, event_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"event": event_id, "result": self.result,
                                  "object": f"{self.kind} {self.namespace}/{self.name}", "message": self.message}
        if self.status is not None:
            answer["status"] = dict(self.status)
        return answer


# --- events -------------------------------------------------------------------------------------------


def handle(event: ResourceEvent) -> Outcome:
    """Act on one ApiServerSource event about a HyperparamWorkflow or one of its Workflows."""
    ref = event.ref
    namespace = ref.namespace or ""
    if not names.is_dns_label(namespace):
        raise InvalidInput(f"data: namespace {ref.namespace!r} is not a valid namespace name")
    if not names.is_dns_subdomain(ref.name):
        raise InvalidInput(f"data: name {ref.name!r} is not a valid object name")
    if ref.group == GROUP and ref.kind == KIND:
        if event.action is Action.DELETE:
            return Outcome("ignored", KIND, namespace, ref.name, "deleted: its Workflow is deleted by the garbage "
                           "collector through the ownerReference")
        return reconcile(namespace, ref.name)
    if ref.group == argo.GROUP and ref.kind == argo.WORKFLOWS.kind:
        owner = _owner_of_workflow(event, namespace)
        if owner is None:
            return Outcome("ignored", "Workflow", namespace, ref.name, "not controlled by a HyperparamWorkflow")
        outcome = reconcile(namespace, owner)
        trial = _TRIAL_NAME.fullmatch(ref.name)
        if event.obj is None and event.action is Action.DELETE and outcome.result == "ignored" and trial:
            return reconcile(namespace, trial["sweep"])  # a deleted trial Workflow <sweep>-<index>
        return outcome
    raise InvalidInput(f"unexpected event about {ref.kind} ({ref.api_version}): this function handles "
                       f"{KIND} ({API_VERSION}) and Workflow ({argo.API_VERSION})")


def _owner_of_workflow(event: ResourceEvent, namespace: str) -> str | None:
    """The HyperparamWorkflow controlling the Workflow of ``event``.

    In Reference mode the Workflow is read; when it is gone (a delete), the owner is
    the HyperparamWorkflow of the same name, if any, as that is how Workflows are named
    (or, failing that, ``<sweep>`` of a trial Workflow ``<sweep>-<index>``).
    """
    workflow = event.obj
    if workflow is None:
        workflow = _get(argo.WORKFLOWS, namespace, event.ref.name)
        if workflow is None:
            return event.ref.name if event.action is Action.DELETE else None
    reference = kube.controller_reference(workflow, HYPERPARAM_WORKFLOWS)
    if reference is None:
        return None
    owner = reference.get("name")
    if not names.is_dns_subdomain(owner):  # it names an API path: never unchecked
        raise InvalidInput(f"data: the Workflow's controller ownerReference names {owner!r}, which is not a valid "
                           "object name")
    return owner


def reconcile(namespace: str, name: str, listed: Mapping[str, Any] | None = None) -> Outcome:
    """Converge the HyperparamWorkflow ``namespace/name`` and its Workflows; see the module doc.

    ``listed`` is the sweep as a list just returned it (the resync), which saves reading it again;
    after a conflict it is read afresh.
    """
    for _ in range(CONFLICT_ATTEMPTS):
        try:
            return _reconcile_once(namespace, name, listed)
        except _Conflict:
            listed = None
            continue
    raise UpstreamError(f"HyperparamWorkflow {namespace}/{name} kept changing while being reconciled "
                        f"({CONFLICT_ATTEMPTS} attempts); a retry will read it again")


class _Conflict(Exception):
    """Something changed between reading and writing: read again."""


def _reconcile_once(namespace: str, name: str, listed: Mapping[str, Any] | None) -> Outcome:
    sweep = dict(listed) if listed is not None else _get(HYPERPARAM_WORKFLOWS, namespace, name)
    if sweep is None:
        return Outcome("ignored", KIND, namespace, name, "not found: deleted since the event was sent")
    if sweep["metadata"].get("deletionTimestamp"):
        return Outcome("ignored", KIND, namespace, name, "being deleted: its Workflow goes with it")
    spec = sweep.get("spec")
    if isinstance(spec, Mapping) and spec.get("algorithm") in search.ADAPTIVE:
        status = _reconcile_adaptive(sweep)
    else:
        workflow = _get(argo.WORKFLOWS, namespace, name)
        state = _State(sweep, workflow)
        try:
            generated: Generated | None = generate(sweep)
        except search.InvalidSpec as exc:
            generated, state.invalid = None, exc
        if generated is not None:
            state.settings, state.space = generated.settings, generated.space
        if generated is not None and workflow is None and state.launched != state.generation:
            state.workflow = _create(generated.workflow, state)
        status = state.status()
        if state.stop is not None and state.workflow is not None:
            _stop(namespace, state.workflow["metadata"]["name"])
    _write_status(sweep, status)
    return Outcome("reconciled", KIND, namespace, name, status["message"], status)


def _reconcile_adaptive(sweep: dict[str, Any]) -> dict[str, Any]:
    """One pass of the asynchronous schedule (:mod:`argoml.hyperparam.schedule`); the new status."""
    metadata = sweep["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    previous: Mapping[str, Any] = sweep.get("status") or {}
    generation = int(metadata.get("generation", 1))
    history = trials.parse_history(previous.get("history"))
    try:
        generated = generate(sweep)
    except search.InvalidSpec as exc:
        # Nothing new is proposed; running trials go on, the history is kept as it was.
        status = {key: previous[key] for key in ("trials", "trialsSucceeded", "trialsFailed", "trialsWithoutValue",
                                                 "trialsRunning", "bestTrial", "startedAt") if key in previous}
        status |= {"observedGeneration": generation, "phase": "Invalid", "message": _clip(f"invalid spec: "
                                                                                          f"{exc.message}")}
        if history:
            status["history"] = [record.as_status() for record in history]
        status["conditions"] = [_condition(previous, generation, "SpecValid", False, "InvalidSpec", exc.message)]
        return status
    owned = {}
    for workflow in _list_workflows(namespace, name):
        index = schedule.owned_index(workflow, name)
        controller = kube.controller_reference(workflow, HYPERPARAM_WORKFLOWS)
        if index is not None and controller is not None and controller.get("uid") == metadata.get("uid"):
            owned[index] = workflow
    parameter = generated.space.parameter_name
    loops = sorted(trial_loops(generated.workflow["spec"], parameter)) or None
    decided = schedule.plan(name, generated.space, generated.settings, history, owned, loops, parameter)
    for proposal in decided.proposals:
        workflow = trial_workflow(sweep, generated.space, proposal.trial, dict(proposal.hyperparams))
        problem = _create_trial(namespace, workflow)
        if problem is not None:
            at = decided.records.index(proposal)
            decided.records[at] = proposal.failed(problem, len(history))
    for workflow_name in decided.stop:
        if not (owned[int(workflow_name.rpartition("-")[2])].get("spec") or {}).get("shutdown"):
            _stop(namespace, workflow_name)
    status = {"observedGeneration": generation,
              **schedule.status(decided, generated.settings, generated.space.max_trials)}
    status["startedAt"] = previous.get("startedAt") or now_rfc3339()
    if decided.complete_reason is not None:
        status["finishedAt"] = previous.get("finishedAt") or now_rfc3339()
    done = decided.complete_reason is not None
    status["conditions"] = [
        _condition(previous, generation, "SpecValid", True, "Valid", "the search space is valid"),
        _condition(previous, generation, "Complete", done, decided.complete_reason or "Running", status["message"])]
    status["message"] = _clip(status["message"])
    return status


def _condition(previous: Mapping[str, Any], generation: int, kind: str, true: bool, reason: str,
               message: str) -> dict[str, Any]:
    value = "True" if true else "False"
    before = next((c for c in _list(previous.get("conditions")) if isinstance(c, Mapping) and c.get("type") == kind),
                  None)
    changed = before is None or before.get("status") != value
    since = before.get("lastTransitionTime") if before is not None and not changed else None
    return {"type": kind, "status": value, "reason": reason, "message": _clip(message),
            "lastTransitionTime": since if isinstance(since, str) and since else now_rfc3339(),
            "observedGeneration": generation}


class _State:
    """What one reconcile found, and the status it makes of it."""

    def __init__(self, sweep: dict[str, Any], workflow: dict[str, Any] | None) -> None:
        self.sweep, self.workflow = sweep, workflow
        self.previous: Mapping[str, Any] = sweep.get("status") or {}
        self.generation = int(sweep["metadata"].get("generation", 1))
        self.launched = self.previous.get("workflowGeneration")
        self.invalid: search.InvalidSpec | None = None
        self.rejected: str | None = None
        self.settings: tuning.Tuning | None = None
        self.space: search.SearchSpace | None = None
        self.stop: str | None = None  # why the running Workflow is to be stopped
        self.tuned = False  # an objective or maxFailedTrials: results, stopping, a Complete condition
        self.complete: str | None = None  # the Complete condition's reason, once the Workflow finished
        self.unknown: str | None = None  # why the trials' results cannot be read
        self.notes: list[str] = []
        controller = kube.controller_reference(workflow, HYPERPARAM_WORKFLOWS) if workflow is not None else None
        self.foreign = workflow is not None and (controller is None
                                                 or controller.get("uid") != sweep["metadata"].get("uid"))

    @property
    def namespaced_name(self) -> str:
        return f"{self.sweep['metadata']['namespace']}/{self.sweep['metadata']['name']}"

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"observedGeneration": self.generation}
        valid = self.invalid is None
        conditions = [self._condition("SpecValid", valid, "Valid" if valid else "InvalidSpec",
                                      "the search space is valid" if self.invalid is None else self.invalid.message)]
        if self.foreign:
            status["phase"] = "Blocked"
            status["message"] = (f"Workflow {self.namespaced_name} already exists and is not controlled by this "
                                 "HyperparamWorkflow; it was left untouched: delete or rename it, or rename this "
                                 "HyperparamWorkflow")
            conditions.append(self._condition("WorkflowCreated", False, "NameTaken", status["message"]))
        elif self.workflow is not None:
            status |= self._run(self.workflow)
            launched = status["workflowGeneration"]
            conditions.append(self._condition("WorkflowCreated", True, "Created",
                                              f"Workflow {self.namespaced_name} runs generation {launched}"))
            current = launched == self.generation
            conditions.append(self._condition(
                "UpToDate", current, "CurrentGeneration" if current else "SpecChangedAfterLaunch",
                "the Workflow runs the current spec" if current else
                f"spec generation {self.generation} is not applied: the Workflow was generated from generation "
                f"{launched} and is left as it is; delete the Workflow to launch the current spec"))
            status["message"] = self._run_message(status, current)
            if self.tuned:
                conditions.append(self._condition("Complete", self.complete is not None, self.complete or "Running",
                                                  status["message"]))
            if self.unknown is not None:
                conditions.append(self._condition("ResultsKnown", False, "NodesUnreadable", self.unknown))
        else:
            status |= self._gone()
            conditions.append(self._condition("WorkflowCreated", False, status.pop("reason"), status["message"]))
        if self.invalid is not None and status["phase"] != "Invalid":
            status["message"] += f"; invalid spec: {self.invalid.message}"
        status["message"] = _clip(status["message"])
        status["conditions"] = conditions
        return status

    def _run(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        annotations = workflow["metadata"].get("annotations") or {}
        run = jsontypes.mapping(workflow.get("status"))
        phase = run.get("phase") if isinstance(run.get("phase"), str) and run.get("phase") else "Pending"
        fields: dict[str, Any] = {
            "workflowName": workflow["metadata"]["name"],
            "workflowGeneration": _int(annotations.get(GENERATION_ANNOTATION), self.launched or 0),
            "trials": _int(annotations.get(TRIALS_ANNOTATION), 0),
            "phase": phase,
        }
        settings = self.settings
        objective = settings.objective if settings is not None else None
        parameter = str(annotations.get(PARAMETER_ANNOTATION, search.DEFAULT_PARAMETER))
        spec = jsontypes.mapping(workflow.get("spec"))
        found = results.read(workflow, sorted(trial_loops(spec, parameter)) or None,
                             results.Metrics(objective.metric if objective else None,
                                             objective.additional if objective else ()))
        if not found.known:
            self.unknown = found.reason
        else:
            fields |= {"trialsSucceeded": found.count(results.SUCCEEDED), "trialsFailed": found.count(results.FAILED)}
        for key in ("startedAt", "finishedAt"):
            if run.get(key):
                fields[key] = run[key]
        self.tuned = settings is not None and (objective is not None or settings.max_failed_trials is not None)
        if not self.tuned or not found.known or settings is None:
            return fields
        name = workflow["metadata"]["name"]
        records = trials.of_workflow(name, trials_of(workflow, parameter), found)
        summary = trials.summarize(records, objective.goal if objective else None)
        summary_fields = summary.as_status()
        if objective is None:
            summary_fields.pop("trialsWithoutValue")
        fields |= summary_fields
        if objective is not None:
            if len(records) <= settings.history_limit:
                fields["history"] = [record.as_status() for record in records]
            else:
                self.notes.append(f"the history of {len(records):,} trials is not kept in the status (at most "
                                  f"{settings.history_limit:,} fit): `argoml results` lists them from the Workflow")
        reason = trials.stop_reason(summary, settings)
        finished = phase in argo.FINISHED_PHASES
        if reason is not None:
            self.notes.append(("stopped: " if finished else "stopping: ")
                              + trials.stop_message(reason, summary, settings))
            if not finished and not spec.get("shutdown"):
                self.stop = reason
        if finished:
            if reason is None:
                space = self.space
                reason = trials.EXHAUSTED if space is None or space.algorithm == "grid" or \
                    (space.size is not None and space.size <= space.max_trials) else trials.MAX_TRIALS
            self.complete = reason
            if reason == trials.GOAL_REACHED:
                fields["phase"] = "Succeeded"
            elif reason == trials.MAX_FAILED:
                fields["phase"] = "Failed"
        return fields

    def _run_message(self, status: Mapping[str, Any], current: bool) -> str:
        message = f"Workflow {self.namespaced_name} {status['phase'].lower()}: {status['trials']} trials"
        if self.unknown is not None:
            message += f"; {self.unknown}"
        else:
            message += f", {status['trialsSucceeded']} succeeded, {status['trialsFailed']} failed"
        if (best := status.get("bestTrial")) and self.settings is not None and self.settings.objective is not None:
            message += f"; best: trial {best['trial']}, {self.settings.objective.metric} = {best['value']:g}"
        for note in self.notes:
            message += f"; {note}"
        if not current:
            message += (f"; it runs generation {status['workflowGeneration']}, the spec is at generation "
                        f"{self.generation}: delete the Workflow to launch it")
        return message

    def _gone(self) -> dict[str, Any]:
        """Status when no Workflow exists: rejected, invalid, or deleted after its run."""
        kept = {key: self.previous[key] for key in ("workflowName", "workflowGeneration", "trials",
                                                    "trialsSucceeded", "trialsFailed", "startedAt", "finishedAt")
                if key in self.previous}
        if self.rejected is not None:
            return kept | {"phase": "Invalid", "reason": "Rejected",
                           "message": f"the API server rejected the Workflow: {self.rejected}"}
        if self.invalid is not None:
            return kept | {"phase": "Invalid", "reason": "InvalidSpec", "message": f"invalid spec: "
                                                                                   f"{self.invalid.message}"}
        return kept | {"phase": self.previous.get("phase", "Deleted"), "reason": "WorkflowDeleted",
                       "message": f"Workflow {self.namespaced_name} of generation {self.launched} was deleted; it is "
                                  "not re-created for the same spec: change the spec to run the sweep again"}

    def _condition(self, kind: str, true: bool, reason: str, message: str) -> dict[str, Any]:
        return _condition(self.previous, self.generation, kind, true, reason, message)


def count_trials(workflow: Mapping[str, Any]) -> tuple[int, int]:
    """(succeeded, failed) trials of ``workflow``; see :mod:`argoml.hyperparam.results` for which nodes are trials.

    A trial is a node Argo expanded from a loop over the trials parameter: a step or
    DAG task whose ``withParam`` reads ``workflow.parameters.<parameter>``. With no such
    loop written inline (a ``workflowTemplateRef``), every loop-expanded node counts.
    """
    annotations = (workflow.get("metadata") or {}).get("annotations") or {}
    parameter = str(annotations.get(PARAMETER_ANNOTATION, search.DEFAULT_PARAMETER))
    spec = jsontypes.mapping(workflow.get("spec"))
    found = results.read(workflow, sorted(trial_loops(spec, parameter)) or None, results.Metrics(None))
    return found.count(results.SUCCEEDED), found.count(results.FAILED)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []



# --- API ----------------------------------------------------------------------------------------------


def _get(resource: kube.Resource, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return kube.get_or_none(resource, namespace, name)
    except RecursionError:
        raise _unreadable(resource.kind, namespace, name) from None


def _list_workflows(namespace: str, sweep_name: str) -> list[dict[str, Any]]:
    """The Workflows labelled as the sweep's (every page; ownership is checked by the caller)."""
    try:
        return [workflow for page in kube.list_pages(argo.WORKFLOWS, namespace, label_selector=f"{LABEL}={sweep_name}",
                                                      limit=LIST_PAGE) for workflow in page]
    except RecursionError:
        raise _unreadable("Workflow", namespace, f"(one labelled {LABEL}={sweep_name})") from None


def _unreadable(kind: str, namespace: str, name: str) -> Unprocessable:
    return Unprocessable(f"{kind} {namespace}/{name} cannot be read: it is nested more deeply than this function "
                         "parses (a malformed object); it is skipped")


def _create(workflow: dict[str, Any], state: _State) -> dict[str, Any] | None:
    namespace = workflow["metadata"]["namespace"]
    try:
        return kube.create(argo.WORKFLOWS, namespace, workflow)
    except kube.Conflict as exc:
        raise _Conflict from exc  # created meanwhile (a duplicate event): read it and adopt or report
    except (kube.BadRequest, kube.Invalid) as exc:
        state.rejected = exc.api_message
        return None
    except kube.Forbidden as exc:
        if not _denied_by_admission(exc.api_message):
            raise
        state.rejected = exc.api_message
        return None


def _create_trial(namespace: str, workflow: dict[str, Any]) -> str | None:
    """Create a trial's Workflow; a reason the trial cannot run, or None once it exists (ours)."""
    name = workflow["metadata"]["name"]
    try:
        kube.create(argo.WORKFLOWS, namespace, workflow)
        return None
    except kube.Conflict as exc:
        existing = _get(argo.WORKFLOWS, namespace, name)
        owner = kube.controller_reference(existing, HYPERPARAM_WORKFLOWS) if existing is not None else None
        if existing is None or (owner is not None and owner.get("uid") ==
                                workflow["metadata"]["ownerReferences"][0]["uid"]):
            raise _Conflict from exc  # created meanwhile by a duplicate event: read again and adopt it
        return f"Workflow {namespace}/{name} already exists and is not controlled by this HyperparamWorkflow"
    except (kube.BadRequest, kube.Invalid) as exc:
        return f"the API server rejected the trial's Workflow: {exc.api_message}"
    except kube.Forbidden as exc:
        if not _denied_by_admission(exc.api_message):
            raise
        return f"the API server rejected the trial's Workflow: {exc.api_message}"


def _stop(namespace: str, name: str) -> None:
    """Stop a running Workflow the way Argo does it: ``spec.shutdown: Stop`` (exit handlers still run)."""
    with contextlib.suppress(kube.NotFound):  # gone meanwhile: nothing left to stop
        kube.patch(argo.WORKFLOWS, namespace, name, {"spec": {"shutdown": "Stop"}})


def _denied_by_admission(message: str) -> bool:
    """A 403 from an admission webhook or ValidatingAdmissionPolicy: a policy refused the Workflow.

    The API server answers a webhook's denial 403 unless the webhook sets a code (Gatekeeper and
    Kyverno do not); retrying cannot change the verdict. A 403 from RBAC ("cannot create") stays a
    5xx, since granting the permission and retrying does fix it.
    """
    return "denied the request" in message or "denied request" in message


def _write_status(sweep: Mapping[str, Any], status: dict[str, Any]) -> None:
    previous = sweep.get("status") or {}
    if previous == status:
        return
    # A merge patch: keys of the old status that the new one lacks are removed with null.
    body = {"metadata": {"resourceVersion": sweep["metadata"]["resourceVersion"]},
            "status": {key: None for key in previous if key not in status} | status}
    namespace, name = sweep["metadata"]["namespace"], sweep["metadata"]["name"]
    try:
        kube.patch(HYPERPARAM_WORKFLOWS, namespace, name, body, subresource="status")
    except kube.Conflict as exc:
        raise _Conflict from exc
    except kube.NotFound:  # deleted meanwhile: nothing left to report on
        pass


def _clip(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    suffix = f" ... ({len(message) - MAX_MESSAGE:,}+ more characters; `argoml expand` lists every problem)"
    return message[:MAX_MESSAGE - len(suffix)] + suffix


def _int(text: Any, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


