"""What validation found: a :class:`Report` of :class:`Problem` values, each at a field path.

A problem's ``path`` locates the offending field in the submitted document
(``spec.templates[2].dag.tasks[0].template``); its ``message`` is worded as Argo words it
where Argo has a message, so users who know ``argo lint`` recognise it; its ``hint``, when
there is one, names the probable fix (``did you mean "parallelism"?``) beside Argo's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from argoml.validation import budget

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    severity: Severity = "error"
    hint: str = ""

    @property
    def text(self) -> str:
        """The message with its hint."""
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __str__(self) -> str:
        return f"{self.path}: {self.text}" if self.path else self.text


@dataclass
class Report:
    """Every problem of one resource, in the order found (errors and warnings together)."""

    problems: list[Problem] = field(default_factory=list)
    _seen: set[Problem] = field(default_factory=set, init=False, repr=False, compare=False)

    def error(self, path: str, message: str, hint: str = "") -> None:
        self._add(Problem(path, message, "error", hint))

    def warning(self, path: str, message: str, hint: str = "") -> None:
        self._add(Problem(path, message, "warning", hint))

    def __post_init__(self) -> None:
        self._seen = set(self.problems)

    def _add(self, problem: Problem) -> None:
        if problem not in self._seen:
            self._seen.add(problem)
            self.problems.append(problem)
            budget.found(self.problems)

    def discard(self, unwanted: Callable[[Problem], bool]) -> None:
        """Drop every problem ``unwanted`` picks."""
        self.problems = [p for p in self.problems if not unwanted(p)]
        self._seen = set(self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors
