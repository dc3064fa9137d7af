"""Headless Chromium driven over the DevTools protocol on a pipe (standard library only), for page tests.

    exe = find_chromium()                       # None when no Chromium/Chrome is installed
    result = load_page(exe, "file:///tmp/run/report.html", width=390, mobile=True)
    result.errors, result.failed, result.requests, result.screenshot (PNG bytes), result.scroll_width

`--remote-debugging-pipe` makes Chromium read DevTools commands from fd 3 and write replies and events
to fd 4, each a JSON object ended by a NUL byte; no websocket client or network port is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


chromium = find_chromium()


def needs_chromium(test):
    """Skip a browser test where no Chromium is installed."""
    import pytest  # only the tests need pytest; the driver itself is the standard library

    return pytest.mark.skipif(chromium is None, reason="Chromium is not installed (apt-get install chromium)")(test)


@dataclass
class PageResult:
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions, error log entries
    failed: list[str] = field(default_factory=list)  # requests that failed to load
    requests: list[str] = field(default_factory=list)  # every URL the page requested (data: URIs included)
    screenshot: bytes = b""
    scroll_width: int = 0  # the page's full width, to compare with the viewport's
    viewport_width: int = 0
    broken_images: int = 0  # <img> elements that did not decode


class Browser:
    def __init__(self, executable: str, timeout: float = 60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="vgan-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends above 4, so that placing them on fds 3 and 4 cannot clobber one another.
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child_r, from_child_w))
        os.close(to_child_r)
        os.close(from_child_w)

        def on_fds_3_and_4() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
                 "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"]
        self.process = subprocess.Popen([executable, *flags], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=on_fds_3_and_4, close_fds=False)
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply (events that arrive meanwhile are kept in `events`)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        return self._read_until(lambda m: m.get("method") == method)

    def _read_until(self, wanted) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium exited")
            self._buffer += chunk

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_child, self._from_child):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


def load_page(executable: str, url: str, width: int = 1280, height: int = 900, mobile: bool = False,
              settle: float = 1.0) -> PageResult:
    """Open `url` at the given viewport, wait for the load event, and report what happened."""
    browser = Browser(executable)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                            "deviceScaleFactor": 1, "mobile": mobile}, session)
        browser.call("Page.navigate", {"url": url}, session)
        browser.wait_event("Page.loadEventFired")
        time.sleep(settle)  # late console messages and requests
        probe = ("JSON.stringify([document.documentElement.scrollWidth, window.innerWidth, "
                 "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length])")
        value = browser.call("Runtime.evaluate", {"expression": probe, "returnByValue": True}, session)
        scroll_width, viewport_width, broken = json.loads(value["result"]["value"])
        shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        result = PageResult(screenshot=base64.b64decode(shot["data"]), scroll_width=scroll_width,
                            viewport_width=viewport_width, broken_images=broken)
        for event in browser.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                            for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                result.errors.append("exception: " + params["exceptionDetails"].get("text", ""))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                result.errors.append("log: " + params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                result.failed.append(f"{params.get('errorText')} ({params.get('requestId')})")
        return result
    finally:
        browser.close()


class Tab:
    """One page in a Browser, to drive: evaluate JavaScript, send mouse events, see the requests it made.

        with Tab(Browser(exe), url) as tab:        # waits for the load event
            tab.evaluate("1 + 1")                  # -> 2 (JSON-able values come back as Python values)
            tab.mouse("mousePressed", x, y)        # viewport coordinates, in CSS pixels
            tab.requests()                         # every URL requested since it opened (data: URIs included)
    """

    def __init__(self, browser: Browser, url: str, width: int = 1280, height: int = 900):
        self.browser = browser
        self.target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=self.session)
        browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                            "mobile": False}, self.session)
        browser.events.clear()  # a load event of another tab must not count as this one's
        browser.call("Page.navigate", {"url": url}, self.session)
        browser._read_until(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == self.session)

    def __enter__(self) -> Tab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited when a promise); a thrown error is a RuntimeError."""
        reply = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                       "awaitPromise": True}, self.session)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:60]}: {reply['exceptionDetails'].get('exception', reply)}")
        return reply["result"].get("value")

    def mouse(self, kind: str, x: float, y: float) -> None:
        """One mouse event (mousePressed, mouseMoved, mouseReleased) with the left button, as a user's."""
        self.browser.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                       "buttons": 0 if kind == "mouseReleased" else 1,
                                                       "clickCount": 1}, self.session)

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == self.session]

    def errors(self) -> list[str]:
        found = []
        for event in self.browser.events:
            method, params = event.get("method"), event.get("params", {})
            if event.get("sessionId") != self.session:
                continue
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + str(params["exceptionDetails"].get("exception", {}).get("description")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append("log: " + params["entry"].get("text", ""))
        return found
