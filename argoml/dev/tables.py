"""``kubectl get``'s columns: the API server's ``Table`` answers (``meta.k8s.io/v1``).

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints what the
server sends: a Name column, then the resource's printer columns (a CRD's
``additionalPrinterColumns``), each cell computed from a simple JSONPath on the object, dates
as the server renders them (an age such as ``5m12s``). Rows carry the object's metadata
(``includeObject=Metadata``, the default), the whole object, or nothing.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

from argoml.dev.store import ApiError, Column, ResourceType
from argoml.kube import Obj
from argoml.timestamps import parse_rfc3339

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace."}
INCLUDE_OBJECT = ("None", "Metadata", "Object")
# .a.b, ['a.b'], [0], [?(@.type=='Ready')]: the subset CRD printer columns use.
_STEP = re.compile(r"""\.(?P<field>[A-Za-z0-9_-]+)|\[(?P<index>-?\d+)\]|\['(?P<quoted>[^']*)'\]"""
                   r"""|\[\?\(@\.(?P<key>[A-Za-z0-9_-]+)\s*==\s*(?P<q>["'])(?P<value>[^"']*)(?P=q)\)\]""")


def wants_table(accept: str) -> bool:
    """Whether an ``Accept`` header asks for ``meta.k8s.io`` Tables (in either served version)."""
    for media in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in media.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
    return False


def table(resource: ResourceType, objects: Iterable[Obj], *, include_object: str = "Metadata",
          list_metadata: Obj | None = None, headers: bool = True, now: datetime.datetime | None = None) -> Obj:
    if include_object not in INCLUDE_OBJECT:
        raise ApiError(400, "BadRequest", f'includeObject: Unsupported value: "{include_object}": supported '
                       f'values: {", ".join(INCLUDE_OBJECT)}')
    now = now or datetime.datetime.now(datetime.UTC)
    definitions = [NAME_COLUMN] + [{"name": c.name, "type": "string" if c.type == "date" else c.type,
                                    "format": c.format, "description": c.description, "priority": c.priority}
                                   for c in resource.columns]
    rows = [_row(resource.columns, obj, include_object, now) for obj in objects]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_metadata or {}),
            "columnDefinitions": definitions if headers else [], "rows": rows}


def _row(columns: Iterable[Column], obj: Obj, include_object: str, now: datetime.datetime) -> Obj:
    cells: list[Any] = [obj.get("metadata", {}).get("name", "")]
    for column in columns:
        value = evaluate(column.json_path, obj)
        cells.append(_age(value, now) if column.type == "date" else _cell(value, column.type))
    row: Obj = {"cells": cells}
    if include_object == "Metadata":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata", {})}
    elif include_object == "Object":
        row["object"] = obj
    return row


def evaluate(path: str, obj: Any) -> Any:
    """The first value ``path`` selects in ``obj`` (None when nothing matches or the path is not simple)."""
    position, values = 0, [obj]
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    while position < len(path) and values:
        step = _STEP.match(path, position)
        if step is None:
            return None
        position = step.end()
        values = [found for value in values for found in _step(step, value)]
    return values[0] if values else None


def _step(step: re.Match[str], value: Any) -> list[Any]:
    name = step["field"] or step["quoted"]
    if name is not None:
        return [value[name]] if isinstance(value, dict) and name in value else []
    if step["index"] is not None:
        index = int(step["index"])
        return [value[index]] if isinstance(value, list) and -len(value) <= index < len(value) else []
    items = value if isinstance(value, list) else []
    return [item for item in items if isinstance(item, dict) and str(item.get(step["key"])) == step["value"]]


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else str(value)


def _age(value: Any, now: datetime.datetime) -> str | None:
    moment = parse_rfc3339(value)
    return human_duration(now - moment) if moment is not None else None


def human_duration(delta: datetime.timedelta) -> str:
    """An age as the API server prints one: ``42s``, ``5m12s``, ``3h``, ``2d5h``, ``400d``."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"
