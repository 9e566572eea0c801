"""Who may do what with a workflow's TensorBoard: the caller's own Kubernetes rights decide.

A caller is identified by a bearer token (``Authorization: Bearer <token>``, e.g. from
``kubectl create token``; a TokenReview says whose it is) or by the session cookie the page's
token login set (:mod:`argoml.tensorboard.session`). What the caller may do is asked of the API
server with a SubjectAccessReview carrying the caller's whole identity (user, groups, uid, extra):

- reading (the listing, an instance's state, every request through the proxy) and starting
  an instance (PUT): ``get`` ``workflows.argoproj.io`` in the namespace, since whoever may read
  a workflow may look at its logs, and a start is idempotent and bounded (one instance per
  workflow, scaled to zero when idle);
- stopping one (DELETE), which takes it away from everyone looking at it: ``delete`` on what it
  deletes (``services.serving.knative.dev``, or ``deployments.apps`` in Deployment mode) or
  ``create`` ``workflows.argoproj.io`` (whoever may run workflows there may run this one).

The proxy asks on every request; a yes (and an accepted token) is remembered for a few seconds
at most (``TENSORBOARD_AUTH_CACHE_SECONDS``, default 5, at most 10), in a bounded table, so a
page of TensorBoard's many small requests costs a review or two, and a revoked right stops
working within that time; a no is never remembered, so a right just granted works at once. ``TENSORBOARD_NAMESPACES``
narrows the namespaces served; ``TENSORBOARD_AUTH=off`` turns the check off for local
development, and the function then says so, loudly, at start and on every request.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from argoml import argo, identity, kube
from argoml.errors import Forbidden, Unauthenticated
from argoml.identity import User

log = logging.getLogger("argoml.tensorboard.access")

AUTH_ENV = "TENSORBOARD_AUTH"
NAMESPACES_ENV = "TENSORBOARD_NAMESPACES"
CACHE_SECONDS_ENV = "TENSORBOARD_AUTH_CACHE_SECONDS"
MAX_CACHE_SECONDS = 10.0
V = TypeVar("V")


@dataclass(frozen=True)
class Permission:
    """A verb on a kind of resource, as a SubjectAccessReview asks about it."""

    verb: str
    resource: kube.Resource

    def __str__(self) -> str:
        return f"{self.verb} {self.resource.display}"


READ_WORKFLOWS = Permission("get", argo.WORKFLOWS)
CREATE_WORKFLOWS = Permission("create", argo.WORKFLOWS)
DELETE_INSTANCE = {"knative": Permission("delete", kube.KNATIVE_SERVICES),
                   "deployment": Permission("delete", kube.DEPLOYMENTS)}


class Recent(Generic[V]):
    """A bounded table of answers that are good for ``seconds`` (least recently used entries go first)."""

    def __init__(self, seconds: float, size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V], keep: Callable[[V], bool] = lambda _: True) -> V:
        """The remembered answer for ``key``, or ``compute()``'s (remembered if ``keep`` says so)."""
        if self.seconds <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                return entry[1]
        value = compute()
        if not keep(value):
            return value
        with self._lock:
            self._entries[key] = (now + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


@dataclass
class AccessPolicy:
    """How callers are checked: on or off, which namespaces are served, how long answers are remembered."""

    enabled: bool = True
    namespaces: frozenset[str] | None = None  # None: any namespace
    cache_seconds: float = 5.0
    _reviews: Recent[bool] = field(init=False, repr=False)
    _tokens: Recent[User | str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reviews = Recent(self.cache_seconds)
        self._tokens = Recent(self.cache_seconds)

    @classmethod
    def from_env(cls) -> AccessPolicy:
        setting = os.environ.get(AUTH_ENV, "on").strip().lower()
        if setting not in ("on", "off"):
            raise ValueError(f"{AUTH_ENV} must be 'on' or 'off', not {setting!r}")
        listed = {ns.strip() for ns in os.environ.get(NAMESPACES_ENV, "").split(",") if ns.strip()}
        seconds = float(os.environ.get(CACHE_SECONDS_ENV, "").strip() or 5)
        if not 0 <= seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"{CACHE_SECONDS_ENV} must be between 0 and {MAX_CACHE_SECONDS:g} seconds")
        policy = cls(enabled=setting == "on", namespaces=frozenset(listed) if listed else None,
                     cache_seconds=seconds)
        if not policy.enabled:
            _warn_disabled()
        return policy

    def authenticate(self, authorization: str | None) -> User:
        """The user a bearer token belongs to (401 if none), remembered for a few seconds by the token's hash."""
        key = hashlib.sha256((authorization or "").encode("utf-8", "surrogateescape")).digest()
        caller = self._tokens.get(key, lambda: _accepted(authorization), keep=lambda c: isinstance(c, User))
        if isinstance(caller, str):
            raise Unauthenticated(caller)
        return caller

    def authorize(self, caller: User | None, namespace: str, *anyof: Permission) -> None:
        """Refuse (403) unless ``caller`` has one of ``anyof`` in ``namespace``; ``None`` when the check is off.

        The allow-list is consulted only for an authenticated caller, so that only someone the cluster
        knows learns which namespaces the function serves.
        """
        if self.namespaces is not None and namespace not in self.namespaces:
            raise Forbidden(f"namespace {namespace!r} is not served by this function "
                            f"(allowed: {', '.join(sorted(self.namespaces))})")
        if caller is None:
            log.warning("request for namespace %s NOT AUTHENTICATED: %s=off", namespace, AUTH_ENV)
            return
        for permission in anyof:
            def review(user: User = caller, p: Permission = permission) -> bool:
                return identity.may(user, p.verb, p.resource, namespace)

            if self._reviews.get((caller, namespace, permission), review, keep=bool):
                return
        rights = " or ".join(map(str, anyof))
        raise Forbidden(f"user {caller.username!r} may not {rights} in namespace {namespace!r}")


def _accepted(authorization: str | None) -> User | str:
    """The token's caller, or why it is refused (remembered like a success: a bad token costs one review)."""
    try:
        return identity.authenticate(authorization)
    except Unauthenticated as exc:
        return exc.message


DISABLED_WARNING = (f"AUTHENTICATION IS OFF ({AUTH_ENV}=off): anyone who reaches this function can spawn and stop "
                    "TensorBoards, and open any of them, for any workflow it can read. For local development only; "
                    "never deploy this.")


@functools.cache
def _warn_disabled() -> None:
    log.warning("*" * 100)
    log.warning(DISABLED_WARNING)
    log.warning("*" * 100)
