"""Who a caller is and what the cluster lets them do: TokenReview and SubjectAccessReview, once.

A function whose own rights are wider than its caller's acts only on what the caller
could do themselves. :func:`authenticate` turns a bearer token into a :class:`User`
(TokenReview, optionally for an audience); a :class:`User` can also come from a request
the API server already authenticated (an AdmissionReview's ``userInfo``,
:meth:`User.from_user_info`). :func:`may` asks the API server whether that user may
perform a verb on a kind of resource in a namespace (SubjectAccessReview), with the
user's groups, uid and extra attributes, so group grants and impersonation rules
apply as they would to the user's own request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoml import kube
from argoml.errors import Unauthenticated


@dataclass(frozen=True)
class User:
    """A Kubernetes user as the API server knows it (``authentication.k8s.io/v1`` UserInfo)."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_user_info(cls, info: Mapping[str, Any]) -> User:
        """The user of a UserInfo object (TokenReview status, AdmissionReview ``request.userInfo``).

        Entries of the wrong type are dropped: an AdmissionReview can be sent by anyone who reaches
        the webhook, not only by the API server.
        """
        groups, extra = info.get("groups"), info.get("extra")
        return cls(info["username"] if isinstance(info.get("username"), str) else "",
                   tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
                   info["uid"] if isinstance(info.get("uid"), str) else "",
                   tuple(sorted((k, tuple(v for v in values if isinstance(v, str)))
                                for k, values in extra.items() if isinstance(k, str) and isinstance(values, list)))
                   if isinstance(extra, Mapping) else ())


def authenticate(authorization: str | None, audience: str | None = None) -> User:
    """The user a bearer token (an ``Authorization`` header) belongs to, valid for ``audience`` when given.

    401 (:class:`~argoml.errors.Unauthenticated`) for a missing, malformed or refused token.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send a Kubernetes bearer token: 'Authorization: Bearer <token>'")
    spec: dict[str, object] = {"token": token.strip()}
    if audience:
        spec["audiences"] = [audience]
    review = {"apiVersion": kube.TOKEN_REVIEWS.api_version, "kind": kube.TOKEN_REVIEWS.kind, "spec": spec}
    status = kube.create(kube.TOKEN_REVIEWS, None, review).get("status") or {}
    user = status.get("user") or {}
    if not status.get("authenticated") or not user:
        raise Unauthenticated("the bearer token was not accepted by the Kubernetes API server"
                              + (f" for audience {audience!r}" if audience else ""))
    if audience and audience not in (status.get("audiences") or ()):
        raise Unauthenticated(f"the bearer token is not valid for audience {audience!r}")
    return User.from_user_info(user)


def may(user: User, verb: str, resource: kube.Resource, namespace: str | None = None, *,
        name: str | None = None, subresource: str | None = None, timeout: kube.Timeout = None) -> bool:
    """Whether ``user`` may ``verb`` ``resource`` (in ``namespace``; one object when ``name`` is given).

    ``timeout`` is for callers that must answer within a deadline (an admission webhook).
    """
    attributes: dict[str, object] = {"verb": verb, "group": resource.group, "resource": resource.plural}
    if namespace is not None:
        attributes["namespace"] = namespace
    if name is not None:
        attributes["name"] = name
    if subresource is not None:
        attributes["subresource"] = subresource
    spec: dict[str, object] = {"user": user.username, "groups": list(user.groups), "resourceAttributes": attributes}
    if user.uid:
        spec["uid"] = user.uid
    if user.extra:
        spec["extra"] = {key: list(values) for key, values in user.extra}
    review = {"apiVersion": kube.SUBJECT_ACCESS_REVIEWS.api_version, "kind": kube.SUBJECT_ACCESS_REVIEWS.kind,
              "spec": spec}
    status = kube.create(kube.SUBJECT_ACCESS_REVIEWS, None, review, timeout=timeout).get("status") or {}
    return bool(status.get("allowed"))
