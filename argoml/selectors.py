"""Kubernetes label and field selectors: parsing with clear errors, and matching.

The GC policy carries a label selector that must be rejected with a message when
it is malformed (before anything is deleted), and the local API emulator must
filter lists the way the API server does; both use this one implementation of the
grammar in the Kubernetes documentation ("Labels and Selectors").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argoml.errors import InvalidInput
from argoml.names import LABEL_NAME

_KEY = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{LABEL_NAME}")
_VALUE = re.compile(rf"({LABEL_NAME})?")
_SET_OPERATORS = {"in", "notin"}


@dataclass(frozen=True)
class Requirement:
    """One comma-separated term: ``key``, ``!key``, ``key=v``, ``key!=v``, ``key in (a,b)`` ..."""

    key: str
    operator: str  # exists, !exists, =, !=, in, notin
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.operator:
            case "exists":
                return present
            case "!exists":
                return not present
            case "=" | "in":
                return present and labels[self.key] in self.values
            case _:  # "!=" and "notin" also match objects without the label
                return not present or labels[self.key] not in self.values


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]
    text: str

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(req.matches(labels or {}) for req in self.requirements)

    def __str__(self) -> str:
        return self.text


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``text``; raises :class:`InvalidInput` naming the bad term."""
    return LabelSelector(tuple(_requirement(term) for term in _split_terms(text)), text.strip())


def _split_terms(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip() or terms:
        terms.append(current.strip())
    if any(not term for term in terms):
        raise InvalidInput(f"label selector {text!r}: empty term")
    return terms


_SET_TERM = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY_TERM = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def _requirement(term: str) -> Requirement:
    if match := _SET_TERM.match(term):
        values = tuple(v.strip() for v in match["values"].split(","))
        requirement = Requirement(match["key"], match["op"], values)
    elif match := _EQUALITY_TERM.match(term):
        operator = "!=" if match["op"] == "!=" else "="
        requirement = Requirement(match["key"], operator, (match["value"],))
    elif term.startswith("!"):
        requirement = Requirement(term[1:].strip(), "!exists")
    else:
        requirement = Requirement(term, "exists")
    if not _KEY.fullmatch(requirement.key) or len(requirement.key.rpartition("/")[0]) > 253:
        raise InvalidInput(f"label selector term {term!r}: {requirement.key!r} is not a valid label key")
    for value in requirement.values:
        if not _VALUE.fullmatch(value):
            raise InvalidInput(f"label selector term {term!r}: {value!r} is not a valid label value")
    return requirement


_FIELD_TERM = re.compile(r"^(?P<path>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)$")


def parse_field_selector(text: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate for ``metadata.name=x,status.phase!=Running`` style field selectors."""
    checks: list[tuple[list[str], bool, str]] = []
    for term in (t.strip() for t in text.split(",") if t.strip()):
        match = _FIELD_TERM.match(term)
        if not match:
            raise InvalidInput(f"field selector term {term!r}: expected field=value or field!=value")
        checks.append((match["path"].split("."), match["op"] != "!=", match["value"]))

    def predicate(obj: Mapping[str, Any]) -> bool:
        return all((_lookup(obj, path) == value) is wanted for path, wanted, value in checks)

    return predicate


def _lookup(obj: Mapping[str, Any], path: list[str]) -> str:
    value: Any = obj
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)
