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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoml import argo, kube, names
from argoml.errors import InvalidInput, UpstreamError
from argoml.events import Action, ResourceEvent
from argoml.hyperparam import search
from argoml.hyperparam.workflow import (
    API_VERSION,
    GENERATION_ANNOTATION,
    GROUP,
    HYPERPARAM_WORKFLOWS,
    KIND,
    PARAMETER_ANNOTATION,
    TRIALS_ANNOTATION,
    Generated,
    generate,
)
from argoml.timestamps import now_rfc3339

CONFLICT_ATTEMPTS = 5
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
        return reconcile(namespace, owner)
    raise InvalidInput(f"unexpected event about {ref.kind} ({ref.api_version}): this function handles "
                       f"{KIND} ({API_VERSION}) and Workflow ({argo.API_VERSION})")


def _owner_of_workflow(event: ResourceEvent, namespace: str) -> str | None:
    """The HyperparamWorkflow controlling the Workflow of ``event``.

    In Reference mode the Workflow is read; when it is gone (a delete), the owner is
    the HyperparamWorkflow of the same name, if any, as that is how Workflows are named.
    """
    workflow = event.obj
    if workflow is None:
        workflow = kube.get_or_none(argo.WORKFLOWS, namespace, event.ref.name)
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


def reconcile(namespace: str, name: str) -> Outcome:
    """Converge the HyperparamWorkflow ``namespace/name`` and its Workflow; see the module doc."""
    for _ in range(CONFLICT_ATTEMPTS):
        try:
            return _reconcile_once(namespace, name)
        except _Conflict:
            continue
    raise UpstreamError(f"HyperparamWorkflow {namespace}/{name} kept changing while being reconciled "
                        f"({CONFLICT_ATTEMPTS} attempts); a retry will read it again")


class _Conflict(Exception):
    """Something changed between reading and writing: read again."""


def _reconcile_once(namespace: str, name: str) -> Outcome:
    sweep = kube.get_or_none(HYPERPARAM_WORKFLOWS, namespace, name)
    if sweep is None:
        return Outcome("ignored", KIND, namespace, name, "not found: deleted since the event was sent")
    if sweep["metadata"].get("deletionTimestamp"):
        return Outcome("ignored", KIND, namespace, name, "being deleted: its Workflow goes with it")
    workflow = kube.get_or_none(argo.WORKFLOWS, namespace, name)
    state = _State(sweep, workflow)
    try:
        generated: Generated | None = generate(sweep)
    except search.InvalidSpec as exc:
        generated, state.invalid = None, exc
    if generated is not None and workflow is None and state.launched != state.generation:
        state.workflow = _create(generated.workflow, state)
    status = state.status()
    _write_status(sweep, status)
    return Outcome("reconciled", KIND, namespace, name, status["message"], status)


class _State:
    """What one reconcile found, and the status it makes of it."""

    def __init__(self, sweep: dict[str, Any], workflow: dict[str, Any] | None) -> None:
        self.sweep, self.workflow = sweep, workflow
        self.previous: Mapping[str, Any] = sweep.get("status") or {}
        self.generation = int(sweep["metadata"].get("generation", 1))
        self.launched = self.previous.get("workflowGeneration")
        self.invalid: search.InvalidSpec | None = None
        self.rejected: str | None = None
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
        run = workflow.get("status") or {}
        succeeded, failed = count_trials(workflow)
        fields: dict[str, Any] = {
            "workflowName": workflow["metadata"]["name"],
            "workflowGeneration": _int(annotations.get(GENERATION_ANNOTATION), self.launched or 0),
            "trials": _int(annotations.get(TRIALS_ANNOTATION), 0),
            "phase": run.get("phase") or "Pending",
            "trialsSucceeded": succeeded,
            "trialsFailed": failed,
        }
        for key in ("startedAt", "finishedAt"):
            if run.get(key):
                fields[key] = run[key]
        return fields

    def _run_message(self, status: Mapping[str, Any], current: bool) -> str:
        message = (f"Workflow {self.namespaced_name} {status['phase'].lower()}: {status['trials']} trials, "
                   f"{status['trialsSucceeded']} succeeded, {status['trialsFailed']} failed")
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
        value = "True" if true else "False"
        before = next((c for c in self.previous.get("conditions") or [] if c.get("type") == kind), None)
        changed = before is None or before.get("status") != value
        since = before.get("lastTransitionTime") if before is not None and not changed else None
        return {"type": kind, "status": value, "reason": reason, "message": _clip(message),
                "lastTransitionTime": since or now_rfc3339(),
                "observedGeneration": self.generation}


def count_trials(workflow: Mapping[str, Any]) -> tuple[int, int]:
    """(succeeded, failed) trial nodes of ``workflow``.

    A trial is a node Argo expanded from a loop over the trials parameter: a step or
    DAG task whose ``withParam`` reads ``workflow.parameters.<parameter>``. Argo names
    each expanded node ``<step>(<index>:<item>)``, and that node's phase is the trial's,
    whatever its template (a pod, nested steps, retries). With no such loop written
    inline (a ``workflowTemplateRef``), every loop-expanded node counts.
    """
    parameter = ((workflow.get("metadata") or {}).get("annotations") or {}).get(PARAMETER_ANNOTATION,
                                                                               search.DEFAULT_PARAMETER)
    loops = _trial_loops(workflow.get("spec") or {}, parameter)
    step = "|".join(re.escape(name) for name in sorted(loops)) if loops else r"[^()]+"
    expanded = re.compile(rf"^(?:{step})\(\d+:")
    succeeded = failed = 0
    for node in ((workflow.get("status") or {}).get("nodes") or {}).values():
        if isinstance(node, Mapping) and expanded.match(str(node.get("displayName", ""))):
            succeeded += node.get("phase") == "Succeeded"
            failed += node.get("phase") in ("Failed", "Error")
    return succeeded, failed


def _trial_loops(spec: Mapping[str, Any], parameter: str) -> set[str]:
    reads = re.compile(rf"workflow\.parameters\.{re.escape(parameter)}(?![\w-])")
    names = set()
    for template in spec.get("templates") or []:
        if not isinstance(template, Mapping):
            continue
        steps = [step for group in template.get("steps") or [] if isinstance(group, list) for step in group]
        tasks = (template.get("dag") or {}).get("tasks") or [] if isinstance(template.get("dag"), Mapping) else []
        for step in [*steps, *tasks]:
            if isinstance(step, Mapping) and reads.search(str(step.get("withParam", ""))):
                names.add(str(step.get("name", "")))
    return names


# --- API ----------------------------------------------------------------------------------------------


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


