"""Which event senders the gc function accepts (Knative Eventing's OIDC sender authentication).

With OIDC on, a source sends ``Authorization: Bearer <token>`` issued for its sink's
audience. With ``EVENT_AUDIENCE`` set, the function accepts only a token valid for that
audience whose user is one of ``EVENT_SENDERS`` (the sources' OIDC ServiceAccounts): 401
otherwise, 403 for another sender. Unset, events are not authenticated (the function is
cluster-local).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from argoml import identity
from argoml.errors import Forbidden

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
    user = identity.authenticate(authorization, policy.audience)
    if user.username not in policy.senders:
        raise Forbidden(f"{user.username!r} may not send events to this function "
                        f"(allowed: {', '.join(sorted(policy.senders))})")
