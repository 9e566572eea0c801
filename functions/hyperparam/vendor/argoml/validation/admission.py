"""Kubernetes admission webhooks: AdmissionReview in, AdmissionReview out.

The API server POSTs an ``AdmissionReview`` (``admission.k8s.io/v1``, or ``v1beta1`` from
older clusters) and expects the same ``apiVersion`` back, with ``response.uid`` equal to
``request.uid``. :func:`parse_review` turns the body into an :class:`AdmissionRequest`
(malformed bodies are :class:`~argoml.errors.InvalidInput`, a 400); :func:`validate` and
:func:`mutate` decide; :func:`answer` builds the reply.

Validation denies with ``status.code`` 400 and a message listing every problem, and passes
warnings on; an UPDATE is denied only for problems it introduces (see :func:`_kept_problems`).
DELETE and CONNECT are allowed without work, and so is an UPDATE that leaves the spec alone
(the Argo controller rewrites a Workflow's status constantly). Dry runs are validated like
real requests: the answer is what the real request would get.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from argoml import argo, identity, jsonbody, names
from argoml.errors import InvalidInput, Unauthenticated
from argoml.hyperparam import defaults
from argoml.hyperparam.workflow import KIND
from argoml.identity import User
from argoml.validation import ClusterResolver, NoResolver, Problem, Resolver, budget, validate_object, versions
from argoml.validation.parts import as_dict
from argoml.validation.resolver import REQUEST_TIMEOUT

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# Defaults a HyperparamWorkflow gets when it leaves them out (the CRD documents the same).
# A denial lists at most this many problems: kubectl prints the message whole, and a sweep with
# thousands of bad values would otherwise answer with megabytes.
MAX_LISTED_PROBLEMS = 50
# ... each cut at this many characters (its path at MAX_PATH): a problem may quote a megabyte-long
# value, or sit under a megabyte-long key.
MAX_PROBLEM = 1024
MAX_PATH = 256
# How long a user's right to create Workflows in a namespace, once confirmed, admits their sweeps.
LAUNCH_CACHE_SECONDS = 10.0
LAUNCH_CACHE_SIZE = 1024
_launch_allowed: dict[tuple[User, str], float] = {}  # (user, namespace) -> until (time.monotonic)
# The API server's limits on the warnings it passes on (k8s.io/apiserver's warning recorder):
# a warning holding a control character is dropped; once all warnings together pass 4096
# characters, each is cut at 256 and those past 4096 are dropped. Kept within both here, with
# a last warning saying how many did not fit, so that none is lost without a word.
MAX_WARNING = 256
MAX_WARNINGS_TOTAL = 4096

# The AdmissionReview's own levels (review, request) above the object, which may nest MAX_DEPTH.
ENVELOPE_DEPTH = 2

log = logging.getLogger("argoml.validation.admission")


@dataclass(frozen=True)
class AdmissionRequest:
    api_version: str
    uid: str
    operation: str
    kind: str
    namespace: str | None
    name: str | None
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool = False
    user: User | None = None
    unreadable: str | None = None  # why the objects could not be read whole (too deep, ...): a denial


@dataclass
class Decision:
    allowed: bool
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    patch: list[dict[str, Any]] | None = None


CALLER_TOKEN_ENV = "VALIDATE_CALLER_TOKEN"


@dataclass(frozen=True)
class CallerPolicy:
    """Who may ask: with a ``token``, only requests bearing it (the API server's, from its admission config).

    Anyone who reaches the webhook can send an AdmissionReview naming any user in ``userInfo``;
    the API server can authenticate itself with a bearer token where its flags can be set
    (docs/deploy.md). Knative's ingress passes the ``Authorization`` header on; it would not pass
    on a client certificate.
    """

    token: str | None = None

    @classmethod
    def from_env(cls) -> CallerPolicy:
        return cls(os.environ.get(CALLER_TOKEN_ENV, "").strip() or None)

    def check(self, authorization: str | None) -> None:
        if self.token is None:
            return
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise Unauthenticated("this webhook answers only the Kubernetes API server, which sends the bearer token "
                                  "of its admission configuration")


def parse_review(body: bytes | str | Any) -> AdmissionRequest:
    """Read an AdmissionReview; :class:`InvalidInput` names what is wrong with a malformed one.

    An AdmissionReview whose object nests too deeply or holds a number beyond float64 is
    still read (its deepest parts cut off): it is answered with a denial, see :func:`validate`.
    """
    unreadable = None
    if isinstance(body, bytes | str):
        read = jsonbody.read(body, envelope=ENVELOPE_DEPTH)
        body, unreadable = read.value, read.problem
    if not isinstance(body, dict):
        raise InvalidInput("expected an AdmissionReview object")
    if body.get("kind") != "AdmissionReview" or body.get("apiVersion") not in API_VERSIONS:
        raise InvalidInput(f"expected kind AdmissionReview with apiVersion {' or '.join(API_VERSIONS)}, got "
                           f"{body.get('kind')!r} {body.get('apiVersion')!r}")
    request = body.get("request")
    if not isinstance(request, dict):
        raise InvalidInput("the AdmissionReview has no request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise InvalidInput("request.uid is missing")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise InvalidInput(f"request.operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    obj, old = request.get("object"), request.get("oldObject")
    for key, value in (("object", obj), ("oldObject", old)):
        if value is not None and not isinstance(value, dict):
            raise InvalidInput(f"request.{key} must be an object")
    if operation in ("CREATE", "UPDATE") and obj is None:
        raise InvalidInput(f"request.object is missing for {operation}")
    kind = request.get("kind")
    kind_name = (obj or {}).get("kind") or (kind.get("kind") if isinstance(kind, dict) else None) or ""
    return AdmissionRequest(api_version=body["apiVersion"], uid=uid, operation=operation, kind=str(kind_name),
                            namespace=_text(request.get("namespace")), name=_text(request.get("name")),
                            object=obj, old_object=old, dry_run=request.get("dryRun") is True,
                            user=_user(request.get("userInfo")), unreadable=unreadable)


def _user(info: Any) -> User | None:
    """``request.userInfo``: who asked the API server (absent only from requests it did not send)."""
    user = User.from_user_info(info) if isinstance(info, dict) else None
    return user if user is not None and user.username else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def validate(request: AdmissionRequest, resolver: Resolver | None = None, *, enforce: bool = True) -> Decision:
    """Allow or deny ``request`` by Argo's rules; templates are read from the cluster unless given.

    With ``enforce`` false (a namespace labelled ``argoml.io/validation: warn``) the request is
    allowed and every problem comes back as a warning, except for HyperparamWorkflows: the
    hyperparam function would refuse an invalid sweep anyway, so those are always enforced.
    Rules that differ between Argo versions follow the cluster's (:func:`versions.of_cluster`).

    Referenced templates are read with the rights of the user who made the request (see
    :class:`~argoml.validation.resolver.ClusterResolver`), a HyperparamWorkflow is admitted only
    from a user who may create Workflows (:func:`launch_refusal`), and the work is bounded by
    :mod:`~argoml.validation.budget`: past it, the resource is refused as too large to validate.
    """
    if request.operation in ("DELETE", "CONNECT") or request.object is None:
        return Decision(True)
    enforce = enforce or request.kind == KIND
    if request.unreadable:
        return _refused(request, request.unreadable, enforce)
    if (request.operation == "UPDATE" and request.old_object is not None
            and request.old_object.get("spec") == request.object.get("spec")):
        return Decision(True)
    namespace = request.namespace or _text(as_dict(request.object.get("metadata")).get("namespace"))
    if request.kind == KIND and (refusal := launch_refusal(request.user, namespace)):
        return _refused(request, refusal, enforce)
    if resolver is None:
        resolver = ClusterResolver(namespace, on_behalf_of=request.user) if request.user else NoResolver()
    try:
        problems, complete = _problems(request.object, resolver)
    except budget.TooCostly as exc:
        return _refused(request, str(exc), enforce)
    errors = [p for p in problems if p.severity == "error"]
    found = [str(p) for p in problems if p.severity == "warning"]
    if not enforce:
        log.info("%s %s %s/%s (warn only): %d errors, %d warnings", request.operation, request.kind,
                 namespace or "-", request.name or "-", len(errors), len(found))
        return Decision(True, warnings=admission_warnings([f"error: {p}" for p in errors] + found))
    kept = _kept_problems(request, errors, resolver)
    warnings = admission_warnings(found + [f"{p} (already there before this update)" for p in kept])
    log.info("%s%s %s %s/%s: %d errors (%d kept from before), %d warnings", "dry run: " if request.dry_run else "",
             request.operation, request.kind, namespace or "-", request.name or "-", len(errors), len(kept),
             len(warnings))
    if len(kept) == len(errors):
        return Decision(True, warnings=warnings)
    return Decision(False, message=denial_message(request, errors, complete=complete), warnings=warnings)


def _problems(obj: dict[str, Any], resolver: Resolver) -> tuple[list[Problem], bool]:
    """The problems of ``obj`` within one work budget, and whether that is all of them.

    Past :data:`budget.MAX_PROBLEMS` the first ones found are enough to deny with; past the
    budget's steps :class:`budget.TooCostly` is raised.
    """
    try:
        with budget.limited():
            return validate_object(obj, resolver, argo_version=versions.of_cluster).problems, True
    except budget.TooManyProblems as exc:
        return exc.problems, False


def warn(request: AdmissionRequest) -> Decision:
    """:func:`validate` for namespaces in warn mode: problems are warnings, nothing is denied."""
    return validate(request, enforce=False)


def launch_refusal(user: User | None, namespace: str | None) -> str | None:
    """Why ``user`` may not create or change a HyperparamWorkflow in ``namespace``; None if they may.

    The hyperparam function creates the sweep's Workflows with its own rights, so the Workflow
    runs whatever service account, volumes and pod patches the sweep names. Whoever writes a
    sweep must therefore be someone who could have created that Workflow themselves.
    """
    if user is None:
        return (f"the AdmissionReview names no user (request.userInfo), so it cannot be checked that they may "
                f"create {argo.WORKFLOWS.display}")
    if namespace is None or not names.is_dns_label(namespace):
        return "the AdmissionReview names no namespace (request.namespace)"
    if _may_launch(user, namespace):
        return None
    return (f"user {user.username!r} may not create {argo.WORKFLOWS.display} in namespace {namespace!r}: a "
            f"HyperparamWorkflow runs its trials as a Workflow created for it, so writing one needs that right too")


def _may_launch(user: User, namespace: str) -> bool:
    """``user`` may create Workflows in ``namespace``; a yes is remembered for :data:`LAUNCH_CACHE_SECONDS`.

    As the API server's own webhook authorizer caches its answers: a sweep's every status write
    by its author would otherwise cost a SubjectAccessReview, and the webhook's latency with it.
    A no is asked again each time, so a grant takes effect at once and a revocation within seconds.
    """
    key, now = (user, namespace), time.monotonic()
    if _launch_allowed.get(key, 0.0) > now:
        return True
    if not identity.may(user, "create", argo.WORKFLOWS, namespace, timeout=REQUEST_TIMEOUT):
        return False
    if len(_launch_allowed) >= LAUNCH_CACHE_SIZE:
        _launch_allowed.clear()
    _launch_allowed[key] = now + LAUNCH_CACHE_SECONDS
    return True


def _refused(request: AdmissionRequest, reason: str, enforce: bool) -> Decision:
    """Denied for ``reason``; in warn mode, allowed with ``reason`` as the warning."""
    message = f"{request.kind or 'the object'} {_name(request)} is invalid: {reason}"
    return Decision(False, message=message) if enforce else Decision(True, warnings=admission_warnings([message]))


def _name(request: AdmissionRequest) -> str:
    metadata = as_dict((request.object or {}).get("metadata"))
    return request.name or _text(metadata.get("name")) or "(generated name)"


def _kept_problems(request: AdmissionRequest, errors: list[Problem], resolver: Resolver) -> list[Problem]:
    """The ``errors`` of an UPDATE that the stored object already had: they do not block it.

    Validation ratchets, as Kubernetes does for CRD schemas: an update is refused only for
    problems it introduces. Otherwise a Workflow that became invalid after it was stored
    (a WorkflowTemplate it uses was changed, or it predates the webhook) could no longer be
    stopped or suspended, since ``argo stop`` and ``argo suspend`` write its spec. The stored
    object is checked within a budget of its own; one too costly to check keeps nothing.
    """
    if not errors or request.operation != "UPDATE" or request.old_object is None:
        return []
    try:
        before = set(_problems(request.old_object, resolver)[0])
    except budget.TooCostly:
        return []
    return [problem for problem in errors if problem in before]


def denial_message(request: AdmissionRequest, problems: list[Problem], *, complete: bool = True) -> str:
    """The denial listing ``problems`` (the first :data:`MAX_LISTED_PROBLEMS`); ``complete`` false: there are more."""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if complete else \
        f"at least {len(problems):,} problems"
    lines = [f"{request.kind} {_name(request)} is invalid ({count}):"]
    lines += [f"  {_shown(problem)}" for problem in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        more = f"{len(problems) - MAX_LISTED_PROBLEMS}" + ("" if complete else "+")
        lines.append(f"  ... and {more} more (`argoml validate FILE` lists them all)")
    return "\n".join(lines)


def _shown(problem: Problem) -> str:
    """``problem`` as one line of a denial, its path and message each cut to a readable length."""
    message = _clip(problem.text, MAX_PROBLEM - MAX_PATH - 2)
    return f"{_clip(problem.path, MAX_PATH)}: {message}" if problem.path else message


def admission_warnings(texts: list[str]) -> list[str]:
    """``texts`` as warnings the API server passes on whole (see :data:`MAX_WARNINGS_TOTAL`)."""
    warnings = [_clip(_printable(text)) for text in texts]
    if sum(map(len, warnings)) <= MAX_WARNINGS_TOTAL:
        return warnings
    budget = MAX_WARNINGS_TOTAL - len(_not_shown(len(warnings)))
    kept: list[str] = []
    for warning in warnings:
        if len(warning) > budget:
            break
        kept.append(warning)
        budget -= len(warning)
    return [*kept, _not_shown(len(warnings) - len(kept))]


def _printable(text: str) -> str:
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def _clip(text: str, limit: int = MAX_WARNING) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _not_shown(count: int) -> str:
    plural = "s" if count != 1 else ""
    return f"{count} more warning{plural} not shown: `argoml validate` on the resource lists them all"


def mutate(request: AdmissionRequest) -> Decision:
    """Fill a HyperparamWorkflow's defaults and label it with its algorithm (argoml.hyperparam.defaults)."""
    obj = request.object
    if request.operation not in ("CREATE", "UPDATE") or obj is None or request.kind != KIND:
        return Decision(True)
    return Decision(True, patch=defaults.defaulting_patch(obj) or None)


def answer(request: AdmissionRequest, decision: Decision) -> dict[str, Any]:
    """The AdmissionReview the API server expects back, in the apiVersion it sent."""
    response: dict[str, Any] = {"uid": request.uid, "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {"code": 400, "reason": "BadRequest", "message": decision.message}
    if decision.warnings:
        response["warnings"] = decision.warnings
    if decision.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(decision.patch).encode()).decode()
    return {"apiVersion": request.api_version, "kind": "AdmissionReview", "response": response}
