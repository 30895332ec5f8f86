"""The `nnstep` command: parse arguments, load the config, map errors to exit codes.

Exit status: 0 success, 1 a check failed, 2 bad input, 130 interrupted.
Nothing here imports textual unless the app is opened.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn, Sequence

from nnstep.engine import NnstepError, __version__
from nnstep.engine.config import Config

COMMANDS = ("run", "demos", "check", "view")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--demo", metavar="NAME", help="a demo from `nnstep demos` (default: tutorial)")
    source.add_argument("--config", metavar="FILE", help="a config file, TOML or JSON")


def _parser() -> _Parser:
    parser = _Parser(
        prog="nnstep",
        description="Step through neural-network training op by op: forward, loss, backward (δ, gradients), update.",
        epilog="Without a command, opens the step-through app. Commands: run, check, view, demos.",
    )
    parser.add_argument("--version", action="version", version=f"nnstep {__version__}")
    _source_options(parser)
    return parser


def _run_parser() -> _Parser:
    parser = _Parser(prog="nnstep run", description="Train headless; print the loss; optionally export a trace.")
    _source_options(parser)
    parser.add_argument("--iterations", "-n", type=int, default=100, metavar="N", help="iterations to run (default 100)")
    parser.add_argument("--export", metavar="PATH", help="write the trace as JSON (gzip if PATH ends in .gz)")
    parser.add_argument("--every", type=int, default=1, metavar="K", help="trace every K-th iteration only")
    parser.add_argument(
        "--stages", metavar="LIST", help="trace only these stages, comma-separated (forward,loss,backward,update)"
    )
    parser.add_argument("--break", dest="breaks", action="append", default=[], metavar="EXPR",
                        help="stop at the first step where EXPR holds, e.g. 'nan' or 'loss < 0.01' (repeatable)")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nnstep` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in COMMANDS:
            return _settle(_command(args[0], args[1:]), argv)
        options = _parser().parse_args(args)
        config = load_source(options.demo, options.config)
        from nnstep.tui.app import make_app

        make_app(config).run()
        return 0
    except NnstepError as error:
        print(f"nnstep: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnstep: interrupted", file=sys.stderr)
        return _settle(130, argv)
    except BrokenPipeError:
        # The reader went away (`nnstep run | head`): stop quietly with the
        # status of a program ended by SIGPIPE (128 + 13), as cat would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _settle(status: int, argv: Sequence[str] | None) -> int:
    """After an interrupt, ignore further Ctrl-Cs: one arriving while Python shuts
    down would otherwise kill it by SIGINT instead of exiting 130. Only for the
    real command (argv None), never inside a test process."""
    if status == 130 and argv is None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


def _command(name: str, args: list[str]) -> int:
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
    parser = _Parser(prog="nnstep view", description="Open an exported trace read-only in the app.")
    parser.add_argument("trace", metavar="TRACE", help="a trace exported by nnstep (.json or .json.gz)")
    options = parser.parse_args(args)
    from nnstep.engine.trace import read_trace

    trace = read_trace(options.trace)
    from nnstep.tui.app import make_viewer

    make_viewer(trace, options.trace).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
