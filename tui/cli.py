"""The `nnstep` command: parse arguments, load the config, map errors to exit codes.

Exit status: 0 success, 1 a check failed (or two traces differ), 2 bad input,
128 + the signal's number when stopped by one (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP),
141 when the reader of standard output went away.
Nothing here imports textual unless the app is opened.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from nnstep.engine import __version__
from nnstep.engine.errors import NnstepError

if TYPE_CHECKING:
    from nnstep.engine.config import Config

COMMANDS = ("run", "demos", "check", "view", "diff", "explain", "serve")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole(text: str) -> int:
    """A whole number written with the digits 0-9 (as every dialog and the breakpoint grammar read them):
    int() alone takes '٣' as 3 and '1_000' as 1000."""
    plain = text.strip()
    digits = plain[1:] if plain[:1] in "+-" else plain
    if not digits or not all("0" <= c <= "9" for c in digits) or len(digits) > 30:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number written with the digits 0-9")
    return int(plain)


class _Ignore(argparse.Action):
    """`--ignore N` after a `--break`: N hits of that breakpoint to let pass (kept in `ignores`, by its number)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        breaks = getattr(namespace, "breaks", None) or []
        if not breaks:
            parser.error("--ignore N follows the --break it applies to, e.g. --break 'loss increased' --ignore 3")
        if values < 0:
            parser.error(f"--ignore must be 0 or more, got {values}")
        ignores = dict(getattr(namespace, "ignores", None) or {})
        ignores[len(breaks)] = values
        namespace.ignores = ignores


def _source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--demo", metavar="NAME", help="a demo from `nnstep demos` (default: tutorial)")
    source.add_argument("--config", metavar="FILE", help="a config file, TOML or JSON")


def _parser() -> _Parser:
    parser = _Parser(
        prog="nnstep",
        description="Step through neural-network training op by op: forward, loss, backward (δ, gradients), update.",
        epilog="Without a command, opens the step-through app. Commands: run, check, view, diff, explain, serve, demos.",
    )
    parser.add_argument("--version", action="version", version=f"nnstep {__version__}")
    _source_options(parser)
    return parser


def _run_parser() -> _Parser:
    parser = _Parser(prog="nnstep run", description="Train headless; print the loss; optionally export a trace.")
    _source_options(parser)
    parser.add_argument("--iterations", "-n", type=_whole, default=100, metavar="N", help="iterations to run (default 100)")
    parser.add_argument("--export", metavar="PATH", help="write the trace as JSON (gzip if PATH ends in .gz)")
    parser.add_argument("--every", type=_whole, default=1, metavar="K", help="trace every K-th iteration only")
    parser.add_argument(
        "--stages", metavar="LIST", help="trace only these stages, comma-separated (forward,loss,backward,update)"
    )
    parser.add_argument("--break", dest="breaks", action="append", default=[], metavar="EXPR",
                        help="stop at the first step where EXPR holds, e.g. 'nan' or 'loss < 0.01' (repeatable)")
    parser.add_argument("--ignore", action=_Ignore, type=_whole, metavar="N",
                        help="let the first N hits of the --break before it pass, as the app's B list does (i)")
    parser.add_argument("--watch", dest="watches", action="append", default=[], metavar="EXPR",
                        help="add a column with EXPR's value to the loss lines, e.g. 'norm(dW1)' or 'max(z2)' (repeatable)")
    parser.add_argument("--health", action="store_true", help="print per-layer gradient health at the end")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    return parser


def load_source(demo: str | None, config: str | None) -> Config:
    """The Config named by --demo or --config (the tutorial demo by default)."""
    from nnstep.engine import load_config, load_demo

    if config is not None:
        if not config.strip():  # --config "" must not quietly open the default demo
            raise NnstepError("--config: give a file path, e.g. --config net.toml")
        return load_config(config)
    return load_demo("tutorial" if demo is None else demo)


