"""Which Argo the cluster runs, and the validation rules that differ between versions.

Argo 3.6 added the list forms (a CronWorkflow's ``schedules``, ``synchronization.semaphores``
and ``.mutexes``) and deprecated the single ones; Argo 4 removed the single forms, so its
strict decoding refuses them as unknown fields. Validation follows the version given by
``ARGO_VERSION`` (``3.5``, ``3.6``, ``3.7``, ``4.0``, ``4.1`` ...) or, in the webhook, the one
:class:`ClusterDetector` reads off the installed CronWorkflow CRD: its labels when they carry
a version, else the fields its schema has (``schedule`` only: 3.5; both: 3.6 or 3.7;
``schedules`` only: 4). A cluster whose CRDs say nothing (Argo's minimal CRDs have no schema)
gets :data:`DEFAULT`, the most lenient rules.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from argoml.errors import UpstreamError
from argoml.kube import Resource

ENVIRONMENT = "ARGO_VERSION"
CUSTOM_RESOURCE_DEFINITIONS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                       "CustomResourceDefinition", namespaced=False)
CRD_NAME = "cronworkflows.argoproj.io"
VERSION_LABELS = ("app.kubernetes.io/version", "workflows.argoproj.io/version")
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?")

log = logging.getLogger("argoml.validation.versions")


@dataclass(frozen=True, order=True)
class ArgoVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> ArgoVersion:
        """``3.6``, ``v3.6.4`` or ``4.1.0-rc1``; :class:`ValueError` for anything else."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not an Argo version: {text!r} (expected e.g. 3.7 or 4.1)")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def has_lists(self) -> bool:
        """``schedules``, ``semaphores`` and ``mutexes`` exist (Argo 3.6 and later)."""
        return self >= ArgoVersion(3, 6)

    @property
    def has_single_forms(self) -> bool:
        """``schedule``, ``semaphore`` and ``mutex`` are still read (before Argo 4)."""
        return self < ArgoVersion(4, 0)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


DEFAULT = ArgoVersion(3, 7)
"""When the version is unknown: both forms accepted, the single ones with a warning."""

VersionSource = Callable[[], ArgoVersion]
"""Where the version comes from, asked only when a rule depends on it (detection may cost an
API request, and most resources use no form whose rules differ)."""


def source(version: ArgoVersion | VersionSource | None) -> VersionSource:
    """``version`` as a :data:`VersionSource` asked at most once; ``None``: ``ARGO_VERSION``, else :data:`DEFAULT`."""
    if isinstance(version, ArgoVersion):
        fixed = version
        return lambda: fixed
    return functools.cache(version or (lambda: configured() or DEFAULT))


def configured() -> ArgoVersion | None:
    """The version ``ARGO_VERSION`` names; ``None`` when unset (or malformed, which is logged)."""
    text = os.environ.get(ENVIRONMENT, "").strip()
    try:
        return ArgoVersion.parse(text) if text else None
    except ValueError as exc:
        log.warning("ignoring %s: %s", ENVIRONMENT, exc)
        return None


def from_crd(crd: Any) -> ArgoVersion | None:
    """The version an installed CronWorkflow CRD tells, by its labels or its schema's fields."""
    if not isinstance(crd, dict):
        return None
    labels = (crd.get("metadata") or {}).get("labels") or {}
    for label in VERSION_LABELS:
        try:
            return ArgoVersion.parse(str(labels[label]))
        except (KeyError, ValueError):
            continue
    for version in (crd.get("spec") or {}).get("versions") or []:
        fields = _dig(version, "schema", "openAPIV3Schema", "properties", "spec", "properties")
        if "schedules" in fields:
            return ArgoVersion(3, 7) if "schedule" in fields else ArgoVersion(4, 0)
        if "schedule" in fields:
            return ArgoVersion(3, 5)
    return None


def _dig(value: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


class ClusterDetector:
    """The cluster's Argo version, read from its CRD at most once per ``ttl`` seconds.

    A failed read (API server down, no permission) is not the review's problem: the
    detector answers :data:`DEFAULT` and tries again after ``retry`` seconds.
    """

    def __init__(self, ttl: float = 600.0, retry: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._retry, self._clock = ttl, retry, clock
        self._lock = threading.Lock()
        self._version = DEFAULT
        self._expires = float("-inf")

    def version(self) -> ArgoVersion:
        with self._lock:
            now = self._clock()
            if now >= self._expires:
                try:
                    self._version = from_crd(_read_crd()) or DEFAULT
                    self._expires = now + self._ttl
                except UpstreamError as exc:
                    log.warning("cannot tell the cluster's Argo version (using %s's rules): %s", DEFAULT, exc)
                    self._version, self._expires = DEFAULT, now + self._retry
            return self._version


def _read_crd() -> dict[str, Any] | None:
    from argoml import kube
    from argoml.validation.resolver import REQUEST_TIMEOUT

    return kube.get_or_none(CUSTOM_RESOURCE_DEFINITIONS, None, CRD_NAME, timeout=REQUEST_TIMEOUT)


_detector = ClusterDetector()


def of_cluster() -> ArgoVersion:
    """``ARGO_VERSION`` when set, else the version detected from the cluster's CRDs (cached)."""
    return configured() or _detector.version()


def single_forms(version_of: VersionSource, holder: Any, path: str,
                 pairs: tuple[tuple[str, str], ...]) -> Iterator[tuple[str, str, bool]]:
    """``(path, message, is_error)`` for each single or list form ``version`` does not read as written.

    Under Argo 4 a single form is an unknown field (its strict decoding's words); before 3.6 a
    list form is; in between a single form is read, with a deprecation warning.
    """
    if not isinstance(holder, dict) or not any(holder.get(key) is not None for pair in pairs for key in pair):
        return
    version = version_of()
    for single, plural in pairs:
        if holder.get(single) is not None:
            if not version.has_single_forms:
                yield f"{path}.{single}", f'unknown field "{path}.{single}" (removed in Argo 4: use {plural})', True
            elif version.has_lists:
                yield (f"{path}.{single}", f"{single} is deprecated since Argo 3.6 and dropped by later versions: "
                                           f"use {plural}: [...]", False)
        if holder.get(plural) is not None and not version.has_lists:
            yield f"{path}.{plural}", f'unknown field "{path}.{plural}" (Argo {version} has {single} only)', True
