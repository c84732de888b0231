"""Browser SIP stacks we did not write, over WebSocket (RFC 7118), through our proxy.

JsSIP and SIP.js come from npm (``rfc3261/tests/browser/package.json``, installed
by ``npm ci`` there: ``.ci/run`` does it), bundled for the page by esbuild into a
temporary directory, served on loopback with ``harness.js`` and run in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright; never a downloaded
browser).  Media: Chromium's fake audio device (``--use-fake-device-for-media-stream
--use-fake-ui-for-media-stream``), so getUserMedia answers without a microphone;
no RTP has to flow for the SIP to succeed.

One proxy (``python -m rfc3261 proxy`` on UDP and WS) and one browser serve the
module; every scenario uses its own pages and user names.  Without Chromium or
the npm packages the tests skip, and fail under SIPREF_REQUIRE_EXTERNAL=1.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .transport_support import missing_external, stop_process
from .websocket_support import REPO, ProgramProcess, start_proxy

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

pytestmark = [pytest.mark.browser, pytest.mark.interop]


_missing = missing_external


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>sipref browser SIP</title></head>
<body><script src="bundle.js"></script><script src="harness.js"></script></body></html>
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, the bundle of both stacks and the harness, served on 127.0.0.1."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    esbuild = BROWSER_DIR / "node_modules" / ".bin" / "esbuild"
    for package in ("jssip", "sip.js"):
        if not (BROWSER_DIR / "node_modules" / package).is_dir():
            _missing(f"npm package {package} not installed (npm ci in {BROWSER_DIR})")
    if not esbuild.exists():
        _missing(f"esbuild not installed (npm ci in {BROWSER_DIR})")
    root = tmp_path_factory.mktemp("browser-site")
    build = subprocess.run(
        [
            str(esbuild),
            str(BROWSER_DIR / "entry.js"),
            "--bundle",
            "--format=iife",
            f"--outfile={root / 'bundle.js'}",
            "--log-level=error",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=BROWSER_DIR,
    )
    assert build.returncode == 0, build.stderr
    (root / "harness.js").write_text((BROWSER_DIR / "harness.js").read_text())
    (root / "index.html").write_text(PAGE)
    handler = functools.partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(site: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProgramProcess]:
    process = start_proxy(tmp_path_factory.mktemp("browser-proxy"))
    yield process
    process.stop()


class Tab:
    """One page of the browser holding one SIP stack (JsSIP or SIP.js)."""

    def __init__(self, browser: Any, site: str, ws_port: int, name: str) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(site)
        self.name = name
        self.ws_uri = f"ws://127.0.0.1:{ws_port}/"

    def start(self, stack: str, user: str) -> None:
        """Start a UA of ``stack`` ("jssip" or "sipjs") for user@127.0.0.1 and register."""
        result = self.page.evaluate(
            f"([n, u, user]) => sipref.{stack}(n, u, user, '127.0.0.1')",
            [self.name, self.ws_uri, user],
        )
        assert result == "registered", result

    def run(self, script: str, *args: Any) -> Any:
        return self.page.evaluate(script, list(args))

    def events(self) -> list[str]:
        return self.page.evaluate("(n) => sipref.events[n] || []", self.name)

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        events = self.events()
        while not predicate(events):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {events} (page errors: {self.errors})")
            self.page.wait_for_timeout(50)
            events = self.events()
        return events

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tabs(browser: Any, site: str, proxy: ProgramProcess) -> Iterator[Callable[..., Tab]]:
    opened: list[Tab] = []

    def open_tab(name: str, ws_port: int | None = None) -> Tab:
        tab = Tab(browser, site, ws_port or proxy.ports["WS"], name)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


def has(word: str) -> Callable[[list[str]], bool]:
    return lambda events: any(e == word or e.startswith(word + ":") for e in events)


# -- scenarios -------------------------------------------------------------------------


def test_jssip_and_sipjs_register_over_ws(tabs: Callable[..., Tab]) -> None:
    jssip = tabs("reg-jssip")
    jssip.start("jssip", "reg-alice")
    sipjs = tabs("reg-sipjs")
    sipjs.start("sipjs", "reg-bob")
    assert has("registered")(jssip.events()) and has("registered")(sipjs.events())


def test_jssip_calls_sipjs_through_the_proxy_and_hangs_up(
    tabs: Callable[..., Tab], proxy: ProgramProcess
) -> None:
    alice = tabs("call-alice")
    alice.start("jssip", "call-alice")
    bob = tabs("call-bob")
    bob.start("sipjs", "call-bob")
    alice.run("([n, t]) => sipref.call(n, t)", "call-alice", "sip:call-bob@127.0.0.1")
    bob.wait_for(has("confirmed"))
    alice.wait_for(has("confirmed"))
    # BYE from the callee, over WS both legs, routed by the double Record-Route.
    bob.run("([n]) => sipref.hangup(n)", "call-bob")
    alice.wait_for(has("ended"))
    bob.wait_for(has("ended"))
    # Both legs over WS: the INVITE and the BYE left the proxy on a WebSocket.
    log = proxy.log_text()
    assert re.search(r"-> WS \S+ INVITE sip:\S+\.invalid;transport=ws", log)
    assert re.search(r"-> WS \S+ BYE sip:\S+\.invalid;transport=ws", log)


def test_message_between_jssip_and_sipjs(tabs: Callable[..., Tab]) -> None:
    alice = tabs("msg-alice")
    alice.start("jssip", "msg-alice")
    bob = tabs("msg-bob")
    bob.start("sipjs", "msg-bob")
    assert (
        alice.run(
            "([n, t, x]) => sipref.message(n, t, x)",
            "msg-alice",
            "sip:msg-bob@127.0.0.1",
            "hi bob",
        )
        == "sent"
    )
    bob.wait_for(has("message:hi bob"))
    assert (
        bob.run(
            "([n, t, x]) => sipref.message(n, t, x)",
            "msg-bob",
            "sip:msg-alice@127.0.0.1",
            "hi alice",
        )
        == "sent"
    )
    alice.wait_for(has("message:hi alice"))


def test_browser_calls_our_udp_ua_through_the_proxy(
    tabs: Callable[..., Tab], proxy: ProgramProcess, tmp_path: Path
) -> None:
    udp = proxy.ports["UDP"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = open(tmp_path / "ua.log", "w")  # noqa: SIM115 - closed below
    ua = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rfc3261",
            "ua",
            "--listen",
            "sip:127.0.0.1:0",
            "--register",
            "sip:carol@127.0.0.1",
            "--registrar",
            f"sip:127.0.0.1:{udp}",
            "--answer",
            "200",
            "--count",
            "1",
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert ua.stdout is not None
        first = ua.stdout.readline()
        assert first.startswith("listening on"), first
        registered = ua.stdout.readline()
        assert registered.startswith("registered sip:carol@127.0.0.1"), registered
        alice = tabs("udp-alice")
        alice.start("sipjs", "udp-alice")
        alice.run("([n, t]) => sipref.call(n, t)", "udp-alice", "sip:carol@127.0.0.1")
        # The browser's INVITE crosses from WS to the UA's UDP address -- over TCP, as the
        # WebRTC offer makes it larger than 1300 bytes (RFC 3261 §18.1.1); the offer
        # (DTLS-SRTP, UDP/TLS/RTP/SAVPF) has nothing our UA can take (RFC 3264 §6.1: the
        # whole session is rejected), so the 488 and its Warning cross back to the browser.
        alice.wait_for(has("ended"))
        assert "confirmed" not in alice.events()
        ua.kill()
        ua.communicate(timeout=20)
        wire = proxy.log_text()
        invite = re.search(r"-> (UDP|TCP) \S+ INVITE sip:carol@.*?\((\d+) bytes\)", wire)
        assert invite, wire[-3000:]
        assert invite[1] == ("TCP" if int(invite[2]) > 1300 else "UDP"), invite[0]
        assert re.search(r"-> WS \S+ SIP/2.0 488 ", wire), wire[-3000:]
        assert "UDP/TLS/RTP/SAVPF not supported" in wire
    finally:
        if ua.poll() is None:
            ua.kill()
            ua.wait()
        log.close()


def test_browser_drops_its_socket_mid_call_and_the_proxy_cleans_up(
    tabs: Callable[..., Tab], proxy: ProgramProcess
) -> None:
    alice = tabs("drop-alice")
    alice.start("jssip", "drop-alice")
    bob = tabs("drop-bob")
    bob.start("sipjs", "drop-bob")
    bob.run("([n, t]) => sipref.call(n, t)", "drop-bob", "sip:drop-alice@127.0.0.1")
    alice.wait_for(has("confirmed"))
    bob.wait_for(has("confirmed"))
    alice.run("([n]) => sipref.drop(n)", "drop-alice")
    # bob hangs up: the BYE cannot reach alice; the proxy answers it at once
    # (the flow is gone) instead of holding a transaction for 32 s.
    bob.run("([n]) => sipref.hangup(n)", "drop-bob")
    bob.wait_for(has("ended"))
    # (the proxy's log is written by another process: give its last lines a moment)
    deadline = time.monotonic() + 5.0
    while not re.search(r"-> WS \S+ SIP/2.0 5\d\d ", proxy.log_text()):
        assert time.monotonic() < deadline, "the proxy answered the BYE with no 5xx"
        time.sleep(0.05)
    assert proxy.alive()
    # The proxy still serves: a new registration and a call between the survivors.
    carol = tabs("drop-carol")
    carol.start("jssip", "drop-carol")
    carol.run("([n, t]) => sipref.call(n, t)", "drop-carol", "sip:drop-bob@127.0.0.1")
    carol.wait_for(has("confirmed"))
    carol.run("([n]) => sipref.hangup(n)", "drop-carol")
    carol.wait_for(has("ended"))


# -- the reference: Kamailio's websocket module, same browser scenario ------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def kamailio_ws(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Kamailio with kamailio/websocket.cfg on free UDP and WS ports: (WS port, process)."""
    kamailio = shutil.which("kamailio")
    module = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so")
    if kamailio is None or not module.exists():
        _missing("kamailio with its websocket module not found (kamailio-websocket-modules)")
    udp_port, ws_port = free_port(), free_port()
    config = tmp_path / "kamailio.cfg"
    config.write_text(
        (Path(__file__).resolve().parent / "kamailio" / "websocket.cfg")
        .read_text()
        .replace("!5090!", f"!{udp_port}!")
        .replace("!8090!", f"!{ws_port}!")
    )
    rundir = tmp_path / "kamailio-run"
    rundir.mkdir()
    process = subprocess.Popen(
        [kamailio, "-f", str(config), "-DD", "-E", "-Y", str(rundir), "-m", "64", "-M", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", ws_port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield ws_port, process
    finally:
        stop_process(process)
        if process.stdout:
            process.stdout.close()


def test_reference_kamailio_carries_the_same_jssip_to_sipjs_call(
    tabs: Callable[..., Tab], kamailio_ws: tuple[int, subprocess.Popen[str]]
) -> None:
    """The JsSIP -> SIP.js call of test_jssip_calls_sipjs_through_the_proxy_and_hangs_up,
    through Kamailio instead of our proxy: if this passes and ours fails, the fault is ours."""
    ws_port, process = kamailio_ws
    alice = tabs("kam-alice", ws_port)
    alice.start("jssip", "kam-alice")
    bob = tabs("kam-bob", ws_port)
    bob.start("sipjs", "kam-bob")
    alice.run("([n, t]) => sipref.call(n, t)", "kam-alice", "sip:kam-bob@127.0.0.1")
    bob.wait_for(has("confirmed"))
    alice.wait_for(has("confirmed"))
    bob.run("([n]) => sipref.hangup(n)", "kam-bob")
    alice.wait_for(has("ended"))
    bob.wait_for(has("ended"))
    assert process.poll() is None
