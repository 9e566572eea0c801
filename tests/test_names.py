"""Kubernetes name rules, shared by every module that takes a name from a caller."""

from __future__ import annotations

import pytest

from argoml.names import is_dns_label, is_dns_subdomain, is_label_value


@pytest.mark.parametrize(("value", "label", "subdomain"), [
    ("ml-team", True, True),
    ("a" * 63, True, True),
    ("a" * 64, False, True),
    ("tb.train", False, True),
    ("a" * 254, False, False),
    ("Upper", False, False),
    ("-leading", False, False),
    ("ml\n", False, False),  # a trailing newline passes a `$` anchor, not fullmatch
    ("", False, False),
    (None, False, False),
])
def test_dns_names(value: object, label: bool, subdomain: bool) -> None:
    assert (is_dns_label(value), is_dns_subdomain(value)) == (label, subdomain)


@pytest.mark.parametrize(("value", "valid"), [
    ("grid", True), ("Sobol_2.v1", True), ("x" * 64, False), ("grïd", False), ("", False), ("a\n", False)])
def test_label_values(value: str, valid: bool) -> None:
    assert is_label_value(value) is valid
