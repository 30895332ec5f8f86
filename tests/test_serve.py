"""`nnstep serve` as a class meets it: a real server, a real headless Chromium (Playwright).

If these fail, a teacher's Ctrl-C leaves the server running (or app processes
behind), students' screens stay blank or do not answer keys, an export writes
on the server instead of downloading, a server meant for this machine is
reachable from a web page of another site, or a missing extra prints a
traceback instead of the line that says what to install.

The browser tests skip, with the reason, without Playwright (`pip install
playwright`) or Chromium (Debian's `apt-get install chromium`); `.ci/run`
installs both. xterm.js draws on a canvas (no `.xterm-rows` DOM, no
accessibility tree unless screen-reader mode is on), so the screen is read
from xterm.js's own buffer: an init script keeps the Terminal object that
textual-serve's page makes.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nnstep.engine import Session, load_demo
from nnstep.engine.trace import read_trace, write_trace
from nnstep.tui import serve

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
# Keep the Terminal that textual-serve's page makes (`this.terminal = new Terminal(...)`): its buffer is the screen.
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) { window.nnstepTerminal = value; }
  },
});
"""
SCREEN = """() => {
  const terminal = window.nnstepTerminal;
  if (!terminal) { return ""; }
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- without a server ----------------------------------------------------------


def test_missing_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # `import textual_serve` raises ImportError
    assert serve.main(["--demo", "mazur"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", 'nnstep serve needs the serve extra: pip install "nnstep[serve]"\n')


def test_bad_config_is_one_line_and_nothing_served(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("textual_serve", reason="the serve extra is not installed")
    bad = tmp_path / "net.toml"
    bad.write_text("[model]\nsizes = [2, 'three']\n")
    assert serve.main(["--config", str(bad), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("nnstep: ") and err.count("\n") == 1 and str(bad) in err


def test_a_host_that_does_not_resolve_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("textual_serve", reason="the serve extra is not installed")
    assert serve.main(["--demo", "mazur", "--host", "[/]", "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("nnstep: cannot listen on [/]:0 (no such host: ") and err.count("\n") == 1


def test_visitors_run_the_app_on_the_checked_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert serve.app_command(None, "net.toml") == [sys.executable, "-m", "nnstep.tui.cli", f"--config={tmp_path / 'net.toml'}"]
    assert serve.app_command("mazur", None)[-1] == "--demo=mazur"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("", False), ("::", False),
                                                ("192.168.1.10", False)])
def test_loopback_is_told_apart(host: str, loopback: bool) -> None:
    assert serve.is_loopback(host) is loopback


@pytest.mark.parametrize(("typed", "name"), [
    ("nnstep-trace-mazur-1.json", "nnstep-trace-mazur-1.json"),
    ("/etc/passwd", "passwd.json"),
    ("../../x.json.gz", "x.json.gz"),
    ('a "b";\r\nc.json', "a-b-c.json"),
    ("C:\\Users\\me\\t.json", "t.json"),
    ("...", "fallback.json"),
])
def test_a_download_name_is_a_plain_file_name(typed: str, name: str) -> None:
    assert serve.download_name(typed, "fallback.json") == name


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_trace_in_memory_is_the_file_write_trace_writes(tmp_path: Path, suffix: str) -> None:
    config = load_demo("mazur")
    session = Session(config)
    for _ in range(13):  # into the second iteration: its first op carries the batch rows
        session.step()
    path = tmp_path / f"t{suffix}"
    count = write_trace(path, config.to_dict(), session.iter_records())
    data, steps = serve.trace_bytes(config.to_dict(), session.iter_records(), compress=suffix.endswith(".gz"))
    assert (data, steps) == (path.read_bytes(), count)
    assert len(read_trace(path)["records"]) == 13
    if suffix.endswith(".gz"):
        assert gzip.decompress(data).startswith(b'{"format": "nnstep-trace"')


# -- a server ------------------------------------------------------------------


class Served:
    """A `python -m nnstep.tui.serve` process and the URL it printed.

    It runs in `base`/cwd with $HOME there too (where a stray export would
    land); its output goes to files beside it, not pipes that could fill up.
    """

    def __init__(self, args: list[str], base: Path) -> None:
        self.cwd = base / "cwd"
        (self.cwd / "home").mkdir(parents=True, exist_ok=True)
        self.out, self.err = base / "stdout.txt", base / "stderr.txt"
        env = {**os.environ, "HOME": str(self.cwd / "home"), "XDG_DOWNLOAD_DIR": str(self.cwd / "home" / "Downloads")}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "nnstep.tui.serve", *args], cwd=self.cwd, env=env,
                                            stdout=out, stderr=err)
        deadline = time.monotonic() + 15
        while not (match := re.search(r" at (http://\S+)", self.out.read_text())):
            assert time.monotonic() < deadline and self.process.poll() is None, \
                f"no URL printed; stdout: {self.out.read_text()!r}; stderr: {self.err.read_text()!r}"
            time.sleep(0.05)
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        """Kill it (tests that stop it on purpose have done so already)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


