"""Reading a JSON body someone else sent: bounded depth, UTF-8 only, numbers Kubernetes can hold.

Every function reads untrusted JSON (CloudEvents, AdmissionReviews). Python's ``json`` gives up
around a thousand levels with a ``RecursionError``, reads ``1e400`` as ``inf`` and accepts
``NaN``, and our own code recurses with the document, so each of these would otherwise be a 500
somewhere downstream. :func:`loads` answers all of them at the boundary as
:class:`~argoml.errors.InvalidInput` (a 400): the text is UTF-8, nests at most
:data:`MAX_DEPTH` levels, and every number fits a float64, as the API server itself requires
(it decodes objects into int64/float64 and refuses what does not fit).

The admission webhook must answer even such a body with an AdmissionReview (a 400 counts as a
webhook failure, which ``failurePolicy: Ignore`` turns into an admission), so it reads with
:func:`read`, which never raises for depth or range: it cuts what lies deeper than the limit
(to ``null``) and reports what it cut or found out of range, for the webhook to deny.

Depth is counted in objects and arrays: ``{"a": [1]}`` is two levels deep.

:mod:`argoml.jsonread` is the other reader, for the API server's answers: there a list of
objects that users wrote is read whole but for the objects it cuts, each kept with its
reason; a request body here is taken or refused as one.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
import sys
from dataclasses import dataclass
from typing import Any

from argoml.errors import InvalidInput

# Argo's whole examples corpus nests at most 12 levels; Kubernetes objects rarely pass 20.
MAX_DEPTH = 100
# float64's largest finite value has 309 integer digits: a shorter integer always fits.
_LONG_INTEGER = re.compile(r"\d{309}")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|[\[\]{}]', re.DOTALL)
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # minus one: +1 opens a level, -1 closes one
_FLOAT_MAX = int(sys.float_info.max)


@dataclass(frozen=True)
class Body:
    """A body as :func:`read` found it; ``value`` is whole only when ``truncated`` and ``out_of_range`` are empty."""

    value: Any
    truncated: bool = False
    out_of_range: tuple[str, ...] = ()  # the number literals beyond float64, as written

    @property
    def problem(self) -> str | None:
        """Why this body cannot be taken as it is; None when it can."""
        if self.truncated:
            return f"nested more than {MAX_DEPTH} levels deep"
        if self.out_of_range:
            shown = self.out_of_range[0] if len(self.out_of_range[0]) <= 40 else self.out_of_range[0][:37] + "..."
            return f"the number {shown} is beyond the range a Kubernetes object can hold (float64)"
        return None


def loads(data: bytes | str, what: str = "the body", *, envelope: int = 0) -> Any:
    """``data`` decoded; :class:`InvalidInput` naming the problem when it is not JSON we can take.

    ``envelope`` levels of wrapping (a structured CloudEvent's own object) are allowed on top
    of :data:`MAX_DEPTH`.
    """
    body = read(data, what, envelope=envelope)
    if body.problem:
        raise InvalidInput(f"{what} is malformed: {body.problem}")
    return body.value


def read(data: bytes | str, what: str = "the body", *, envelope: int = 0) -> Body:
    """Decode ``data``, cutting what nests deeper than ``MAX_DEPTH + envelope`` levels.

    Raises :class:`InvalidInput` only when ``data`` is not UTF-8 or not JSON at all.
    """
    text = _text(data, what)
    limit = MAX_DEPTH + envelope
    out_of_range: list[str] = []
    try:
        value = _decode(text, out_of_range, what)
    except RecursionError:
        value = None
    else:
        if depth(text, limit) <= limit:
            return Body(value, out_of_range=tuple(out_of_range))
    out_of_range.clear()
    try:
        value = _decode(_cut(text, limit), out_of_range, f"{what} (below {limit} levels)")
    except RecursionError:  # the cut text nests at most `limit` levels: only broken JSON gets here
        raise InvalidInput(f"{what} is not JSON") from None
    return Body(value, truncated=True, out_of_range=tuple(out_of_range))


def _text(data: bytes | str, what: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not UTF-8: byte {exc.start} is {data[exc.start:exc.start + 1]!r}") from None


def _decode(text: str, out_of_range: list[str], what: str) -> Any:
    def number(literal: str) -> float | str:
        value = float(literal)
        if math.isfinite(value):
            return value
        out_of_range.append(literal)
        return literal

    def integer(literal: str) -> int | str:
        value = int(literal)
        if abs(value) <= _FLOAT_MAX:
            return value
        out_of_range.append(literal)
        return literal

    def constant(literal: str) -> str:
        raise ValueError(f"{literal} is not a JSON value")

    extra: dict[str, Any] = {"parse_int": integer} if _LONG_INTEGER.search(text) else {}
    try:
        return json.loads(text, parse_float=number, parse_constant=constant, **extra)
    except ValueError as exc:
        raise InvalidInput(f"{what} is not JSON: {exc}") from None


def depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep valid JSON ``text`` nests (exact once past ``limit``; ``limit`` when it cannot pass
    it), in a few passes of C code.

    In valid JSON a backslash only starts an escape inside a string, so without the escapes every
    other piece between quotes is outside the strings; there the brackets' running sum is the depth.
    """
    if text.count("[") + text.count("{") <= limit:
        return limit  # cannot nest deeper than it has brackets
    unescaped = _ESCAPE.sub("", text) if '\\"' in text or "\\\\" in text else text
    outside = "".join(unescaped.split('"')[::2]).encode()
    steps = outside.translate(_STEPS, _NOT_BRACKETS)
    return max(itertools.accumulate(map(operator.sub, steps, itertools.repeat(1))), default=0)


def _cut(text: str, limit: int) -> str:
    """``text`` with every object or array below ``limit`` levels replaced by ``null``."""
    out: list[str] = []
    depth, copied, skipping_from = 0, 0, -1
    for token in _TOKEN.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth == limit + 1 and skipping_from < 0:
                out.append(text[copied:token.start()])
                out.append("null")
                skipping_from = token.start()
        elif char in "]}":
            if depth == limit + 1 and skipping_from >= 0:
                skipping_from, copied = -1, token.end()
            depth -= 1
    if skipping_from < 0:
        out.append(text[copied:])
    return "".join(out)
