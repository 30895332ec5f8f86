"""The web server behind `nnstep serve`: textual-serve, with visitors' apps that end when it does.

textual-serve's own `Server.serve()` starts each visitor's app through a shell
in the server's process group and, on Ctrl-C, waits for every app to quit
politely inside aiohttp's 60-second graceful shutdown: with a visitor
connected it was seen ignoring Ctrl-C for ~17 s, until a SIGTERM. Here

- each visitor's app is the `argv` given, run without a shell in a session of
  its own (a Ctrl-C typed at the server's terminal reaches the server alone),
  and the server keeps the set of them;
- SIGINT or SIGTERM sets an event; the server then sends SIGTERM to every
  app's process group, SIGKILL to any still alive after KILL_AFTER seconds,
  closes the websockets and shuts aiohttp down within SHUTDOWN_SECONDS;
- a visitor who leaves has their app told to quit, and killed if it has not
  within QUIT_SECONDS.

Requests are checked as Jupyter checks them: bound to loopback, the Host
header must name loopback (a DNS-rebinding page cannot reach the server under
a name of its own), and a websocket's Origin must match its Host (another
site open in the visitor's browser cannot start a session and read it).

Imported only when serving: it needs the `serve` extra (textual-serve, aiohttp).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import signal
import socket
import sys
from asyncio.subprocess import PIPE, Process
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from nnstep.engine import NnstepError
from nnstep.engine.errors import one_line
from nnstep.tui.serve import is_loopback
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

KILL_AFTER = 1.0  # seconds between SIGTERM and SIGKILL for an app that has not ended
QUIT_SECONDS = 3.0  # a visitor's app asked to quit is killed after this
SHUTDOWN_SECONDS = 1.0  # aiohttp cancels request handlers still running after this
_GOOGLE_FONTS = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>")
_LOCAL_FONT = ("<style>@font-face { font-family: 'Roboto Mono'; "
               "src: url('STATICfonts/RobotoMono-VariableFont_wght.ttf') format('truetype'); }</style>")
_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:\d+)?$|^\[[0-9A-Fa-f:.%]+\](:\d+)?$")

log = logging.getLogger("nnstep.serve")


class VisitorApp(AppService):
    """One visitor's app: `argv` run without a shell, in its own process group, killable at once."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = argv

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=PIPE, stdout=PIPE, stderr=PIPE, env=environment, start_new_session=True
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def running(self) -> bool:
        """The app process has started and not ended."""
        return self._process is not None and self._process.returncode is None

    def signal(self, number: int) -> None:
        """Send `number` to the app's whole process group (it leads a session of its own)."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, number)

    async def ended(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the app process to end; True if it has."""
        if self._process is None:
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._process.wait(), timeout)
        return self._process.returncode is not None

    async def kill(self) -> None:
        """SIGTERM to the app's group, SIGKILL after KILL_AFTER seconds; its downloads are cancelled."""
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        self.signal(signal.SIGTERM)
        if not await self.ended(KILL_AFTER):
            self.signal(signal.SIGKILL)
            await self.ended(KILL_AFTER)

    async def stop(self) -> None:
        """The visitor left: ask the app to quit, kill it if it has not within QUIT_SECONDS."""
        if self._task is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if self.running:
            await self.send_meta({"type": "quit"})
        if not await self.ended(QUIT_SECONDS):
            await self.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._task, QUIT_SECONDS)  # its output read to the end
        self._task = None