def _children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (read from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _get(url: str, headers: dict[str, str]) -> int:
    try:
        return NO_PROXY.open(urllib.request.Request(url, headers=headers), timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code


def _upgrade(port: int, origin: str) -> int:
    """The status of a websocket handshake on /ws from a page of `origin` (urllib would say Connection: close)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/ws", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": origin})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server of the mazur demo on a free loopback port, for the whole module."""
    pytest.importorskip("textual_serve", reason="the serve extra is not installed (pip install \"nnstep[serve]\")")
    if not sys.platform.startswith("linux"):
        pytest.skip("the process checks read /proc")
    server = Served(["--demo", "mazur", "--port", "0"], tmp_path_factory.mktemp("served"))
    yield server
    server.stop()


def test_host_and_origin_of_another_site_are_refused(served: Served) -> None:
    page = f"http://127.0.0.1:{served.port}/"
    assert _get(page, {}) == 200
    assert _get(page, {"Host": f"rebound.example:{served.port}"}) == 403  # DNS rebinding
    assert _upgrade(served.port, "http://evil.example") == 403  # another site's page in the visitor's browser
    assert _upgrade(served.port, f"http://127.0.0.1:{served.port}") == 101
    assert "fonts.googleapis.com" not in NO_PROXY.open(page, timeout=5).read().decode()


def test_other_hosts_need_host_and_get_a_warning_and_sigterm_stops(tmp_path: Path) -> None:
    pytest.importorskip("textual_serve", reason="the serve extra is not installed")
    server = Served(["--host", "0.0.0.0", "--port", "0"], tmp_path / "all")
    try:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(3) == 0
        err = server.err.read_text()
        assert "warning: listening on 0.0.0.0" in err and "anyone who can reach this address" in err
    finally:
        server.stop()
    quiet = Served(["--port", "0"], tmp_path / "loopback")  # loopback by default: no warning
    try:
        quiet.process.send_signal(signal.SIGINT)
        assert quiet.process.wait(3) == 0
        assert quiet.err.read_text() == ""
    finally:
        quiet.stop()


# -- in Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_context(served: Served) -> Iterator[Any]:
    """A headless Chromium context that keeps xterm.js's Terminal and asks nothing of the internet."""
    try:
        from playwright import sync_api
    except ImportError as error:
        pytest.skip(f"Playwright is not installed (pip install playwright): {error}")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        context.add_init_script(KEEP_TERMINAL)
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        yield context
        browser.close()


def _open(context: Any, served: Served) -> Any:
    page = context.new_page()
    page.goto(served.url)
    _wait_for(page, "forward ▸ loss ▸ backward ▸ update")  # the network pane: the app is up
    page.focus(".xterm-helper-textarea")
    return page


def _wait_for(page: Any, *texts: str, timeout: float = 30) -> str:
    """The screen once it shows all of `texts` (a frame may be drawn in several writes)."""
    deadline = time.monotonic() + timeout
    while True:
        screen: str = page.evaluate(SCREEN)
        if all(text in screen for text in texts):
            return screen
        if time.monotonic() > deadline:
            missing = [text for text in texts if text not in screen]
            raise AssertionError(f"{missing} not on the screen after {timeout} s; the screen:\n{screen}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def visitor(browser_context: Any, served: Served) -> Any:
    """One visitor's page, their app started."""
    return _open(browser_context, served)


def test_a_visitor_steps_and_sees_the_formula(visitor: Any) -> None:
    session = Session(load_demo("mazur"))
    records = [session.step() for _ in range(3)]
    before = visitor.screenshot()
    assert records[2].equation not in visitor.evaluate(SCREEN)
    for _ in records:
        visitor.keyboard.press("n")
    # Every op's formula (the equation pane and the iteration log) and Mazur's net_o1 worked out.
    _wait_for(visitor, *(r.equation for r in records), "z⁽²⁾₁ = 0.5933·0.4 + 0.5969·0.45 + 0.6 = 1.106")
    assert visitor.screenshot() != before


def test_export_downloads_the_trace_to_the_visitor(visitor: Any, served: Served, tmp_path: Path) -> None:
    if "Before the first op" in visitor.evaluate(SCREEN):  # run alone: compute an op to export
        visitor.keyboard.press("n")
        _wait_for(visitor, "this iteration so far")
    visitor.keyboard.press("x")
    _wait_for(visitor, "Export trace", "nnstep-trace-mazur-1.json")
    with visitor.expect_download(timeout=15_000) as download_info:
        visitor.keyboard.press("Enter")
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == "nnstep-trace-mazur-1.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    records = read_trace(saved)["records"]
    session = Session(load_demo("mazur"))
    for record in records:  # the visitor's session, op by op, every number
        expected = session.step()
        assert (record.index, record.equation) == (expected.index, expected.equation)
        assert all(np.array_equal(record.tensors[name], value) for name, value in expected.tensors.items())
    assert records and records[-1].equation in visitor.evaluate(SCREEN)
    written = [p for p in served.cwd.rglob("*") if p.is_file()]  # the server's folder and $HOME (~/Downloads)
    assert written == [], f"the export wrote on the server: {written}"


def test_a_visitor_who_leaves_leaves_no_process(browser_context: Any, served: Served, visitor: Any) -> None:
    before = _children(served.process.pid)
    page = _open(browser_context, served)
    (app,) = _children(served.process.pid) - before
    page.close()
    deadline = time.monotonic() + 6  # asked to quit; killed after QUIT_SECONDS
    while _alive(app) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(app)


def test_ctrl_c_stops_at_once_with_a_visitor_connected(served: Served, visitor: Any) -> None:
    """Last in the module: it stops the module's server."""
    apps = _children(served.process.pid)
    assert apps, "the visitor's app should be running"
    started = time.monotonic()
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(3) == 0
    took = time.monotonic() - started
    assert took < 3, f"Ctrl-C took {took:.1f} s"
    assert [pid for pid in apps if _alive(pid)] == []
    output = served.out.read_text() + served.err.read_text()  # the apps' stderr is copied to stdout
    assert "Traceback" not in output, output
