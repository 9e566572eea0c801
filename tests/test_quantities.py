"""Kubernetes quantities: what is one, and how much it is."""

from __future__ import annotations

from decimal import Decimal

import pytest

from argoml import quantities


@pytest.mark.parametrize(("text", "value"), [
    pytest.param("10Gi", 10 * 2**30, id="binary suffix"),
    pytest.param("500M", 500 * 10**6, id="decimal suffix"),
    pytest.param("1.5Gi", Decimal("1.5") * 2**30, id="a decimal number"),
    pytest.param("100m", Decimal("0.1"), id="milli"),
    pytest.param("1e3", 1000, id="an exponent"),
    pytest.param("+4", 4, id="a sign"),
    pytest.param(".5", Decimal("0.5"), id="no leading digit"),
    pytest.param("0", 0, id="zero"),
])
def test_a_quantity_means_its_value(text: str, value: Decimal | int) -> None:
    assert quantities.is_quantity(text)
    assert quantities.parse(text) == value


@pytest.mark.parametrize("text", [
    pytest.param("lots", id="a word"),
    pytest.param("10 Gi", id="a space before the suffix"),
    pytest.param("10GB", id="a suffix Kubernetes does not have"),
    pytest.param("Gi", id="no number"),
    pytest.param("", id="nothing"),
])
def test_anything_else_is_not_a_quantity(text: str) -> None:
    assert not quantities.is_quantity(text)
    assert quantities.parse(text) is None
