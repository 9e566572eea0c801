"""The API requests a GC run makes: paginated raw lists and precondition-guarded deletes, paced.

Lists are read page by page (``limit``/``continue``) as plain JSON: the client's
model classes would cost several times the memory and time for the same pods, and
only a handful of fields are read. Deletes carry a ``uid`` precondition so that an
object recreated under the same name since it was listed is never the one deleted.
Every request first takes a token from the run's :class:`~argoml.gc.pacing.TokenBucket`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from argoml import kube
from argoml.gc.pacing import TokenBucket

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    @property
    def display(self) -> str:
        """``pods``, ``deployments.apps``: how kubectl names it, and the summary's key."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = Resource("", "v1", "pods")
WORKFLOWS = Resource("argoproj.io", "v1alpha1", "workflows")
KNATIVE_SERVICES = Resource("serving.knative.dev", "v1", "services")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
SERVICES = Resource("", "v1", "services")

_CORE_KINDS = {"pods": "pod", "services": "service"}
REQUEST_TIMEOUT = (5, 60)  # seconds to connect, to read: a stalled API server fails the request, not the run
_RAW = {"_preload_content": False, "_request_timeout": REQUEST_TIMEOUT}


class PacedApi:
    """One run's view of the API: every request paced by ``bucket``; lists in pages of ``page_size``."""

    def __init__(self, bucket: TokenBucket, page_size: int) -> None:
        self.bucket, self.page_size = bucket, page_size
        self.requests = 0

    def pages(self, resource: Resource, namespace: str | None, *, label_selector: str = "",
              field_selector: str = "") -> Iterator[list[Obj]]:
        """Each page of the list of ``resource`` (in ``namespace``, or all), one request per page.

        A slow run (a low request rate, many deletions between pages) can outlive the API
        server's continue tokens (etcd compaction, five minutes by default): the 410 that
        answers an expired token carries a fresh one to go on from the same place in the latest
        state, and the listing goes on with it. Objects changed meanwhile may show up or not,
        which is safe: each is judged on its own, deletes carry a uid precondition and orphans
        are confirmed. A second 410 in a row raises.
        """
        token: str | None = None
        resumed = False
        while True:
            try:
                page = self._list(resource, namespace, limit=self.page_size, _continue=token,
                                  label_selector=label_selector or None, field_selector=field_selector or None)
            except Exception as exc:
                fresh = None if resumed else _fresh_continue(exc)
                if not fresh:
                    raise
                token, resumed = fresh, True
                continue
            resumed = False
            yield page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        """One custom object (the GC only reads workflows singly); raises the client's errors."""
        self._pace()
        return kube.custom().get_namespaced_custom_object(resource.group, resource.version, namespace,
                                                          resource.plural, name, _request_timeout=REQUEST_TIMEOUT)

    def delete(self, resource: Resource, namespace: str, name: str, uid: str) -> None:
        """Delete one object, only if it is still the one with ``uid``; raises the client's errors.

        The answer (the deleted object) is not read: nothing needs it.
        """
        self._pace()
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid},
                "propagationPolicy": "Background"}
        if resource.group:
            kube.custom().delete_namespaced_custom_object(resource.group, resource.version, namespace,
                                                          resource.plural, name, body=body, **_RAW)
        else:
            getattr(kube.core(), f"delete_namespaced_{_CORE_KINDS[resource.plural]}")(name, namespace, body=body,
                                                                                       **_RAW)

    def _list(self, resource: Resource, namespace: str | None, **params: Any) -> Obj:
        self._pace()
        params = {key: value for key, value in params.items() if value is not None} | _RAW
        if resource.group:
            api, args = kube.custom(), (resource.group, resource.version)
            response = (api.list_namespaced_custom_object(*args, namespace, resource.plural, **params)
                        if namespace else api.list_cluster_custom_object(*args, resource.plural, **params))
        else:
            kind = _CORE_KINDS[resource.plural]
            api = kube.core()
            response = (getattr(api, f"list_namespaced_{kind}")(namespace, **params) if namespace
                        else getattr(api, f"list_{kind}_for_all_namespaces")(**params))
        return json.loads(response.data)

    def _pace(self) -> None:
        self.bucket.take()
        self.requests += 1


def _fresh_continue(exc: Exception) -> str | None:
    """The continue token a 410 (Expired) answer to a continued list offers, if any."""
    failure = kube.failure_of(exc)
    if failure is None or failure.status != 410:
        return None
    try:
        token = json.loads(getattr(exc, "body", "") or "")["metadata"]["continue"]
    except (ValueError, TypeError, KeyError):
        return None
    return token if isinstance(token, str) and token else None
