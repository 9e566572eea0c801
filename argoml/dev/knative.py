"""CloudEvents built byte-for-byte as Knative's ApiServerSource and PingSource send them.

Both sources deliver in binary content mode: the attributes travel as ``ce-*``
headers and the body is the data alone. ApiServerSource sets ``subject`` to a
self-link whose plural is the lower-cased kind plus "s" (Knative's own shortcut)
and adds the ``kind``, ``name``, ``namespace`` and ``apiversion`` extensions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from argoml.events import PING_TYPE, REFERENCE_PREFIX, RESOURCE_PREFIX

DEFAULT_APISERVER = "https://10.96.0.1:443"

Request = tuple[dict[str, str], bytes]


def resource_event(action: str, obj: Mapping[str, Any], *, mode: str = "Resource",
                   source: str = DEFAULT_APISERVER, event_id: str | None = None) -> Request:
    """The request ApiServerSource sends when ``obj`` was added, updated or deleted."""
    metadata = obj.get("metadata", {})
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace", ""))
    if mode == "Resource":
        event_type, data = RESOURCE_PREFIX + action, dict(obj)
    elif mode == "Reference":
        event_type = REFERENCE_PREFIX + action
        data = {"apiVersion": api_version, "kind": kind, "name": name, "namespace": namespace}
    else:
        raise ValueError(f"mode must be Resource or Reference, not {mode!r}")
    headers = _attributes(event_type, source, event_id, "application/json")
    headers |= {
        "ce-subject": f"/apis/{api_version}/namespaces/{namespace}/{kind.lower()}s/{name}",
        "ce-kind": kind, "ce-name": name, "ce-namespace": namespace, "ce-apiversion": api_version,
    }
    return headers, json.dumps(data).encode()


def ping_event(data: Any, *, namespace: str = "default", name: str = "gc",
               content_type: str = "application/json", event_id: str | None = None) -> Request:
    """The request a PingSource named ``namespace/name`` sends with ``spec.data``."""
    source = f"/apis/v1/namespaces/{namespace}/pingsources/{name}"
    body = data if isinstance(data, bytes) else (data if isinstance(data, str) else json.dumps(data)).encode()
    return _attributes(PING_TYPE, source, event_id, content_type), body


def _attributes(event_type: str, source: str, event_id: str | None, content_type: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id or str(uuid.uuid4()),
        "ce-source": source,
        "ce-type": event_type,
        "ce-time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "content-type": content_type,
    }
