"""A bound on the work one validation may cost, so that no resource can hold the webhook.

Each check is linear in what it reads, but the rules read parts of a workflow more than once
(every template's variables, in every scope that calls it), so a large enough document can
still cost seconds. The walkers that do the reading (:mod:`.structure`, :mod:`.variables`)
:func:`spend` one unit per value visited; past the budget a :class:`TooCostly` ends the
validation, and the resource is reported as too large to validate rather than waited on.
Problems are counted too (:func:`found`): past :data:`MAX_PROBLEMS`, :class:`TooManyProblems`
ends the validation with those found, which are plenty to deny with.

The budget lives in a context variable set by :func:`limited`, so the rules need no extra
argument and a validation without a budget (the ``argoml validate`` CLI, on one's own
files) is unbounded.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argoml.validation.report import Problem

# Values visited (and path segments built). The 100-template DAG of `make bench` costs about
# 5k units and 30 ms, Argo's costliest example about 1k: this is some fifty times the DAG.
DEFAULT_UNITS = 250_000


# Problems found (errors and warnings) before a validation stops: a denial lists 50, and a
# document with a hundred thousand bad references would spend seconds on the rest.
MAX_PROBLEMS = 1_000


class TooManyProblems(Exception):
    """The validation found :data:`MAX_PROBLEMS` problems and stopped; ``problems`` are those found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems):,} problems found; stopped looking for more")
        self.problems = problems


class TooCostly(Exception):
    """The validation spent its whole budget."""

    def __init__(self, units: int) -> None:
        super().__init__(f"too large to validate: it needs more than {units:,} steps of checking (a workflow of "
                         "thousands of templates or values, or one read many times over); split it, or move "
                         "repeated parts into WorkflowTemplates")
        self.units = units


class _Budget:
    __slots__ = ("left", "problems", "units")

    def __init__(self, units: int) -> None:
        self.units = self.left = units
        self.problems = 0


_current: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("argoml_validation_budget", default=None)


@contextmanager
def limited(units: int = DEFAULT_UNITS) -> Iterator[None]:
    """Validation inside this block may :func:`spend` at most ``units``; then :class:`TooCostly`."""
    token = _current.set(_Budget(units))
    try:
        yield
    finally:
        _current.reset(token)


def spend(units: int = 1) -> None:
    budget = _current.get()
    if budget is not None:
        budget.left -= units
        if budget.left < 0:
            raise TooCostly(budget.units)


def found(problems: list[Problem]) -> None:
    """A report now holds ``problems``, one more than before: stop at :data:`MAX_PROBLEMS`."""
    budget = _current.get()
    if budget is not None:
        budget.problems += 1
        if budget.problems >= MAX_PROBLEMS:
            raise TooManyProblems(problems)


def spent() -> int:
    """Units spent so far in the current :func:`limited` block (0 outside one)."""
    budget = _current.get()
    return budget.units - budget.left if budget is not None else 0