class _StreamError(Exception):
    """Writing to standard output failed (a full disk, a closed pipe): said as such, not blamed on a file."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class _PrintableOutput:
    """Standard output for the headless commands: text a user gave (a file name with ESC
    in it, a config's description) reaches the terminal with control characters escaped,
    and a failing write is a _StreamError naming the stream."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if not text.isprintable():
            text = "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _StreamError(error) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _StreamError(error) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nnstep` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    try:
        if args and args[0] in COMMANDS:
            sys.stdout = _PrintableOutput(stdout)  # type: ignore[assignment]
            status = _command(args[0], args[1:], real=argv is None)
            sys.stdout.flush()  # a full disk shows here, not as a warning at exit
            return _settle(status, argv)
        options = _parser().parse_args(args)
        config = load_source(options.demo, options.config)
        _need_terminal(argv is None, "`nnstep run` trains without one")
        from nnstep.tui.app import make_app

        app = make_app(config)
        app.run()
        return app.return_code or 0  # 1 only when the app could not go on (its one line names the log)
    except NnstepError as error:
        print(f"nnstep: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnstep: interrupted", file=sys.stderr)
        return _settle(130, argv)
    except _StreamError as failed:
        _silence(stdout)
        print(f"nnstep: standard output: {failed.error.strerror or failed.error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`nnstep run | head`): stop quietly with the
        # status of a program ended by SIGPIPE (128 + 13), as cat would.
        _silence(stdout)
        return 141
    finally:
        sys.stdout = stdout


def _need_terminal(real: bool, instead: str) -> None:
    """Refuse to open the app where it cannot be seen: it would write escape codes into a file forever.

    Only for the real command (`real`); tests and `nnstep serve` (TEXTUAL_DRIVER) drive it without one."""
    stdout = sys.__stdout__
    if real and not os.environ.get("TEXTUAL_DRIVER") and not (stdout is not None and stdout.isatty() and sys.stdin.isatty()):
        raise NnstepError(f"the app needs a terminal (standard input and output are not one here); {instead}")


def _silence(stdout: Any) -> None:
    """Point standard output at /dev/null: what is left in its buffer must not fail again at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's capture)
        pass


def _settle(status: int, argv: Sequence[str] | None) -> int:
    """After an interrupt, ignore further Ctrl-Cs: one arriving while Python shuts
    down would otherwise kill it by SIGINT instead of exiting 130. Only for the
    real command (argv None), never inside a test process."""
    if status in (129, 130, 143) and argv is None:
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
    return status


def _command(name: str, args: list[str], real: bool = False) -> int:
    if name == "demos":
        _Parser(prog="nnstep demos", description="List the demo configs.").parse_args(args)
        from nnstep.engine.demos import demo_description, demo_names

        names = demo_names()
        width = max(map(len, [*names, "torch_tutorial"]))
        for demo in names:
            print(f"{demo:<{width}}  {demo_description(demo)}")
        print(f"{'torch_tutorial':<{width}}  the tutorial's PyTorch program + nnstep.debug (needs torch): "
              "python -m nnstep.demos.torch_tutorial")
        return 0
    if name == "run":
        options = _run_parser().parse_args(args)
        from nnstep.tui import headless

        return headless.run(load_source(options.demo, options.config), options)
    if name == "check":
        parser = _Parser(prog="nnstep check", description="Check dW and db against central finite differences.")
        _source_options(parser)
        options = parser.parse_args(args)
        from nnstep.tui import headless

        return headless.check(load_source(options.demo, options.config))
    if name == "serve":
        from nnstep.tui import serve

        return serve.main(args)
    if name == "diff":
        return _diff(args)
    if name == "explain":
        return _explain(args)
    parser = _Parser(prog="nnstep view", description="Open an exported trace read-only in the app.")
    parser.add_argument("trace", metavar="TRACE", help="a trace exported by nnstep (.json, .json.gz or .npz)")
    parser.add_argument("--unverified", action="store_true",
                        help="open it even if its numbers disagree with a replay of its own config")
    parser.add_argument("--compare", metavar="B", help="a trace of the same network: d shows each op's tensors as Δ against it")
    options = parser.parse_args(args)
    from nnstep.engine.config import build_config
    from nnstep.engine.trace import read_trace, verify_trace

    paths = [options.trace, *([options.compare] if options.compare else [])]
    traces = [read_trace(path) for path in paths]
    for path, trace in zip(paths, traces):
        if not options.unverified:
            # A trace is a file anyone can edit: its worked arithmetic must be the engine's, not shown as if true.
            wrong = verify_trace(build_config(trace["config"], f"{path}: config"), trace["records"])
            if wrong is not None:
                raise NnstepError(f"{path}: {wrong} (the trace was edited, or made by another program; "
                                  "--unverified opens it anyway)")
    _need_terminal(real, "jq or `nnstep diff` read a trace without one")
    from nnstep.tui.app import make_viewer

    if options.compare:
        app = make_viewer(traces[0], options.trace, compare=(traces[1], options.compare))
    else:
        app = make_viewer(traces[0], options.trace)
    app.run()
    return app.return_code or 0


def _diff(args: list[str]) -> int:
    """`nnstep diff A B`: 0 identical, 1 they differ (the first difference and a table), 2 bad input."""
    parser = _Parser(prog="nnstep diff", description="Compare two traces op by op.")
    parser.add_argument("first", metavar="A", help="a trace exported by nnstep")
    parser.add_argument("second", metavar="B", help="another trace of the same network")
    parser.add_argument("--tolerance", type=float, default=0.0, metavar="T",
                        help="differences up to T count as equal (default 0: exact)")
    options = parser.parse_args(args)
    if not options.tolerance >= 0:  # NaN too
        raise NnstepError(f"--tolerance must be a number >= 0, got {options.tolerance}")
    from nnstep.engine.config import build_config
    from nnstep.engine.diff import check_same_network, compare
    from nnstep.engine.trace import read_trace

    a, b = read_trace(options.first), read_trace(options.second)
    config_a = build_config(a["config"], f"{options.first}: config")
    config_b = build_config(b["config"], f"{options.second}: config")
    check_same_network(config_a, config_b, options.first, options.second)
    result = compare(a["records"], b["records"], options.tolerance)
    if result.identical:
        print(f"identical: {result.compared} steps")
        return 0
    if result.first:
        print(result.first)
    if result.only:
        print(f"steps: {result.only}")
    if result.tensors:
        width = max(len(d.name) for d in result.tensors)
        print(f"{'tensor':<{width}}  {'max |Δ|':>12}  {'at index':>8}  {'steps':>5}")
        for d in result.tensors:
            print(f"{d.name:<{width}}  {d.largest:>12.6g}  {d.index:>8}  {d.steps:>5}")
    print(f"compared {result.compared} steps: they differ")
    return 1


def _explain(args: list[str]) -> int:
    """`nnstep explain`: a handout of one iteration (Markdown, LaTeX or a notebook), atomically written."""
    parser = _Parser(prog="nnstep explain", description="Write a worked example of one iteration, op by op.")
    _source_options(parser)
    parser.add_argument("--iteration", type=_whole, default=1, metavar="K", help="the iteration to work out (default 1)")
    parser.add_argument("--format", choices=("md", "tex", "ipynb"), default=None,
                        help="md (Markdown with LaTeX math), tex (a LaTeX document) or ipynb (a notebook that "
                             "recomputes every number); default: from -o's extension, else md")
    parser.add_argument("-o", "--output", metavar="PATH", help="write here (default: standard output)")
    options = parser.parse_args(args)
    if not 1 <= options.iteration <= EXPLAIN_LIMIT:
        raise NnstepError(f"--iteration must be from 1 to {EXPLAIN_LIMIT:,}, got {options.iteration}")
    fmt = options.format
    if fmt is None:
        suffix = os.path.splitext(options.output or "")[1].lower().lstrip(".")
        formats = {"": "md", "md": "md", "markdown": "md", "txt": "md", "tex": "tex", "ipynb": "ipynb"}
        if suffix not in formats:  # Markdown written into out.docx would open as a broken file
            raise NnstepError(f"-o {options.output}: no handout format ends in .{suffix} "
                              "(.md, .tex or .ipynb; or say which with --format)")
        fmt = formats[suffix]
    config = load_source(options.demo, options.config)
    from nnstep.tui.explain import handout

    text = handout(config, options.iteration, fmt)
    if options.output is None:
        sys.stdout.write(text)
        return 0
    from nnstep.engine.trace import write_text

    write_text(options.output, text)
    print(f"wrote {options.output} ({fmt}, iteration {options.iteration}, {len(config.schedule)} ops)", file=sys.stderr)
    return 0


EXPLAIN_LIMIT = 1_000_000  # iterations replayed to reach the one to explain


if __name__ == "__main__":
    sys.exit(main())
