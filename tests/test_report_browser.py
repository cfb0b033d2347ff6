"""The report as a person sees it: headless Chromium opens ``index.html``, every figure decodes, and
the page logs no error.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so the test needs no driver package
and downloads nothing; it uses whatever ``chromium`` is on PATH (Debian's package, which ``.ci/run``
installs) and is skipped, saying so, where there is none.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from actlab import plot, report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0  # generous: a loaded 2-core machine starts Chromium in a few seconds


@pytest.fixture(scope="module")
def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        f"no headless browser on PATH (looked for {', '.join(BROWSERS)}); install Debian's "
        "chromium (apt-get install chromium), as .ci/run does"
    )


class DevTools:
    """A headless Chromium and a DevTools-protocol session over ``--remote-debugging-pipe``."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.log = workdir / "chromium.log"
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        # the browser reads fd 3 and writes fd 4; sources above 10 so the dup2s cannot collide
        child = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
        os.close(to_browser)
        os.close(from_browser)
        argv = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--no-default-browser-check", "--remote-debugging-pipe",
                f"--user-data-dir={workdir / 'profile'}", "about:blank"]  # fmt: skip
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(self.log), os.O_WRONLY | os.O_CREAT, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, child[0], 3),
            (os.POSIX_SPAWN_DUP2, child[1], 4),
        ]
        try:  # posix_spawn, not fork + preexec_fn: safe in a process that runs JAX threads
            self.pid = os.posix_spawn(executable, argv, os.environ, file_actions=actions)
        finally:
            for fd in child:
                os.close(fd)
        self._buffer, self._next_id, self.events = b"", 0, []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise TimeoutError(f"Chromium sent nothing in time; its log:\n{self.log_tail()}")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise EOFError(f"Chromium closed the pipe; its log:\n{self.log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._receive(deadline))

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError, EOFError):
            self.call("Browser.close")
        for _ in range(50):
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self._reader)
        os.close(self._writer)


_PROBE = """JSON.stringify({
  images: Array.from(document.images, i => ({alt: i.alt, complete: i.complete,
                                              width: i.naturalWidth, height: i.naturalHeight})),
  sections: Array.from(document.querySelectorAll("section h2"), h => h.textContent),
  tables: document.querySelectorAll("table").length,
})"""


def open_page(executable: str, page: Path, workdir: Path) -> tuple[dict, list[str]]:
    """Load ``page`` in headless Chromium: what the page shows, and every error it logged.

    Errors are uncaught exceptions, ``console.error``/``console.assert`` calls, and browser log
    entries of level error (a resource that failed to load, a blocked request, ...).
    """
    devtools = DevTools(executable, workdir)
    try:
        target = devtools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = devtools.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        sid = session["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            devtools.call(f"{domain}.enable", session=sid)
        devtools.call("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
        devtools.wait_for("Page.loadEventFired")
        probe = devtools.call(
            "Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, session=sid
        )
        shown = json.loads(probe["result"]["value"])
    finally:
        devtools.close()
    errors = []
    for event in devtools.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description", details["text"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
    return shown, errors


def _figure(path: Path, title: str) -> list[Path]:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 0])
    ax.set_title(title)
    written = plot.save(fig, path)
    plt.close(fig)
    return written


def test_report_figures_load_in_chromium_and_the_page_logs_no_error(browser, tmp_path):
    out = tmp_path / "report"
    sections = []
    for key, figures in (("first", ["a", "b"]), ("second", ["c"])):
        for name in figures:
            _figure(out / key / name, f"figure {name}")
        sections.append({
            "key": key, "title": f"section {key} <&> quoted \"title\"", "summary": "x < y & z",
            "figures": [f"{name}.{ext}" for name in figures for ext in ("png", "svg")],
            "table": [{"a": 1, "b": "<b>"}, {"a": 2, "b": 3.5}],
        })  # fmt: skip
    index = report.write(out, sections, {"mode": "test", "note": "<script>alert(1)</script>"})

    shown, errors = open_page(browser, index, tmp_path)

    assert errors == []
    assert [image["alt"] for image in shown["images"]] == ["a", "b", "c"]  # every PNG, embedded
    for image in shown["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    assert shown["sections"] == [f"{n}. section {k} <&> quoted \"title\"" for n, k in
                                 ((1, "first"), (2, "second"))]  # fmt: skip
    assert shown["tables"] == 2


def test_the_browser_check_sees_broken_figures_and_script_errors(browser, tmp_path):
    (good,) = [p for p in _figure(tmp_path / "good", "good") if p.suffix == ".png"]
    page = tmp_path / "broken.html"
    page.write_text(
        f'<!doctype html><html><body><img alt="good" src="{good.name}">'
        '<img alt="corrupt" src="data:image/png;base64,AAAA"><img alt="missing" src="nope.png">'
        "<script>undefined_function();</script><script>console.error('boom')</script>"
        "</body></html>"
    )

    shown, errors = open_page(browser, page, tmp_path)

    widths = {image["alt"]: image["width"] for image in shown["images"]}
    assert widths["good"] > 0 and widths["corrupt"] == 0 and widths["missing"] == 0
    assert any("undefined_function is not defined" in e for e in errors), errors
    assert any("boom" in e for e in errors) and any("nope.png" in e for e in errors), errors


@pytest.mark.slow
def test_quick_reproduce_report_loads_in_chromium(browser, tmp_path):
    from actlab.reproduce import reproduce

    index = reproduce(tmp_path / "report", quick=True, progress=False)
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    pngs = [f for s in results["sections"] for f in s.get("figures", []) if f.endswith(".png")]

    shown, errors = open_page(browser, index, tmp_path)

    assert errors == []
    assert len(shown["images"]) == len(pngs) > 0
    assert all(image["complete"] and image["width"] > 0 for image in shown["images"])
    assert len(shown["sections"]) == len(results["sections"])
