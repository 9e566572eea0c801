"""The tensorboard page (GET /) in a real headless Chromium, against the function running as a process.

The browser logs in with a token (the function sets its session cookie), lists, launches, opens an
instance through the function's authenticating proxy, and stops it. The "instance" is a tiny fake
TensorBoard on loopback (``TENSORBOARD_UPSTREAM`` points the proxy at it) that serves a page under
the instance's path prefix, which fetches data from it as TensorBoard's own page does: so the
proxying, the cookie and the prefix are exercised for real.

Needs Debian's ``chromium`` package and the ``playwright`` Python package (used only as a
driver: it cannot download browsers here, so it runs /usr/bin/chromium). Skipped, with
the reason, where chromium is not installed. A screenshot is written to the test's
tmp path and its location printed.
"""

from __future__ import annotations

import http.server
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argoml.dev import runner
from argoml.dev.emulator import Emulator
from tests.sinks import serving
from tests.workflow_status import MINIO_REPOSITORY, key_only, pod, seed, workflow

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
PREFIX = "/tensorboards/ml/train-mnist/ui"
FAKE_PAGE = b"""<!doctype html><html><head><title>Fake TensorBoard</title></head><body>
<h1>Fake TensorBoard</h1><p id="runs">loading</p>
<script>fetch("data/runs").then((r) => r.json()).then((runs) => {
  document.getElementById("runs").textContent = "runs: " + runs.join(", "); });</script></body></html>"""


class FakeTensorBoard(http.server.BaseHTTPRequestHandler):
    """Serves a page and ``data/runs`` under the instance's prefix, as ``tensorboard --path_prefix`` would."""

    def do_GET(self) -> None:
        server: Any = self.server
        server.seen.append((self.path, dict(self.headers)))
        routes = {f"{PREFIX}/": ("text/html", FAKE_PAGE),
                  f"{PREFIX}/data/runs": ("application/json", json.dumps(["evaluate", "train"]).encode())}
        if self.path not in routes:
            self.send_error(404)
            return
        kind, data = routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Set-Cookie", "tensorboard-tracking=1")  # the proxy must not pass this on
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tensorboard() -> Iterator[Any]:
    with serving(FakeTensorBoard) as server:
        server.seen = []  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def function(_emulator: Emulator, tensorboard: Any) -> Iterator[runner.FunctionProcess]:
    process = runner.start("tensorboard", env={
        "KUBECONFIG": str(_emulator.kubeconfig), "TENSORBOARD_AUTH": "on",
        "TENSORBOARD_SESSION_KEYS": "k" * 40, "TENSORBOARD_UPSTREAM": f"http://127.0.0.1:{tensorboard.server_port}"})
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
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    cluster.access.tokens["alice-token"] = {"username": "alice", "groups": ["ml-team"]}
    for verb in ("get", "create"):
        cluster.access.grants.add(("alice", verb, "argoproj.io", "workflows", "ml"))
    for wf in (workflow("train-mnist", "ml", pod("a", "train", key_only("t/a.tgz")),
                        pod("b", "evaluate", key_only("t/b.tgz")), repository=MINIO_REPOSITORY),
               workflow("etl", "ml", pod("a", "load", key_only("d.tgz", name="data")))):
        seed(cluster, wf)
    context = browser.new_context(viewport={"width": 1100, "height": 520})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(function.url + "/")
    yield page
    context.close()


def log_in(page: Any, token: str) -> None:
    page.fill("#token", token)
    page.click("#log-in")


def list_workflows(page: Any, namespace: str) -> None:
    page.fill("#namespace", namespace)
    page.click("#list")


def make_ready(cluster: Emulator, name: str, url: str = "http://internal.example") -> None:
    cluster.store.patch(cluster.store.type_of(*KSVC), "ml", name, {"status": {
        "observedGeneration": 1, "url": url, "conditions": [{"type": "Ready", "status": "True"}]}},
        "application/merge-patch+json", subresource="status")


def test_the_page_logs_in_launches_opens_through_the_proxy_and_stops(page: Any, cluster: Emulator,
                                                                     tensorboard: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    log_in(page, "alice-token")
    expect(page.locator("#who")).to_contain_text("logged in as alice until")
    assert page.locator("#token").input_value() == ""  # the page does not keep the token
    cookie = next(c for c in page.context.cookies() if c["name"] == "argoml-tensorboard-session")
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"], cookie["path"]) == (
        True, True, "Strict", "/tensorboards/")
    assert "alice-token" not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it

    list_workflows(page, "ml")
    row = page.locator("tr[data-workflow='train-mnist']")
    expect(row).to_contain_text("Succeeded")
    expect(row.locator("td.runs")).to_have_text("evaluate, train")
    expect(row.locator("td.state")).to_have_text("not running")
    expect(page.locator("tr[data-workflow='etl']")).to_have_count(0)  # no tensorboard artifacts

    row.get_by_role("button", name="Launch").click()
    expect(row.locator("td.state")).to_contain_text("starting")
    assert [s["metadata"]["name"] for s in cluster.store.find(cluster.store.type_of(*KSVC), "ml")] == [
        "tb-train-mnist"]
    make_ready(cluster, "tb-train-mnist")
    page.click("#list")
    expect(row.locator("td.state")).to_have_text("ready")
    link = row.get_by_role("link", name="Open")
    expect(link).to_have_attribute("href", PREFIX + "/")

    with page.expect_popup() as popup_info:
        link.click()
    instance = popup_info.value
    expect(instance.locator("h1")).to_have_text("Fake TensorBoard")
    expect(instance.locator("#runs")).to_have_text("runs: evaluate, train")  # its own request, proxied too
    paths = [path for path, _ in tensorboard.seen]
    assert f"{PREFIX}/" in paths and f"{PREFIX}/data/runs" in paths
    assert not any("Cookie" in headers or "Authorization" in headers for _, headers in tensorboard.seen)
    assert not any(c["name"] == "tensorboard-tracking" for c in page.context.cookies())
    screenshot = tmp_path / "tensorboard-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 0

    row.get_by_role("button", name="Stop").click()
    expect(row.locator("td.state")).to_have_text("not running")
    assert cluster.store.find(cluster.store.type_of(*KSVC), "ml") == []


