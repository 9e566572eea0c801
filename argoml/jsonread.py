"""Reading JSON the API server sends within bounds: bytes held, and any nesting depth.

Objects users write may be large (a sweep's megabyte of node status) or nested far
deeper than anything Argo writes (the API server accepts 10,000 levels; Python's
``json`` stops near 1,000; Argo's Workflow CRD has no status subresource, so anyone who
may update a Workflow writes its status). :func:`read_bounded` reads a streamed answer
only up to a number of bytes; :func:`decode` parses with the C parser, and for a text nested
deeper than :data:`~argoml.jsonbody.MAX_DEPTH` (the one depth rule for untrusted JSON, owned by
:mod:`argoml.jsonbody`) with a parser without recursion that cuts every value off below it
and returns each object it cut as :class:`Malformed`, so that the caller can skip it with
the reason instead of failing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from argoml.jsonbody import MAX_DEPTH, depth

CHUNK = 256 * 1024


class Malformed(dict[str, Any]):
    """An object that could not be read whole: what could be read, and ``reason``."""

    reason = f"nested more than {MAX_DEPTH} levels deep"


def read_bounded(response: Any, limit: int) -> bytearray | None:
    """The body of a streamed urllib3 ``response``, or ``None`` (connection closed) if it exceeds ``limit`` bytes."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        response.close()
        return None
    body = bytearray()
    for chunk in response.stream(CHUNK, decode_content=True):
        body += chunk
        if len(body) > limit:
            response.close()
            return None
    response.release_conn()
    return body


def decode(body: bytes | bytearray) -> Any:
    """``body`` as JSON; objects nested more than :data:`MAX_DEPTH` levels deep come back cut and :class:`Malformed`."""
    text = bytes(body).decode()
    return json.loads(text) if depth(text) <= MAX_DEPTH else _Cutter(text).value()


_TOKEN = re.compile(r'\s*(?:("[^"\\]*(?:\\.[^"\\]*)*")|([\[\]{},:])|(true|false|null|-?(?:0|[1-9]\d*)'
                    r'(?:\.\d+)?(?:[eE][+-]?\d+)?))', re.DOTALL)
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


class _Frame:
    __slots__ = ("container", "cut", "key")

    def __init__(self, container: dict[str, Any] | list[Any]) -> None:
        self.container, self.key, self.cut = container, None, False


class _Cutter:
    """A JSON parser on an explicit stack: values deeper than MAX_DEPTH are skipped, their ancestors marked."""

    def __init__(self, text: str) -> None:
        self.text = text

    def value(self) -> Any:
        stack: list[_Frame] = []
        skipping = 0  # depth inside a skipped value
        result: Any = None
        done = False
        position, end = 0, len(self.text)
        while True:
            match = _TOKEN.match(self.text, position)
            if match is None:
                if self.text[position:].strip() or not done:
                    raise ValueError(f"not JSON at character {position}")
                return result
            position = match.end()
            string, punctuation, literal = match.groups()
            if skipping:
                skipping += {"[": 1, "{": 1, "]": -1, "}": -1}.get(punctuation or "", 0)
                if not skipping:
                    self._put(stack, _CUT)
                continue
            if punctuation in ("[", "{"):
                if len(stack) >= MAX_DEPTH:
                    skipping = 1
                    for frame in stack:
                        frame.cut = True
                    continue
                stack.append(_Frame({} if punctuation == "{" else []))
            elif punctuation in ("]", "}"):
                if not stack:
                    raise ValueError(f"unbalanced {punctuation} at character {position}")
                frame = stack.pop()
                value = Malformed(frame.container) if frame.cut and isinstance(frame.container, dict) \
                    else frame.container
                if stack:
                    self._put(stack, value)
                else:
                    result, done = value, True
            elif punctuation in (",", ":"):
                continue
            else:
                value = json.loads(string) if string is not None else \
                    _LITERALS[literal] if literal in _LITERALS else json.loads(literal)
                top = stack[-1] if stack else None
                if top is not None and isinstance(top.container, dict) and top.key is None:
                    top.key = value
                elif top is not None:
                    self._put(stack, value)
                else:
                    result, done = value, True
            if position >= end and done:
                return result

    @staticmethod
    def _put(stack: list[_Frame], value: Any) -> None:
        top = stack[-1]
        if isinstance(top.container, dict):
            top.container[str(top.key)] = value
            top.key = None
        else:
            top.container.append(value)


_CUT = "<cut: nested too deep>"
