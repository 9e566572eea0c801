"""Who may call a function: the caller's own Kubernetes identity decides.

**tensorboard.**
The caller sends a bearer token (``Authorization: Bearer <token>``, e.g. from
``kubectl create token``); a TokenReview tells who it belongs to (401 if nobody), and a
SubjectAccessReview whether that user may ``get`` ``workflows.argoproj.io`` in the
namespace asked about (403 if not): whoever can read a workflow may look at its logs.
An optional allow-list of namespaces narrows this further. For local development
``TENSORBOARD_AUTH=off`` turns the whole check off; the function then says so, loudly,
in its log at start and on every request.

**Events (gc).** With Knative Eventing's OIDC sender authentication on, a source sends
``Authorization: Bearer <token>`` issued for its sink's audience. With ``EVENT_AUDIENCE``
set, the event functions accept only a token valid for that audience whose user is one of
``EVENT_SENDERS`` (the sources' OIDC ServiceAccounts): 401 otherwise, 403 for another
sender. Unset, events are not authenticated (the function is cluster-local).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

from argoml import kube
from argoml.errors import Forbidden, Unauthenticated

log = logging.getLogger("argoml.auth")

AUTH_ENV = "TENSORBOARD_AUTH"
NAMESPACES_ENV = "TENSORBOARD_NAMESPACES"


@dataclass(frozen=True)
class Caller:
    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class AccessPolicy:
    enabled: bool = True
    namespaces: frozenset[str] | None = None  # None: any namespace

    @classmethod
    def from_env(cls) -> AccessPolicy:
        setting = os.environ.get(AUTH_ENV, "on").strip().lower()
        if setting not in ("on", "off"):
            raise ValueError(f"{AUTH_ENV} must be 'on' or 'off', not {setting!r}")
        listed = {ns.strip() for ns in os.environ.get(NAMESPACES_ENV, "").split(",") if ns.strip()}
        policy = cls(enabled=setting == "on", namespaces=frozenset(listed) if listed else None)
        if not policy.enabled:
            _warn_disabled()
        return policy


DISABLED_WARNING = (f"AUTHENTICATION IS OFF ({AUTH_ENV}=off): anyone who reaches this function can spawn and stop "
                    "TensorBoards for any workflow it can read. For local development only; never deploy this.")


@functools.cache
def _warn_disabled() -> None:
    log.warning("*" * 100)
    log.warning(DISABLED_WARNING)
    log.warning("*" * 100)


def authorize(authorization: str | None, namespace: str, policy: AccessPolicy) -> Caller | None:
    """Check the caller of a request about ``namespace``; ``None`` when the check is off.

    The caller is authenticated before the allow-list is consulted, so that only someone the
    cluster knows learns which namespaces the function serves.
    """
    caller = authenticate(authorization) if policy.enabled else None
    if policy.namespaces is not None and namespace not in policy.namespaces:
        raise Forbidden(f"namespace {namespace!r} is not served by this function "
                        f"(allowed: {', '.join(sorted(policy.namespaces))})")
    if caller is None:
        log.warning("request for namespace %s NOT AUTHENTICATED: %s=off", namespace, AUTH_ENV)
        return None
    if not may_get_workflows(caller, namespace):
        raise Forbidden(f"user {caller.username!r} may not get workflows.argoproj.io in namespace {namespace!r}")
    return caller


def authenticate(authorization: str | None, audience: str | None = None) -> Caller:
    """The user a bearer token belongs to (valid for ``audience`` when given, else the API server's)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send a Kubernetes bearer token: 'Authorization: Bearer <token>'")
    spec: dict[str, object] = {"token": token.strip()}
    if audience:
        spec["audiences"] = [audience]
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    with kube.upstream("reviewing the caller's token"):
        status = kube.auth_v1().create_token_review(review).status
    if not status or not status.authenticated or not status.user:
        raise Unauthenticated("the bearer token was not accepted by the Kubernetes API server"
                              + (f" for audience {audience!r}" if audience else ""))
    if audience and audience not in (status.audiences or ()):
        raise Unauthenticated(f"the bearer token is not valid for audience {audience!r}")
    user = status.user
    extra = tuple(sorted((k, tuple(v)) for k, v in (user.extra or {}).items()))
    return Caller(user.username or "", tuple(user.groups or ()), user.uid or "", extra)


def may_get_workflows(caller: Caller, namespace: str) -> bool:
    spec: dict[str, object] = {"user": caller.username, "groups": list(caller.groups),
                               "resourceAttributes": {"namespace": namespace, "verb": "get", "group": "argoproj.io",
                                                      "resource": "workflows"}}
    if caller.uid:
        spec["uid"] = caller.uid
    if caller.extra:
        spec["extra"] = {key: list(values) for key, values in caller.extra}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    with kube.upstream("checking the caller's access to workflows"):
        status = kube.authz_v1().create_subject_access_review(review).status
    return bool(status and status.allowed)


AUDIENCE_ENV = "EVENT_AUDIENCE"
SENDERS_ENV = "EVENT_SENDERS"


@dataclass(frozen=True)
class SenderPolicy:
    """Which event senders an event function accepts; ``audience`` None: no check."""

    audience: str | None = None
    senders: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls) -> SenderPolicy:
        audience = os.environ.get(AUDIENCE_ENV, "").strip() or None
        senders = frozenset(s.strip() for s in os.environ.get(SENDERS_ENV, "").split(",") if s.strip())
        if audience and not senders:
            raise ValueError(f"{AUDIENCE_ENV} is set but {SENDERS_ENV} is empty: anyone able to mint a token for "
                             "that audience could send events; list the sources' OIDC ServiceAccounts")
        return cls(audience, senders)


def check_sender(authorization: str | None, policy: SenderPolicy) -> None:
    """Refuse an event whose sender is not one of the policy's (no check without an audience)."""
    if policy.audience is None:
        return
    caller = authenticate(authorization, policy.audience)
    if caller.username not in policy.senders:
        raise Forbidden(f"{caller.username!r} may not send events to this function "
                        f"(allowed: {', '.join(sorted(policy.senders))})")