class NnstepServer(Server):
    """textual-serve's server, running each visitor's app as `argv` and stopping them all at once."""

    def __init__(self, argv: list[str], host: str, port: int, title: str) -> None:
        super().__init__(shlex.join(argv), host=host, port=port, title=title)
        self.argv = argv
        self.loopback = is_loopback(host)
        self.visitors: set[VisitorApp] = set()
        self.sockets: set[web.WebSocketResponse] = set()

    async def make_app(self) -> web.Application:
        """textual-serve's routes with the Host check in front of them."""
        app = await self._make_app()
        app.middlewares.append(self._check_host)
        return app

    @web.middleware
    async def _check_host(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if not _HOST_HEADER.match(host):
            raise web.HTTPBadRequest(text="nnstep serve: a Host header is needed")
        if self.loopback and not is_loopback(_host_name(host)):
            raise web.HTTPForbidden(text="nnstep serve: this server is for this machine only (open it as "
                                         "http://127.0.0.1 or http://localhost)")
        return await handler(request)

    async def on_startup(self, app: web.Application) -> None:
        """No banner: `serve` prints the one line a user needs."""

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, pointing its websocket at the host the browser asked for, asking no other site for anything.

        textual-serve points the websocket at the address listened on, which a
        browser on another machine cannot use for 0.0.0.0 (nor write for ::1),
        and fetches its font from Google: a classroom offline or behind a
        firewall would wait for it, and every visit would be reported there.
        The same font is in textual-serve's static files.
        """
        base = f"{request.scheme}://{request.host}"
        websocket = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
        page = aiohttp_jinja2.render_string("app_index.html", request, {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": websocket,
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        })
        page = _GOOGLE_FONTS.sub(_LOCAL_FONT.replace("STATIC", f"{base}/static/"), page, count=1)
        return web.Response(text=page, content_type="text/html")

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One visitor: their own app process for as long as the websocket is open."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            raise web.HTTPForbidden(text="nnstep serve: a page of another site cannot open a session")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        visitor = VisitorApp(self.argv, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                             close=websocket.close, download_manager=self.download_manager)
        self.visitors.add(visitor)
        self.sockets.add(websocket)
        try:
            await visitor.start(to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24))
            await self._process_messages(websocket, visitor)
        except Exception:  # noqa: BLE001 - one visitor's failure must not stop the server
            log.exception("a visitor's session failed")
        finally:
            await visitor.stop()
            self.visitors.discard(visitor)
            self.sockets.discard(websocket)
        return websocket

    async def close(self) -> None:
        """Stop every visitor's app at once, then close their websockets."""
        visitors = list(self.visitors)
        await asyncio.gather(*(visitor.kill() for visitor in visitors))
        await asyncio.gather(*(_close(websocket) for websocket in list(self.sockets)))


def _host_name(host: str) -> str:
    """The name in a Host header, without its port ("[::1]:8000" is ::1)."""
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if ":" in host else host


async def _close(websocket: web.WebSocketResponse) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(websocket.close(code=WSCloseCode.GOING_AWAY, message=b"nnstep serve stopped"), 0.5)


async def _serve(argv: list[str], host: str, port: int, title: str, warning: str | None) -> None:
    server = NnstepServer(argv, host, port, title)
    runner = web.AppRunner(await server.make_app(), handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS,
                           access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            # A host that does not resolve is a socket.gaierror, whose negative errno os.strerror does not know.
            if isinstance(error, socket.gaierror):
                why = f"no such host: {error.strerror or error}"
            else:
                why = os.strerror(error.errno) if error.errno else str(error)
            raise NnstepError(f"cannot listen on {one_line(host)}:{port} ({why})") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
        bound = runner.addresses[0][1]  # the port picked for --port 0
        shown = f"[{host}]" if ":" in host else host
        print(f"nnstep serve: {title} at http://{shown}:{bound} (open it in a browser; Ctrl-C stops)", flush=True)
        await stop.wait()
        await server.close()
    finally:
        await runner.cleanup()


def serve(argv: list[str], *, host: str, port: int, title: str, warning: str | None = None) -> int:
    """Serve `argv` (the app's command) to browsers on host:port until SIGINT or SIGTERM; 0 when stopped.

    `warning` is printed on stderr once listening. Raises NnstepError (one
    line) when host:port cannot be listened on.
    """
    logging.basicConfig(level=logging.WARNING, format="nnstep serve: %(message)s")
    asyncio.run(_serve(argv, host, port, title, warning))
    return 0
