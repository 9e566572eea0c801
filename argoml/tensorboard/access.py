"""Who may use the tensorboard function: whoever may read the workflow may look at its logs.

The caller sends a bearer token (``Authorization: Bearer <token>``, e.g. from
``kubectl create token``); a TokenReview tells who it belongs to (401 if nobody), and a
SubjectAccessReview whether that user may ``get`` ``workflows.argoproj.io`` in the
namespace asked about (403 if not). An optional allow-list of namespaces narrows this
further. For local development ``TENSORBOARD_AUTH=off`` turns the whole check off; the
function then says so, loudly, in its log at start and on every request.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

from argoml import argo, identity
from argoml.errors import Forbidden

log = logging.getLogger("argoml.tensorboard.access")

AUTH_ENV = "TENSORBOARD_AUTH"
NAMESPACES_ENV = "TENSORBOARD_NAMESPACES"


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


def authorize(authorization: str | None, namespace: str, policy: AccessPolicy) -> identity.User | None:
    """Check the caller of a request about ``namespace``; ``None`` when the check is off.

    The caller is authenticated before the allow-list is consulted, so that only someone the
    cluster knows learns which namespaces the function serves.
    """
    user = identity.authenticate(authorization) if policy.enabled else None
    if policy.namespaces is not None and namespace not in policy.namespaces:
        raise Forbidden(f"namespace {namespace!r} is not served by this function "
                        f"(allowed: {', '.join(sorted(policy.namespaces))})")
    if user is None:
        log.warning("request for namespace %s NOT AUTHENTICATED: %s=off", namespace, AUTH_ENV)
        return None
    if not identity.may(user, "get", argo.WORKFLOWS, namespace):
        raise Forbidden(f"user {user.username!r} may not get {argo.WORKFLOWS.display} in namespace {namespace!r}")
    return user
