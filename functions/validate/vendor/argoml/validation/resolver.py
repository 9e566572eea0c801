"""Where ``templateRef`` and ``workflowTemplateRef`` find their WorkflowTemplates.

A :class:`Resolver` answers "the WorkflowTemplate ``name`` in ``namespace``" and "the
ClusterWorkflowTemplate ``name``" with the resource as a dict, or ``None`` when there is
none. :class:`ClusterResolver` asks the Kubernetes API (what the admission webhook
uses); :class:`DocumentResolver` looks among documents the caller already has (the
files given to ``argoml validate`` and those beside them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from argoml.identity import User
    from argoml.kube import Resource

# Seconds to connect and to read: a stalled API server makes the webhook answer 503 (and the
# webhook's failurePolicy apply) instead of holding the admission request until Knative cuts
# it off. urllib3 tries a GET four times, so the worst case is about 4 x 3 s: within the
# Service's 15 s timeout and the webhooks' timeoutSeconds (20).
REQUEST_TIMEOUT: tuple[float, float] = (2, 3)


class Resolver(Protocol):
    def workflow_template(self, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def cluster_workflow_template(self, name: str) -> dict[str, Any] | None: ...


class NoResolver:
    """Resolves nothing: every reference is reported as not found."""

    def workflow_template(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return None

    def cluster_workflow_template(self, name: str) -> dict[str, Any] | None:
        return None


class DocumentResolver:
    """Templates from a set of already-parsed documents; namespaces match when both say one."""

    def __init__(self, documents: Iterable[Any]) -> None:
        self._namespaced: dict[str, list[dict[str, Any]]] = {}
        self._cluster: dict[str, dict[str, Any]] = {}
        for document in documents:
            if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
                continue
            name = document["metadata"].get("name")
            if document.get("kind") == "WorkflowTemplate" and name:
                self._namespaced.setdefault(str(name), []).append(document)
            elif document.get("kind") == "ClusterWorkflowTemplate" and name:
                self._cluster.setdefault(str(name), document)

    def workflow_template(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        for document in self._namespaced.get(name, []):
            own = document["metadata"].get("namespace")
            if not namespace or not own or own == namespace:
                return document
        return None

    def cluster_workflow_template(self, name: str) -> dict[str, Any] | None:
        return self._cluster.get(name)


class ClusterResolver:
    """Templates read through the Kubernetes API, each at most once per resolver.

    A missing template is ``None``; any other API failure raises
    :class:`~argoml.errors.UpstreamError`, so the webhook answers 5xx rather than denying a
    resource because the API server hiccuped.

    ``on_behalf_of`` is the user whose request is being checked: a template that user may not
    ``get`` (a SubjectAccessReview says) is ``None`` too, exactly like a missing one, and is
    never read. The webhook's own account may read every template; without this, anyone could
    learn through its answers whether a template exists in another team's namespace, and
    the names and ``{{...}}`` tags inside it.
    """

    def __init__(self, default_namespace: str | None = None, *, on_behalf_of: User | None = None) -> None:
        self._default_namespace = default_namespace
        self._user = on_behalf_of
        self._cache: dict[tuple[str, str | None, str], dict[str, Any] | None] = {}

    def workflow_template(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        from argoml.argo import WORKFLOW_TEMPLATES

        return self._get(WORKFLOW_TEMPLATES, namespace or self._default_namespace, name)

    def cluster_workflow_template(self, name: str) -> dict[str, Any] | None:
        from argoml.argo import CLUSTER_WORKFLOW_TEMPLATES

        return self._get(CLUSTER_WORKFLOW_TEMPLATES, None, name)

    def _get(self, resource: Resource, namespace: Any, name: Any) -> dict[str, Any] | None:
        from argoml import identity, kube, names

        if (namespace is not None and not names.is_dns_label(namespace)) or not names.is_dns_subdomain(name):
            return None  # no object can be named so; and nothing unchecked goes into an API path
        key = (resource.plural, namespace, name)
        if key not in self._cache:
            readable = self._user is None or identity.may(self._user, "get", resource, namespace,
                                                              timeout=REQUEST_TIMEOUT)
            self._cache[key] = kube.get_or_none(resource, namespace, name, timeout=REQUEST_TIMEOUT) if readable \
                else None
        return self._cache[key]
