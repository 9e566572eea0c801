"""The page's login: a short-lived, signed session cookie that holds who the user is, never their token.

A browser cannot send ``Authorization`` when it opens TensorBoard through the proxy (a link, an
iframe, TensorBoard's own requests), so the page offers a token login: ``POST /session`` with
``{"token": ...}``; the token is checked once with a TokenReview and dropped, and the answer sets
a cookie holding the identity the review named (user, groups, uid, extra) and an expiry, signed
with HMAC-SHA256. Every request that carries it is still authorized afresh (SubjectAccessReview,
:mod:`argoml.tensorboard.access`), so a right withdrawn stops working at once; the cookie only
spares the token.

The cookie is ``HttpOnly`` (no script reads it), ``Secure``, ``SameSite=Strict`` and scoped to
``/tensorboards/``. Its keys come from ``TENSORBOARD_SESSION_KEYS`` (from a Secret: one or more keys
of at least 32 characters, separated by commas or whitespace): the first signs, all verify, so a key
is rotated by putting the new one first and dropping the old one a session lifetime later
(``TENSORBOARD_SESSION_SECONDS``, default 900, at most 43200). Without keys, the login is refused
and only bearer tokens work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from argoml.identity import User

COOKIE = "argoml-tensorboard-session"
COOKIE_PATH = "/tensorboards/"
KEYS_ENV = "TENSORBOARD_SESSION_KEYS"
SECONDS_ENV = "TENSORBOARD_SESSION_SECONDS"
MIN_KEY_LENGTH = 32
MAX_SECONDS = 12 * 3600
MAX_COOKIE = 3800  # browsers keep 4096 bytes per cookie, name and attributes included
_VERSION = "v1"
_SHAPE = re.compile(r"^v1\.[A-Za-z0-9_-]{1,5000}\.[A-Za-z0-9_-]{43}$")


class SessionTooLarge(ValueError):
    """The identity does not fit in a cookie (hundreds of groups)."""


@dataclass(frozen=True)
class Sessions:
    """Issues and reads session cookies with ``keys`` (the first signs)."""

    keys: tuple[bytes, ...]
    seconds: int = 900
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    @classmethod
    def from_env(cls) -> Sessions | None:
        keys = tuple(k.encode() for k in re.split(r"[,\s]+", os.environ.get(KEYS_ENV, "")) if k)
        if not keys:
            return None
        if short := [i for i, key in enumerate(keys) if len(key) < MIN_KEY_LENGTH]:
            raise ValueError(f"{KEYS_ENV}: key {short[0] + 1} is shorter than {MIN_KEY_LENGTH} characters "
                             "(use e.g. `openssl rand -hex 32`)")
        seconds = int(os.environ.get(SECONDS_ENV, "").strip() or 900)
        if not 60 <= seconds <= MAX_SECONDS:
            raise ValueError(f"{SECONDS_ENV} must be between 60 and {MAX_SECONDS}")
        return cls(keys, seconds)

    def issue(self, caller: User) -> tuple[str, int]:
        """A cookie value for ``caller`` and the time (epoch seconds) it expires."""
        expires = int(self.clock()) + self.seconds
        claims = {"u": caller.username, "g": list(caller.groups), "i": caller.uid,
                  "x": {key: list(values) for key, values in caller.extra}, "e": expires}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        value = f"{_VERSION}.{payload}.{_b64(self._sign(self.keys[0], payload))}"
        if len(value) > MAX_COOKIE:
            raise SessionTooLarge(f"the identity of {caller.username!r} ({len(caller.groups)} groups) is too large "
                                  "for a session cookie; send the bearer token with each request instead")
        return value, expires

    def read(self, value: str | None) -> User | None:
        """The caller a cookie names, or ``None`` if it is absent, forged, damaged or expired."""
        if not value or not _SHAPE.match(value):
            return None
        _, payload, signature = value.split(".")
        given = _unb64(signature)
        if not any(hmac.compare_digest(given, self._sign(key, payload)) for key in self.keys):
            return None
        try:
            claims = json.loads(_unb64(payload))
            expires, username = claims["e"], claims["u"]
            groups, uid, extra = claims["g"], claims["i"], claims["x"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(expires, int) or expires <= self.clock() or not isinstance(username, str) or not username:
            return None
        return User(username, tuple(groups), uid, tuple(sorted((k, tuple(v)) for k, v in extra.items())))

    @staticmethod
    def _sign(key: bytes, payload: str) -> bytes:
        return hmac.new(key, f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
