"""The words messages use for JSON types."""

from __future__ import annotations

from typing import Any

import pytest

from argoml import jsontypes


@pytest.mark.parametrize(("value", "name", "described"), [
    pytest.param({}, "object", "an object", id="object"),
    pytest.param([], "array", "an array", id="array"),
    pytest.param("x", "string", "a string", id="string"),
    pytest.param(True, "boolean", "a boolean", id="boolean, not integer"),
    pytest.param(1, "integer", "an integer", id="integer"),
    pytest.param(1.5, "number", "a number", id="number"),
    pytest.param(None, "null", "null", id="null has no article"),
])
def test_each_json_type_has_one_name(value: Any, name: str, described: str) -> None:
    assert jsontypes.type_name(value) == name
    assert jsontypes.described(value) == described
