"""Reading Kubernetes manifests from YAML the way kubectl does.

PyYAML implements YAML 1.1, where ``1e-5`` (no dot) is a string; kubectl reads YAML
1.2, where it is a number. Manifests are read here with 1.2 number rules so that
offline tools see the same values the API server will store.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml parses faster
    pass


_FLOAT_12 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")  # .inf/.nan: as in YAML 1.1
_INT = "tag:yaml.org,2002:int"
# Resolvers are tried in order for a scalar's first character: ints first (so 10 stays an int), then
# YAML 1.2 floats, then the rest. The table is copied so that yaml.SafeLoader itself is left alone.
_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] == _INT]
    + ([("tag:yaml.org,2002:float", _FLOAT_12)] if first in "-+.0123456789" else [])
    + [r for r in resolvers if r[0] != _INT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_all(text: str) -> list[Any]:
    """Every document in ``text`` (empty documents skipped)."""
    return [document for document in yaml.load_all(text, Loader=_Loader) if document is not None]
