"""Typed values for the CloudEvents Knative sends to the event-triggered functions.

Knative's ApiServerSource reports changes to Kubernetes objects
(``dev.knative.apiserver.resource.{add,update,delete}`` carrying the whole object, or
``dev.knative.apiserver.ref.*`` carrying only ``{apiVersion, kind, name, namespace}``);
PingSource fires ``dev.knative.sources.ping`` on a cron schedule with a fixed payload.
Both arrive over HTTP in binary or structured content mode. Everything is checked
here, at the boundary, so that the core sees only :class:`ResourceEvent` and
:class:`PingEvent`; anything malformed raises :class:`~argoml.errors.InvalidInput`
with a message that names the problem (the functions answer it with a 400, which
Knative does not retry). JSON is read by :mod:`argoml.jsonbody`: a body that is not
UTF-8, nests more than its depth limit or holds a number beyond float64 is malformed too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argoml import jsonbody, jsontypes
from argoml.errors import InvalidInput

RESOURCE_PREFIX = "dev.knative.apiserver.resource."
REFERENCE_PREFIX = "dev.knative.apiserver.ref."
PING_TYPE = "dev.knative.sources.ping"


class Action(StrEnum):
    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class ObjectRef:
    """Which Kubernetes object an event is about."""

    api_version: str
    kind: str
    name: str
    namespace: str | None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


@dataclass(frozen=True)
class ResourceEvent:
    """An ApiServerSource event. ``obj`` is the whole object in Resource mode, else None."""

    id: str
    source: str
    action: Action
    ref: ObjectRef
    obj: Mapping[str, Any] | None

    @property
    def reference_mode(self) -> bool:
        return self.obj is None


@dataclass(frozen=True)
class PingEvent:
    """A PingSource tick. ``data`` is the decoded JSON payload (None when empty)."""

    id: str
    source: str
    time: str | None
    data: Any


Event = ResourceEvent | PingEvent


def parse(headers: Mapping[str, str], body: bytes) -> Event:
    """Read one HTTP request (binary or structured mode) as a typed Knative event."""
    from cloudevents.exceptions import GenericException
    from cloudevents.http import from_http

    headers = {key.lower(): value for key, value in headers.items()}
    if "ce-specversion" not in headers and body:
        # Structured mode: the SDK would read the body with Python's json, which fails with a 500
        # on the malformed bodies jsonbody refuses (too deep, not UTF-8) or lets `inf` through.
        try:
            envelope = jsonbody.loads(body, "the body", envelope=1)
        except InvalidInput as exc:
            raise InvalidInput(f"not a CloudEvent: {exc.message}") from None
        _check_envelope(envelope)
    try:
        cloud_event = from_http(headers, body, data_unmarshaller=lambda raw: raw)
    except GenericException as exc:
        raise InvalidInput(f"not a CloudEvent: {exc}") from exc
    except RecursionError:  # a structured-mode body nested deeper than the JSON parser goes
        raise InvalidInput("not a CloudEvent: the body is nested too deeply to parse") from None
    attributes = cloud_event.get_attributes()
    event_type = str(attributes.get("type", ""))
    event_id, source = str(attributes["id"]), str(attributes["source"])
    data = _json_data(cloud_event.data, event_type)
    if event_type == PING_TYPE:
        time = attributes.get("time")
        return PingEvent(id=event_id, source=source, time=str(time) if time else None, data=data)
    for prefix, reference in ((RESOURCE_PREFIX, False), (REFERENCE_PREFIX, True)):
        if event_type.startswith(prefix):
            action = _action(event_type, prefix)
            ref, obj = (_reference(data), None) if reference else _resource(data)
            return ResourceEvent(id=event_id, source=source, action=action, ref=ref, obj=obj)
    raise InvalidInput(f"unexpected event type {event_type!r}: expected {RESOURCE_PREFIX}*, "
                       f"{REFERENCE_PREFIX}* or {PING_TYPE}")


# The attributes the SDK reads as text in structured mode: anything else there makes it fail oddly.
_TEXT_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema",
                    "data_base64")


def _check_envelope(envelope: Any) -> None:
    if not isinstance(envelope, dict):
        raise InvalidInput(f"not a CloudEvent: a structured CloudEvent is a JSON object, got {_kind_of(envelope)}")
    for attribute in _TEXT_ATTRIBUTES:
        if attribute in envelope and not isinstance(envelope[attribute], str):
            got = _kind_of(envelope[attribute])
            raise InvalidInput(f"not a CloudEvent: its {attribute} must be a string, got {got}")


def parse_resource_event(headers: Mapping[str, str], body: bytes) -> ResourceEvent:
    event = parse(headers, body)
    if not isinstance(event, ResourceEvent):
        raise InvalidInput(f"expected an ApiServerSource event, got a PingSource event from {event.source}")
    return event


def parse_ping_event(headers: Mapping[str, str], body: bytes) -> PingEvent:
    event = parse(headers, body)
    if not isinstance(event, PingEvent):
        raise InvalidInput(f"expected a PingSource event, got an ApiServerSource event about "
                           f"{event.ref.kind} {event.ref.name!r}")
    return event


def _action(event_type: str, prefix: str) -> Action:
    try:
        return Action(event_type.removeprefix(prefix))
    except ValueError:
        raise InvalidInput(f"unexpected event type {event_type!r}: expected {prefix}add, "
                           f"{prefix}update or {prefix}delete") from None


def _json_data(data: Any, event_type: str) -> Any:
    if data is None or data in (b"", ""):
        return None
    return jsonbody.loads(data, f"the data of the {event_type or 'untyped'} event")


def _resource(data: Any) -> tuple[ObjectRef, Mapping[str, Any]]:
    if not isinstance(data, dict):
        raise InvalidInput(f"data: expected the changed Kubernetes object, got {_kind_of(data)}")
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidInput("data.metadata: missing or not an object")
    ref = _ref(data.get("apiVersion"), data.get("kind"), metadata.get("name"), metadata.get("namespace"),
               paths=("data.apiVersion", "data.kind", "data.metadata.name", "data.metadata.namespace"))
    return ref, data


def _reference(data: Any) -> ObjectRef:
    if not isinstance(data, dict):
        raise InvalidInput(f"data: expected an object reference, got {_kind_of(data)}")
    return _ref(data.get("apiVersion"), data.get("kind"), data.get("name"), data.get("namespace"),
                paths=("data.apiVersion", "data.kind", "data.name", "data.namespace"))


def _ref(api_version: Any, kind: Any, name: Any, namespace: Any, *, paths: tuple[str, ...]) -> ObjectRef:
    for value, path in zip((api_version, kind, name), paths, strict=False):
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{path}: missing or not a string")
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidInput(f"{paths[3]}: not a string")
    return ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace or None)


def _kind_of(value: Any) -> str:
    return "nothing" if value is None else jsontypes.described(value)
