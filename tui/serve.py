"""`nnstep serve`: the step-through app in a browser, one app process per visitor.

Teachers show nnstep in class; students open it where they cannot install a
terminal app. textual-serve (the optional `serve` extra) runs the ordinary
`nnstep` app for each browser that connects. This module checks the command
line once before anything is served, and holds what the app needs in a
browser: there an export is a download to the visitor, never a file on the
server, so the trace is built in memory (`trace_bytes`) under a name that
cannot be a path (`download_name`).

Only the standard library and the engine are imported here, because the app
imports this module; the server itself is nnstep.tui.web, imported only to serve.
Tensors in a trace are batch rows as the engine holds them: z has shape
(B, n_l), W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import re
import socket
import sys
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from nnstep.engine import NnstepError
from nnstep.engine.errors import one_line
from nnstep.engine.records import StepRecord
from nnstep.engine.trace import stream_trace
from nnstep.tui.cli import _Parser, _source_options, load_source

EXTRA_MISSING = 'nnstep serve needs the serve extra: pip install "nnstep[serve]"'
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_NAME = 120  # characters of a download's file name


def parser() -> argparse.ArgumentParser:
    """The arguments of `nnstep serve` (usage errors are one line and exit 2)."""
    parser = _Parser(
        prog="nnstep serve",
        description="Serve the step-through app to web browsers: each visitor gets a session of their own.",
        epilog="Listens on 127.0.0.1 (this machine only) unless --host says otherwise. "
               "In the browser, x (export) downloads the trace to the visitor. Ctrl-C stops the server.",
    )
    _source_options(parser)
    parser.add_argument("--host", default=DEFAULT_HOST, metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 lets other machines in)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="PORT",
                        help="port to listen on (default 8000; 0 picks a free one)")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the extra and the config once, then serve until SIGINT or SIGTERM; return the exit status.

    0 after Ctrl-C or SIGTERM (the way to stop a server), 2 for a missing extra,
    a bad config or an address that cannot be listened on.
    """
    options = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        import aiohttp  # noqa: F401
        import textual_serve  # noqa: F401
    except ImportError:
        print(EXTRA_MISSING, file=sys.stderr)
        return 2
    try:
        config = load_source(options.demo, options.config)
        command = app_command(options.demo, options.config)
        warning = None if is_loopback(options.host) else (
            f"nnstep serve: warning: listening on {one_line(options.host)}, not only this machine: anyone who can "
            "reach this address can use nnstep here (each visitor runs it on this machine)")
        from nnstep.tui import web

        return web.serve(command, host=options.host, port=options.port, title=f"nnstep · {config.name}", warning=warning)
    except NnstepError as error:
        print(f"nnstep: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the server's own handlers are in place
        print("nnstep serve: interrupted", file=sys.stderr)
        return 130


def app_command(demo: str | None, config: str | None) -> list[str]:
    """The command each visitor's app runs: this Python, the `nnstep` entry, the same source.

    A config file is named by its absolute path, so the visitors' apps read the
    file that was checked at start whatever their working folder.
    """
    command = [sys.executable, "-m", "nnstep.tui.cli"]
    if config is not None:
        return [*command, f"--config={os.path.abspath(config)}"]
    if demo is not None:
        return [*command, f"--demo={demo}"]
    return command


def is_loopback(host: str) -> bool:
    """True if `host` names only this machine (127.0.0.0/8, ::1, localhost); "" and 0.0.0.0 are every address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    if host.lower() == "localhost":
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


def trace_bytes(config: dict[str, Any], records: Iterable[StepRecord], *, compress: bool = False) -> tuple[bytes, int]:
    """The trace file `write_trace` would write for `config` and `records`, as bytes in memory, and how many records.

    The engine's own writer into memory (engine.trace.stream_trace): byte for byte
    the same file, gzip-compressed as a `.gz` export is when `compress`. Used by the
    app in a browser, where an export is downloaded by the visitor and nothing is
    written on the server. Raises NnstepError for a config that is not Unicode or not strict JSON.
    """
    buffer = io.BytesIO()
    count = stream_trace(buffer, config, records, form="json.gz" if compress else "json")
    return buffer.getvalue(), count


def download_name(text: str, default: str) -> str:
    """A file name for a download from what a visitor typed: no folders, no quotes, no control characters.

    The browser names the file; the server never reads the text as a path. Letters,
    digits, `.`, `_`, `-` are kept, anything else becomes `-`; an empty result is
    `default`; a name without .json or .json.gz gets .json.
    """
    name = PurePosixPath(text.replace("\\", "/").strip()).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:MAX_NAME] or default
    return name if name.endswith((".json", ".json.gz")) else name + ".json"


def download_type(name: str) -> str:
    """The MIME type of a trace download named `name` (gzip or JSON)."""
    return "application/gzip" if name.endswith(".gz") else "application/json"


if __name__ == "__main__":
    sys.exit(main())
