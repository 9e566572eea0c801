"""The tensorboard page (GET /) in a real headless Chromium, against the function running as a process.

Needs Debian's ``chromium`` package and the ``playwright`` Python package (used only as a
driver: it cannot download browsers here, so it runs /usr/bin/chromium). Skipped, with
the reason, where chromium is not installed. A screenshot is written to the test's
tmp path and its location printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argoml.dev import runner
from argoml.dev.emulator import Emulator
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, workflow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium (apt-get install chromium) for the headless browser test"),
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000  # generous: a loaded 2-core machine; expectations return as soon as they hold
KSVC = ("serving.knative.dev", "v1", "services")


@pytest.fixture(scope="module")
def function(_emulator: Emulator) -> Iterator[runner.FunctionProcess]:
    process = runner.start("tensorboard", env={"KUBECONFIG": str(_emulator.kubeconfig), "TENSORBOARD_AUTH": "on"})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, cluster: Emulator, function: runner.FunctionProcess) -> Iterator[Any]:
    cluster.access.tokens["alice-token"] = {"username": "alice", "groups": ["ml-team"]}
    cluster.access.grants.add(("alice", "get", "argoproj.io", "workflows", "ml"))
    store = cluster.store
    for wf in (workflow("train-mnist", "ml", pod("a", "train", key_only("t/a.tgz")),
                        pod("b", "evaluate", key_only("t/b.tgz")), repository=MINIO_REPOSITORY),
               workflow("etl", "ml", pod("a", "load", key_only("d.tgz", name="data")))):
        store.create(store.type_of("argoproj.io", "v1alpha1", "workflows"), "ml", wf, keep_status=True)
    context = browser.new_context(viewport={"width": 1100, "height": 520})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(function.url + "/")
    yield page
    context.close()


def list_workflows(page: Any, namespace: str, token: str) -> None:
    page.fill("#namespace", namespace)
    page.fill("#token", token)
    page.click("#list")


def test_the_page_lists_launches_opens_and_stops_tensorboards(page: Any, cluster: Emulator,
                                                               tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    list_workflows(page, "ml", "alice-token")
    row = page.locator("tr[data-workflow='train-mnist']")
    expect(row).to_contain_text("Succeeded")
    expect(row.locator("td.runs")).to_have_text("evaluate, train")
    expect(row.locator("td.state")).to_have_text("not running")
    expect(page.locator("tr[data-workflow='etl']")).to_have_count(0)  # no tensorboard artifacts

    row.get_by_role("button", name="Launch").click()
    expect(row.locator("td.state")).to_contain_text("starting")
    store, ksvc = cluster.store, cluster.store.type_of(*KSVC)
    assert [s["metadata"]["name"] for s in store.find(ksvc, "ml")] == ["tb-train-mnist"]

    url = "http://tb-train-mnist.ml.example.com"
    store.patch(ksvc, "ml", "tb-train-mnist", {"status": {"observedGeneration": 1, "url": url, "conditions": [
        {"type": "Ready", "status": "True"}]}}, "application/merge-patch+json", subresource="status")
    page.click("#list")
    expect(row.locator("td.state")).to_have_text("ready")
    expect(row.get_by_role("link", name="Open")).to_have_attribute("href", url)
    screenshot = tmp_path / "tensorboard-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 0

    row.get_by_role("button", name="Stop").click()
    expect(row.locator("td.state")).to_have_text("not running")
    assert store.find(ksvc, "ml") == []


def test_the_page_shows_why_a_request_was_refused(page: Any, cluster: Emulator) -> None:
    from playwright.sync_api import expect

    list_workflows(page, "ml", "not-a-token")
    expect(page.locator("#status")).to_have_text("the bearer token was not accepted by the Kubernetes API server",
                                                 timeout=TIMEOUT_MS)
    expect(page.locator("#workflows")).to_be_hidden()
    list_workflows(page, "other", "alice-token")
    expect(page.locator("#status")).to_contain_text("may not get workflows.argoproj.io in namespace 'other'",
                                                    timeout=TIMEOUT_MS)
    assert not any(c.verb == "create" and c.resource == "services" for c in cluster.calls)


def test_what_the_api_reports_is_shown_as_text_and_only_web_addresses_become_links(page: Any,
                                                                                   cluster: Emulator) -> None:
    from playwright.sync_api import expect

    store, ksvc = cluster.store, cluster.store.type_of(*KSVC)
    hostile = "<img src=x onerror=window.pwned=1>"
    wf = workflow("sweep", "ml", pod("a", "trial", key_only("s.tgz")), phase=hostile, repository=MINIO_REPOSITORY)
    store.create(store.type_of("argoproj.io", "v1alpha1", "workflows"), "ml", wf, keep_status=True)
    list_workflows(page, "ml", "alice-token")
    row = page.locator("tr[data-workflow='sweep']")
    expect(row).to_contain_text(hostile)
    row.get_by_role("button", name="Launch").click()
    expect(row.locator("td.state")).to_contain_text("starting")
    store.patch(ksvc, "ml", "tb-sweep", {"status": {"observedGeneration": 1, "url": "javascript:window.pwned=2",
                                                    "conditions": [{"type": "Ready", "status": "True"}]}},
                "application/merge-patch+json", subresource="status")
    page.click("#list")
    expect(row.locator("td.state")).to_have_text("ready")
    expect(row.get_by_role("link")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