def test_without_a_session_the_proxy_lets_nobody_in_and_logging_out_ends_it(
        page: Any, browser: Any, cluster: Emulator, function: runner.FunctionProcess) -> None:
    from playwright.sync_api import expect

    log_in(page, "alice-token")
    expect(page.locator("#who")).to_contain_text("logged in as alice")
    list_workflows(page, "ml")
    page.locator("tr[data-workflow='train-mnist']").get_by_role("button", name="Launch").click()
    expect(page.locator("tr[data-workflow='train-mnist'] td.state")).to_contain_text("starting")
    make_ready(cluster, "tb-train-mnist")
    url = function.url + PREFIX + "/"
    assert page.request.get(url).status == 200
    stranger = browser.new_context()
    try:
        refused = stranger.new_page().goto(url)
        assert refused is not None and refused.status == 401
    finally:
        stranger.close()
    page.click("#log-out")
    expect(page.locator("#status")).to_have_text("logged out")
    assert page.request.get(url).status == 401


def test_the_page_shows_why_a_login_or_a_request_was_refused(page: Any, cluster: Emulator) -> None:
    from playwright.sync_api import expect

    log_in(page, "not-a-token")
    expect(page.locator("#status")).to_have_text("the bearer token was not accepted by the Kubernetes API server")
    expect(page.locator("#session")).to_be_hidden()
    log_in(page, "alice-token")
    list_workflows(page, "other")
    expect(page.locator("#status")).to_contain_text("may not get workflows.argoproj.io in namespace 'other'")
    expect(page.locator("#workflows")).to_be_hidden()
    assert not any(c.verb == "create" and c.resource == "services" for c in cluster.calls)


def test_what_the_api_reports_is_shown_as_text_and_links_go_only_to_the_proxy(page: Any, cluster: Emulator) -> None:
    from playwright.sync_api import expect

    hostile = "<img src=x onerror=window.pwned=1>"
    seed(cluster, workflow("sweep", "ml", pod("a", "trial", key_only("s.tgz")), phase=hostile,
                           repository=MINIO_REPOSITORY))
    log_in(page, "alice-token")
    list_workflows(page, "ml")
    row = page.locator("tr[data-workflow='sweep']")
    expect(row).to_contain_text(hostile)
    row.get_by_role("button", name="Launch").click()
    expect(row.locator("td.state")).to_contain_text("starting")
    make_ready(cluster, "tb-sweep", url="javascript:window.pwned=2")  # a status anyone may write
    page.click("#list")
    expect(row.locator("td.state")).to_have_text("ready")
    expect(row.get_by_role("link")).to_have_attribute("href", "/tensorboards/ml/sweep/ui/")
    assert page.evaluate("window.pwned") is None


def test_sweeps_are_listed_beside_workflows_and_open_on_the_hparams_dashboard(page: Any, cluster: Emulator,
                                                                            tmp_path: Path) -> None:
    from playwright.sync_api import expect

    store = cluster.store
    sweep = store.create(store.type_of("argoml.io", "v1alpha1", "hyperparamworkflows"), "ml", {
        "apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow", "metadata": {"name": "lr-sweep"},
        "spec": {"algorithm": "tpe", "objective": {"metric": "accuracy", "goal": "maximize"}}})
    for index in range(2):
        trial = workflow(f"lr-sweep-{index}", "ml", pod("a", "train(0:...)", key_only(f"s/{index}.tgz")),
                         repository=MINIO_REPOSITORY)
        trial["metadata"]["labels"] = {"argoml.io/hyperparamworkflow": "lr-sweep", "argoml.io/trial": str(index)}
        trial["metadata"]["ownerReferences"] = [{"apiVersion": "argoml.io/v1alpha1", "kind": "HyperparamWorkflow",
                                                 "name": "lr-sweep", "uid": sweep["metadata"]["uid"],
                                                 "controller": True}]
        seed(cluster, trial)
    log_in(page, "alice-token")
    list_workflows(page, "ml")
    row = page.locator("tr[data-sweep='lr-sweep']")
    expect(row).to_contain_text("sweep")
    expect(row.locator("td.runs")).to_have_text("2 runs in 2 trial workflows (HParams)")
    expect(page.locator("tr[data-workflow='train-mnist']")).to_have_count(1)  # workflows stay beside sweeps
    expect(page.locator("tr[data-workflow='lr-sweep-0']")).to_have_count(0)  # a trial is part of its sweep
    row.get_by_role("button", name="Launch").click()
    expect(row.locator("td.state")).to_contain_text("starting")
    make_ready(cluster, "tb-lr-sweep")
    page.click("#list")
    expect(row.locator("td.state")).to_have_text("ready")
    # through the proxy, as every instance, and on TensorBoard's HParams dashboard
    expect(row.get_by_role("link", name="Open")).to_have_attribute("href", "/tensorboards/ml/lr-sweep/ui/#hparams")
    page.screenshot(path=str(tmp_path / "tensorboard-sweeps.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'tensorboard-sweeps.png'}")
