"""argoml.kube against the emulator: generic verbs on any resource, every failure its own exception type."""

from __future__ import annotations

import pytest

from argoml import argo, kube
from argoml.dev.emulator import Emulator
from argoml.errors import UpstreamError


@pytest.mark.parametrize(("status", "error"), [
    pytest.param(400, kube.BadRequest, id="400 BadRequest"),
    pytest.param(403, kube.Forbidden, id="403 Forbidden"),
    pytest.param(404, kube.NotFound, id="404 NotFound"),
    pytest.param(409, kube.Conflict, id="409 Conflict"),
    pytest.param(410, kube.Gone, id="410 Gone"),
    pytest.param(422, kube.Invalid, id="422 Invalid"),
    pytest.param(429, kube.ApiError, id="429 another failure"),
    pytest.param(500, kube.ServerError, id="500 ServerError"),
    pytest.param(503, kube.ServerError, id="503 ServerError"),
])
def test_each_failure_status_raises_its_type(cluster: Emulator, status: int, error: type[kube.ApiError]) -> None:
    cluster.fail(status, method="GET", resource="pods")
    with pytest.raises(error) as raised:
        kube.get(kube.PODS, "ml", "p")
    assert raised.value.code == status


def test_an_unhandled_api_error_is_an_upstream_error_a_503(cluster: Emulator) -> None:
    cluster.fail(404, method="GET", resource="pods")
    with pytest.raises(UpstreamError) as raised:
        kube.get(kube.PODS, "ml", "p")
    assert raised.value.status == 503
    assert raised.value.message.startswith("reading pods ml/p: the Kubernetes API answered 404")


def test_a_taken_name_is_already_exists_a_kind_of_conflict(cluster: Emulator) -> None:
    kube.create(kube.CONFIGMAPS, "ml", {"metadata": {"name": "c"}})
    with pytest.raises(kube.AlreadyExists) as raised:
        kube.create(kube.CONFIGMAPS, "ml", {"metadata": {"name": "c"}})
    assert isinstance(raised.value, kube.Conflict)


def test_the_verbs_work_on_core_and_custom_resources_alike(cluster: Emulator) -> None:
    for resource in (kube.CONFIGMAPS, argo.WORKFLOWS):
        kube.create(resource, "ml", {"metadata": {"name": "x", "labels": {"a": "1"}}})
        patched = kube.patch(resource, "ml", "x", {"metadata": {"labels": {"a": None, "b": "2"}}})
        assert patched["metadata"]["labels"] == {"b": "2"}, "a merge patch removes a key set to None"
        uid = kube.get(resource, "ml", "x")["metadata"]["uid"]
        with pytest.raises(kube.Conflict):
            kube.delete(resource, "ml", "x", uid="someone-else")
        kube.delete(resource, "ml", "x", uid=uid)
        assert kube.get_or_none(resource, "ml", "x") is None


def test_list_pages_reads_every_page_with_the_selector(cluster: Emulator) -> None:
    for index in range(5):
        kube.create(kube.CONFIGMAPS, "ml", {"metadata": {"name": f"c{index}", "labels": {"keep": str(index % 2)}}})
    pages = list(kube.list_pages(kube.CONFIGMAPS, "ml", label_selector="keep=0", limit=2))
    assert [[c["metadata"]["name"] for c in page] for page in pages] == [["c0", "c2"], ["c4"]]


def test_list_pages_goes_on_from_a_fresh_token_when_its_token_expired(cluster: Emulator) -> None:
    for index in range(3):
        kube.create(kube.CONFIGMAPS, "ml", {"metadata": {"name": f"c{index}"}})
    pages = kube.list_pages(kube.CONFIGMAPS, "ml", limit=1)
    first = next(pages)
    cluster.fail(410, method="GET", resource="configmaps")
    rest = [c["metadata"]["name"] for page in pages for c in page]
    assert [c["metadata"]["name"] for c in first] == ["c0"] and rest == ["c1", "c2"]


def test_an_owner_reference_names_its_owner_and_is_found_again() -> None:
    reference = kube.owner_reference(argo.WORKFLOWS, "train", "u-1", controller=True)
    obj = {"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Workflow", "name": "other"}, reference]}}
    assert kube.owner_references(obj, argo.WORKFLOWS) == [reference], "the group must match as well as the kind"
    assert kube.controller_reference(obj, argo.WORKFLOWS) == reference
