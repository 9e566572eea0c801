"""Who a caller is (TokenReview) and what they may do (SubjectAccessReview), for any function."""

from __future__ import annotations

import pytest

from argoml import argo, identity, kube
from argoml.dev.emulator import Emulator
from argoml.errors import Unauthenticated


def test_a_token_is_the_user_the_cluster_issued_it_to(cluster: Emulator) -> None:
    cluster.access.tokens["t0k3n"] = {"username": "alice", "uid": "u-1", "groups": ["ml"],
                                      "extra": {"scopes": ["a", "b"]}}
    user = identity.authenticate("Bearer t0k3n")
    assert user == identity.User("alice", ("ml",), "u-1", (("scopes", ("a", "b")),))


@pytest.mark.parametrize("authorization", [
    pytest.param(None, id="no header"),
    pytest.param("Basic YTpi", id="not a bearer token"),
    pytest.param("Bearer ", id="an empty token"),
    pytest.param("Bearer unknown", id="a token the cluster refuses"),
])
def test_anything_but_a_valid_bearer_token_is_a_401(cluster: Emulator, authorization: str | None) -> None:
    with pytest.raises(Unauthenticated):
        identity.authenticate(authorization)


def test_a_user_from_an_admission_requests_user_info_keeps_every_attribute() -> None:
    info = {"username": "system:serviceaccount:ml:runner", "uid": "u-2", "groups": ["system:serviceaccounts"],
            "extra": {"authentication.kubernetes.io/pod-name": ["runner-0"]}}
    assert identity.User.from_user_info(info) == identity.User(
        "system:serviceaccount:ml:runner", ("system:serviceaccounts",), "u-2",
        (("authentication.kubernetes.io/pod-name", ("runner-0",)),))


def test_may_asks_for_the_verb_resource_and_namespace_given(cluster: Emulator) -> None:
    cluster.access.grants.add(("alice", "create", "", "pods", "ml"))
    alice = identity.User("alice")
    assert identity.may(alice, "create", kube.PODS, "ml")
    assert not identity.may(alice, "create", kube.PODS, "other")
    assert not identity.may(alice, "delete", kube.PODS, "ml")
    assert not identity.may(alice, "create", argo.WORKFLOWS, "ml")


def test_may_asks_with_the_users_groups_uid_and_extra(cluster: Emulator) -> None:
    cluster.access.grants.add(("group:vision", "get", "argoproj.io", "workflows", "ml"))
    carol = identity.User("carol", ("vision",), "u-3", (("scopes", ("x",)),))
    assert identity.may(carol, "get", argo.WORKFLOWS, "ml", name="train")
    (review,) = cluster.access.reviews
    assert review == {"user": "carol", "groups": ["vision"], "uid": "u-3", "extra": {"scopes": ["x"]},
                      "resourceAttributes": {"verb": "get", "group": "argoproj.io", "resource": "workflows",
                                             "namespace": "ml", "name": "train"}}
