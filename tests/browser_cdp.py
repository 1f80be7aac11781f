"""Drive headless Chromium over the DevTools protocol on a pipe — no websocket library, no Selenium.

Used by the browser test of the HTML report and by ``benchmarks/bench_html.py``. Chromium started with
``--remote-debugging-pipe`` reads protocol messages from fd 3 and writes to fd 4, each a JSON text
ended by a NUL byte; that is all this module speaks. It collects what a person would notice and a
``--dump-dom`` would not: console errors, uncaught exceptions, and any request that leaves the file.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

#: Where CI's install attempt (``.ci/run``) leaves its log when Chromium could not be installed.
INSTALL_LOG = os.path.join(os.path.dirname(__file__), "..", "artifacts", "chromium-install.log")

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """``$SHAPECHECK_CHROMIUM``, else the first of chromium, chromium-browser, google-chrome on PATH."""
    explicit = os.environ.get("SHAPECHECK_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else shutil.which(explicit)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason() -> str:
    """Why there is no Chromium: the tail of CI's install log when there is one."""
    explicit = os.environ.get("SHAPECHECK_CHROMIUM")
    if explicit:
        return f"SHAPECHECK_CHROMIUM={explicit!r} is neither a file nor a command on PATH"
    reason = "no chromium, chromium-browser or google-chrome on PATH (set SHAPECHECK_CHROMIUM to a binary)"
    try:
        with open(INSTALL_LOG, encoding="utf-8", errors="replace") as handle:
            tail = [line.strip() for line in handle.read().splitlines() if line.strip()][-3:]
    except OSError:
        return reason + "; .ci/run installs it with apt-get (Debian package 'chromium') when run as root"
    return reason + "; .ci/run tried to install it: " + " | ".join(tail)


class BrowserError(RuntimeError):
    """Chromium did not start, or did not answer in time."""


@dataclass
class PageLoad:
    """What happened when a page was opened."""

    url: str
    #: milliseconds from navigation start until two animation frames after the page's script finished
    ready_ms: float
    wall_s: float
    console: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors, as one list of messages."""
        return [text for level, text in self.console if level in ("error", "assert")] + self.exceptions + \
            self.log_errors


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, binary: str, *, width: int = 1366, height: int = 860, timeout: float = 60.0) -> None:
        self.binary = binary
        self.width = width
        self.height = height
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._session: str | None = None
        self._profile = tempfile.mkdtemp(prefix="shapecheck-chromium-")
        self.stderr_path = os.path.join(self._profile, "stderr.log")

    # -- process and pipe -------------------------------------------------------------------------
    def __enter__(self) -> Chromium:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds() -> None:  # put the pipe ends at 3 and 4, where Chromium looks for them
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._stderr = open(self.stderr_path, "wb")
        try:
            self.process = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={self.width},{self.height}",
                 "--enable-logging=stderr", "--v=0", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                preexec_fn=child_fds, pass_fds=(3, 4),
            )
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next((t["targetId"] for t in targets if t["type"] == "page"), None)
            if page is None:
                page = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                             "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self._send("Browser.close", {}, None)
                    self.process.wait(timeout=10)
                except (OSError, BrowserError, subprocess.TimeoutExpired):
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"chromium did not answer within {self.timeout:.0f} s{self._stderr_tail()}")
            ready, _, _ = select.select([self._from_browser], [], [], min(left, 0.5))
            if not ready:
                if self.process.poll() is not None:
                    raise BrowserError(f"chromium exited with {self.process.returncode}{self._stderr_tail()}")
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium closed the pipe{self._stderr_tail()}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def _stderr_tail(self) -> str:
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()[-5:]
        except OSError:
            return ""
        return ("; stderr: " + " | ".join(lines)) if lines else ""

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a command (to the page once attached) and return its result; events met are kept."""
        number = self._send(method, params or {}, self._session if not method.startswith(("Target.", "Browser."))
                            else None)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == number:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def wait_for(self, event: str, timeout: float | None = None) -> dict[str, Any]:
        """The next event named ``event`` (one already received counts)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, message in enumerate(self._events):
                if message["method"] == event:
                    return self._events.pop(index)["params"]
            message = self._read(deadline)
            if "method" in message:
                self._events.append(message)

    # -- what the tests ask -----------------------------------------------------------------------
    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The JSON value of a JavaScript expression in the page; an exception is a BrowserError."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise})
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: str) -> PageLoad:
        """Open a local file and wait until it has loaded, run its script and painted twice."""
        url = "file://" + os.path.abspath(path)
        self._events.clear()
        start = time.monotonic()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")
        ready_ms = self.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))",
            await_promise=True,
        )
        wall = time.monotonic() - start
        load = PageLoad(url, float(ready_ms), wall)
        for message in self._events:
            params = message["params"]
            if message["method"] == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                load.console.append((params.get("type", ""), text))
            elif message["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                load.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif message["method"] == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") == "error":
                    load.log_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
            elif message["method"] == "Network.requestWillBeSent":
                load.requests.append(params.get("request", {}).get("url", ""))
        return load

    def errors_since_open(self) -> list[str]:
        """Console errors and exceptions raised after :meth:`open` returned (by clicks, zooming, …)."""
        self.evaluate("0")  # a round trip, so that events sent before it have arrived
        errors = []
        for message in self._events:
            params = message["params"]
            if message["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif message["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        return errors

    def pixels(self, x: float, y: float, width: float, height: float) -> list[list[tuple[int, int, int]]]:
        """The RGB pixels of a rectangle of the page (CSS pixels, scale 1), row by row."""
        clip = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip})["data"]
        return decode_png(base64.b64decode(data))

    def screenshot(self, path: str, *, full_page: bool = False) -> None:
        """Save a PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))


def decode_png(data: bytes) -> list[list[tuple[int, int, int]]]:
    """RGB rows of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are).

    A few dozen lines instead of a Pillow dependency: the tests only look at small clips.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {color}, interlace {interlace})")
    channels = 4 if color == 6 else 3
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[list[tuple[int, int, int]]] = []
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - corner
                a, b, c = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if a <= b and a <= c else up if b <= c else corner)) & 255
        rows.append([(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels)])
        previous = line
    return rows
