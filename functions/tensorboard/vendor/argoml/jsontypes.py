"""The words for JSON types in error messages, once: ``expected an object, got an array``.

The names are JSON Schema's (and so the API server's: ``must be of type object``), with
``integer`` apart from ``number`` as OpenAPI has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NAMES: dict[type, str] = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
                           float: "number", type(None): "null"}


def type_name(value: Any) -> str:
    """``object``, ``array``, ``string``, ``boolean``, ``integer``, ``number`` or ``null`` (else the Python type)."""
    return _NAMES.get(type(value), type(value).__name__)


def described(value: Any) -> str:
    """The type of ``value`` with its article: ``an object``, ``a string``, ``null``."""
    name = type_name(value)
    if value is None:
        return name
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one: for reading fields a user may have written wrongly."""
    return value if isinstance(value, Mapping) else {}
