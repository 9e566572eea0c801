"""The way users reach a TensorBoard instance: a streaming reverse proxy, after the caller is authorized.

Instances are reachable only inside the cluster. The function forwards
``/tensorboards/<namespace>/<workflow>/ui/...`` (TensorBoard runs with that ``--path_prefix``,
so paths pass through unchanged) to the instance's in-cluster address, which is derived from the
names alone, never from anything a user may write. The routes check the caller first, on every
request (:mod:`argoml.tensorboard.access`).

What crosses is filtered both ways: only the request headers TensorBoard uses are forwarded (the
caller's ``Authorization`` and cookies never reach TensorBoard), hop-by-hop headers are dropped,
header values with line breaks are dropped, the upstream cannot set cookies, and a redirect may only
point within the instance's own path (no open redirects). Work is bounded: a request body is at
most :data:`MAX_BODY` bytes, the answer is streamed in chunks (TensorBoard's data downloads can be
large; memory stays at a chunk), and one exchange lasts at most ``timeout`` seconds. urllib3 (a
dependency of the ``kubernetes`` client already) keeps a small pool of connections.
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flask

from argoml.errors import BadGateway, InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger("argoml.tensorboard.proxy")

MAX_BODY = 1 << 20  # TensorBoard's POSTs are small forms (time series requests)
CHUNK = 64 << 10
# RFC 9110 7.6.1, plus the pre-standard ones still seen in the wild.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
REQUEST_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "cache-control", "content-type",
                             "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
                             "range", "user-agent", "x-requested-with", "x-xsrf-protected"})
RESPONSE_HEADERS = frozenset({"accept-ranges", "cache-control", "content-disposition", "content-encoding",
                              "content-language", "content-length", "content-range", "content-security-policy",
                              "content-type", "etag", "expires", "last-modified", "location", "vary",
                              "x-content-type-options"})
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"


@dataclass
class Proxy:
    """Forwards requests to instances; one per process (it holds the connection pool)."""

    timeout: float = 55.0  # the whole exchange; Knative's timeoutSeconds for the function is 60
    connect_timeout: float = 5.0
    max_body: int = MAX_BODY

    @functools.cached_property
    def _pool(self) -> urllib3.PoolManager:
        import urllib3  # lazily: only proxied requests need it, and it costs ~20 ms of every cold start

        return urllib3.PoolManager(num_pools=32, maxsize=8, retries=False, block=False)

    def forward(self, request: flask.Request, upstream: str, prefix: str) -> flask.Response:
        """Send ``request`` to ``upstream`` (scheme and host) and stream the answer back.

        ``prefix`` is the instance's path (``/tensorboards/<ns>/<workflow>/ui``); a redirect the
        instance answers must stay under it.
        """
        if ".." in request.path.split("/"):
            raise InvalidInput("a path with '..' segments is not forwarded")
        body = _bounded_body(request, self.max_body)
        headers = {name: value for name, value in request.headers.items()
                   if name.lower() in REQUEST_HEADERS and _clean(value)}
        if body:
            headers["Content-Length"] = str(len(body))
        query = request.query_string.decode("latin-1")
        url = upstream + urllib.parse.quote(request.path, safe=_PATH_SAFE) + (
            "?" + urllib.parse.quote(query, safe=_QUERY_SAFE) if query else "")
        deadline = time.monotonic() + self.timeout
        import urllib3  # lazily, as in _pool
        try:
            answer = self._pool.request(request.method, url, body=body or None, headers=headers,
                                        preload_content=False, decode_content=False, redirect=False, retries=False,
                                        timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.timeout))
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            log.warning("%s %s: the instance did not answer: %s", request.method, request.path, exc)
            raise BadGateway("the TensorBoard instance did not answer (is it still starting? see its state at "
                             f"{prefix.rsplit('/ui', 1)[0]})") from None
        try:
            reply = _reply_headers(answer, upstream, prefix, request.path)
        except BadGateway:
            answer.release_conn()
            raise
        return flask.Response(_stream(answer, deadline, request.path), status=answer.status, headers=reply,
                              direct_passthrough=True)


def _bounded_body(request: flask.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"a request body through the proxy is at most {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"a request body through the proxy is at most {limit} bytes")
    return body


def _clean(value: str) -> bool:
    return not any(c in value for c in "\r\n\0")


def _reply_headers(answer: Any, upstream: str, prefix: str, path: str) -> list[tuple[str, str]]:
    connection = {token.strip().lower() for token in (answer.headers.get("Connection") or "").split(",")}
    reply = []
    for name, value in answer.headers.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in connection or lower not in RESPONSE_HEADERS or not _clean(value):
            continue
        if lower == "location":
            value = _local_redirect(value, upstream, prefix, path)
        elif lower == "cache-control":  # what one user may see is no shared cache's to keep
            value = value.replace("public", "private")
        reply.append((name, value))
    if not any(name.lower() == "x-frame-options" for name, _ in reply):
        reply.append(("X-Frame-Options", "SAMEORIGIN"))
    return reply


def _local_redirect(location: str, upstream: str, prefix: str, path: str) -> str:
    """A redirect target as a path under ``prefix``; anything else is refused (the instance misbehaves)."""
    base = urllib.parse.urlsplit(upstream)
    target = urllib.parse.urlsplit(urllib.parse.urljoin(f"{base.scheme}://{base.netloc}{path}", location))
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not (
            target.path == prefix or target.path.startswith(prefix + "/")):
        raise BadGateway("the TensorBoard instance redirected outside its own path; refused")
    return urllib.parse.urlunsplit(("", "", target.path, target.query, target.fragment))


def _stream(answer: Any, deadline: float, path: str) -> Iterator[bytes]:
    import urllib3  # lazily, as in Proxy._pool
    try:
        for chunk in answer.stream(CHUNK, decode_content=False):
            yield chunk
            if time.monotonic() > deadline:
                log.warning("%s: answer cut off at the proxy's time limit", path)
                return
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        log.warning("%s: the instance's answer broke off: %s", path, exc)
    finally:
        answer.release_conn()
