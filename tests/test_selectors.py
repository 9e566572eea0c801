"""Label and field selector parsing and matching (the grammar of the Kubernetes docs)."""

from __future__ import annotations

import pytest

from argoml.errors import InvalidInput
from argoml.selectors import parse_field_selector, parse_label_selector

LABELS = {"team": "vision", "app.kubernetes.io/name": "trainer", "tier": ""}


@pytest.mark.parametrize(("selector", "matches"), [
    ("team=vision", True),
    ("team = vision", True),
    ("team!=vision", False),
    ("missing!=x", True),
    ("app.kubernetes.io/name in (trainer,server)", True),
    ("app.kubernetes.io/name notin (trainer)", False),
    ("missing notin (x)", True),
    ("team,!missing", True),
    ("!team", False),
    ("tier=", True),
    ("team=vision,tier in (a, b)", False),
    ("", True),
])
def test_label_selector_matching(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(("selector", "message"), [
    ("team=vision,", "empty term"),
    ("Team Name=x", "not a valid label key"),
    ("team=has space", "not a valid label key"),
    ("team=bad/value", "'bad/value' is not a valid label value"),
    ("-team=x", "'-team' is not a valid label key"),
    ("team in (a,b c)", "not a valid label value"),
])
def test_malformed_label_selectors_name_the_term(selector: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_label_selector(selector)


def test_field_selectors_compare_dotted_paths() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ml"}, "status": {"phase": "Succeeded"}}
    assert parse_field_selector("metadata.namespace=ml,status.phase!=Running")(pod)
    assert not parse_field_selector("status.phase==Running")(pod)
    assert parse_field_selector("spec.nodeName=")(pod)


def test_malformed_field_selector_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"term 'status\.phase': expected field=value"):
        parse_field_selector("status.phase")
