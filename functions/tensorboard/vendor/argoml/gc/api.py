"""The API requests a GC run makes: paginated lists and precondition-guarded deletes, paced.

Every request first takes a token from the run's :class:`~argoml.gc.pacing.TokenBucket`
and has a timeout, so a stalled API server fails the request, not the run. Pages are
bounded in bytes as well as in objects (``max_page_bytes``, see
:func:`argoml.kube.list_pages`), so a hundred workflows of a megabyte each never sit in
memory at once, and what is read may nest to any depth (:mod:`argoml.jsonread`). Deletes
carry a ``uid`` precondition so that an object recreated under the same name since it
was listed is never the one deleted.
"""

from __future__ import annotations

from collections.abc import Iterator

from argoml import kube
from argoml.gc.pacing import TokenBucket

REQUEST_TIMEOUT = (5, 60)  # seconds to connect, to read


class PacedApi:
    """One run's view of the API: every request paced by ``bucket``; lists in pages of at most
    ``page_size`` objects and ``max_page_bytes`` bytes."""

    def __init__(self, bucket: TokenBucket, page_size: int, max_page_bytes: int) -> None:
        self.bucket, self.page_size, self.max_page_bytes = bucket, page_size, max_page_bytes
        self.requests = 0

    def pages(self, resource: kube.Resource, namespace: str | None, *, label_selector: str = "",
              field_selector: str = "") -> Iterator[list[kube.Obj]]:
        """Each page of the list of ``resource`` (in ``namespace``, or all), see :func:`argoml.kube.list_pages`."""
        return kube.list_pages(resource, namespace, label_selector=label_selector, field_selector=field_selector,
                               limit=self.page_size, timeout=REQUEST_TIMEOUT, before_each=self._pace,
                               max_bytes=self.max_page_bytes)

    def get(self, resource: kube.Resource, namespace: str, name: str) -> kube.Obj:
        self._pace()
        return kube.get(resource, namespace, name, timeout=REQUEST_TIMEOUT, max_bytes=kube.MAX_OBJECT_BYTES)

    def delete(self, resource: kube.Resource, namespace: str, name: str, uid: str) -> None:
        """Delete one object, only if it is still the one with ``uid``."""
        self._pace()
        kube.delete(resource, namespace, name, uid=uid, propagation="Background", timeout=REQUEST_TIMEOUT)

    def _pace(self) -> None:
        self.bucket.take()
        self.requests += 1
