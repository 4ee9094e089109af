"""The web console at / in headless Chromium (Debian's `chromium`, driven by Playwright; nothing
is downloaded): sign in, filter, open a hostile HTML message (its script does not run, its remote
image does not load, its `javascript:` link does nothing), download an attachment, release from
quarantine, delete; the owner's view at phone width; and /docs rendering with no network but the
app's. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import base64
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from popdrop.admin import mailboxes as admin_mailboxes
from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.model import Verdicts
from popdrop.settings import PlaintextAuth, Settings, get_settings
from popdrop.store import Store
from tests.support import free_port

from .helpers import ADDRESS, TOKEN, put_message

ARTIFACTS = Path(__file__).parents[3] / "test-artifacts" / "console"
PASSWORD = "alice-console-pw"
PDF = b"%PDF-1.4\nconsole attachment\n"


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Debian's chromium is not installed: apt-get install chromium")
    return found


class Tracker(BaseHTTPRequestHandler):
    """A remote server for the hostile message's image: it counts every request it gets."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Tracker.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tracker() -> Iterator[str]:
    Tracker.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tracker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hostile(tracker: str) -> bytes:
    html = (
        "<p>Dear user</p><script>parent.document.title='pwned'</script>"
        f'<img src="{tracker}/pixel.png" alt="pixel">'
        "<a href=\"javascript:parent.document.title='pwned'\">claim your prize</a>"
        "<p onmouseover=\"parent.document.title='pwned'\">hover me</p>"
    )
    pdf = base64.b64encode(PDF).decode()
    return (
        "From: Mallory <mallory@example.org>\r\nTo: alice@example.test\r\nSubject: Evil offer\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="prize.pdf"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
    ).encode()


@pytest.fixture
def console(app: FastAPI, settings: Settings, store: Store, tracker: str) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, passwords allowed from loopback."""
    local = settings.model_copy(update={"plaintext_auth": PlaintextAuth.LOOPBACK})
    app.dependency_overrides[get_settings] = lambda: local
    admin_mailboxes.set_password(store, ADDRESS, PASSWORD)
    put_message(
        store, "hello", b"From: bob@example.org\r\nSubject: Hello\r\n\r\nhi\r\n", arrived_at=1
    )
    put_message(store, "evil", hostile(tracker), arrived_at=2)
    store.put_incoming("spam", b"From: x@example.org\r\nSubject: Cheap pills\r\n\r\nbuy\r\n")
    event = ses_event("spam", [ADDRESS], timestamp_ms=3, verdicts=Verdicts(spam="FAIL"))
    ingest_ses_event(store, event)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def offline_but_loopback(page: Page) -> None:
    """Abort any request off loopback. The tracker is on loopback: a request for its image would
    go through and be counted."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))
            else route.abort()
        ),
    )


def test_the_admin_signs_in_filters_reads_downloads_releases_and_deletes(
    browser: Browser, console: str, tracker: str
) -> None:
    page = browser.new_page()
    offline_but_loopback(page)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(console + "/")
    page.fill("#token", TOKEN)
    page.click("#sign-in-form button")
    expect(page.locator("#who")).to_have_text("Signed in as the admin")
    page.click(f"text={ADDRESS}")
    expect(page.locator("#messages tbody tr")).to_have_count(2)

    page.fill("#filters input[name=subject]", "evil")
    page.click("#filters button")
    expect(page.locator("#messages tbody tr")).to_have_count(1)
    page.click("text=Evil offer")
    frame = page.frame_locator("#body")
    expect(frame.locator("text=Dear user")).to_be_visible()
    frame.locator("text=claim your prize").click()
    frame.locator("text=hover me").hover()
    page.screenshot(path=ARTIFACTS / "hostile-message.png", full_page=True)
    srcdoc = page.locator("#body").get_attribute("srcdoc") or ""
    for unsafe in ("<script", "javascript:", "onmouseover", tracker):
        assert unsafe not in srcdoc
    assert page.title() == "popdrop console"
    assert Tracker.hits == []

    with page.expect_download() as download:
        page.click("text=Download prize.pdf")
    assert Path(download.value.path()).read_bytes() == PDF
    assert download.value.suggested_filename == "prize.pdf"

    page.click("#back")
    expect(page.locator("#quarantine tbody tr")).to_have_count(1)
    page.click("#quarantine >> text=Release")
    expect(page.locator("#quarantine tbody tr")).to_have_count(0)
    page.fill("#filters input[name=subject]", "")  # the filter still holds: clear it
    page.click("#filters button")
    expect(page.locator("#messages tbody tr")).to_have_count(3)

    page.click("text=Hello")
    page.click("#delete")
    expect(page.locator("#status")).to_have_text("Deleted.")
    expect(page.locator("#messages tbody tr")).to_have_count(2)
    page.screenshot(path=ARTIFACTS / "mailbox.png", full_page=True)


def test_the_owner_signs_in_by_keyboard_and_sees_their_mailbox_at_phone_width(
    browser: Browser, console: str
) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(console + "/")
    page.check("input[value=mailbox]")
    page.focus("#address")
    page.keyboard.type(ADDRESS)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_have_text(f"Signed in as {ADDRESS}")
    expect(page.locator("#mailboxes")).to_be_hidden()
    expect(page.locator("#messages tbody tr")).to_have_count(2)
    page.locator("#messages a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#message-title")).to_have_text("Evil offer")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 375
    page.screenshot(path=ARTIFACTS / "owner-phone.png", full_page=True)

    page.click("#sign-out")
    page.check("input[value=mailbox]")
    page.fill("#address", ADDRESS)
    page.fill("#password", "wrong")
    page.click("#sign-in-form button")
    expect(page.locator("#status")).to_have_text("Wrong credentials.")


def test_the_api_docs_render_with_no_network_but_the_app_s(browser: Browser, console: str) -> None:
    page = browser.new_page()
    outside: list[str] = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(console)
            else (outside.append(route.request.url), route.abort())
        ),
    )
    page.goto(console + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("popdrop")
    page.screenshot(path=ARTIFACTS / "docs.png")
    assert outside == []
