"""Read the few Kubernetes protobuf bodies kubectl sends, as the JSON objects they encode.

kubectl's generators for built-in kinds (``kubectl create namespace``, ``create configmap``,
``create secret generic``) post ``application/vnd.kubernetes.protobuf``: the bytes ``k8s\\0``,
then a ``runtime.Unknown`` (type meta, the object's own protobuf bytes). The emulator stores
JSON, so it decodes those kinds here, from the field numbers of Kubernetes' ``generated.proto``
(ObjectMeta's name, generateName, namespace, labels, annotations, finalizers; a ConfigMap's
and a Secret's data). Any other kind answers 415, which tells the client to send JSON.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from argoml.dev.store import ApiError
from argoml.kube import Obj

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
Fields = list[tuple[int, int, Any]]  # (field number, wire type, value: int or bytes)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ValueError("truncated field")
            yield number, wire, data[position:position + length]
            position += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield number, wire, data[position:position + size]
            position += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _text(value: Any) -> str:
    return bytes(value).decode()


def _map_entry(value: bytes, as_bytes: bool = False) -> tuple[str, Any]:
    key, item = "", b""
    for number, _, field_value in _fields(value):
        if number == 1:
            key = _text(field_value)
        elif number == 2:
            item = field_value
    return key, (base64.b64encode(item).decode() if as_bytes else _text(item))


def _metadata(data: bytes) -> Obj:
    names = {1: "name", 2: "generateName", 3: "namespace"}
    maps = {11: "labels", 12: "annotations"}
    metadata: Obj = {}
    for number, _, value in _fields(data):
        if number in names and value:  # gogo-protobuf writes empty strings too
            metadata[names[number]] = _text(value)
        elif number in maps:
            key, item = _map_entry(value)
            metadata.setdefault(maps[number], {})[key] = item
        elif number == 14:
            metadata.setdefault("finalizers", []).append(_text(value))
    return metadata


def _data_kind(text_maps: dict[int, str], byte_maps: dict[int, str], texts: dict[int, str],
               flags: dict[int, str]) -> Callable[[bytes], Obj]:
    def decode(data: bytes) -> Obj:
        obj: Obj = {}
        for number, _, value in _fields(data):
            if number == 1:
                obj["metadata"] = _metadata(value)
            elif number in text_maps or number in byte_maps:
                key, item = _map_entry(value, as_bytes=number in byte_maps)
                obj.setdefault(text_maps.get(number) or byte_maps[number], {})[key] = item
            elif number in texts and value:
                obj[texts[number]] = _text(value)
            elif number in flags:
                obj[flags[number]] = bool(value)
        return obj

    return decode


KINDS: dict[str, Callable[[bytes], Obj]] = {
    "Namespace": _data_kind({}, {}, {}, {}),
    "ConfigMap": _data_kind({2: "data"}, {3: "binaryData"}, {}, {4: "immutable"}),
    "Secret": _data_kind({4: "stringData"}, {2: "data"}, {3: "type"}, {5: "immutable"}),
    "ServiceAccount": _data_kind({}, {}, {}, {4: "automountServiceAccountToken"}),
}


def decode(body: bytes) -> Obj:
    """The JSON form of a protobuf-encoded object; 415 for kinds this does not read, 400 for bad bytes."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "a protobuf body must start with the Kubernetes envelope (k8s\\0)")
    try:
        api_version = kind = ""
        raw = b""
        for number, _, value in _fields(body[len(MAGIC):]):
            if number == 1:
                for meta_number, _, meta_value in _fields(value):
                    if meta_number == 1:
                        api_version = _text(meta_value)
                    elif meta_number == 2:
                        kind = _text(meta_value)
            elif number == 2:
                raw = value
        if kind not in KINDS:
            raise ApiError(415, "UnsupportedMediaType", f"the argo-ml emulator reads protobuf only for "
                           f"{', '.join(sorted(KINDS))}; send {kind or 'this object'} as application/json")
        return {"apiVersion": api_version, "kind": kind, **KINDS[kind](raw)}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"the protobuf body could not be decoded: {exc}") from None
