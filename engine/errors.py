"""The one error type nnstep raises for anything a user got wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


class NnstepError(Exception):
    """Bad input: a config, CSV, trace, expression or path.

    The message is one line that names what is wrong and where, ready to be
    printed as it is; the CLI prints it and exits with status 2.
    """

    def __init__(self, message: str = "") -> None:
        # Messages quote user text (keys, cells, expressions, paths); a newline
        # or control character in it must not break the one line on stderr.
        super().__init__(one_line(str(message)))


def one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped (\\n, \\x00)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def read_user_file(path: Path, kind: str, limit: int, too_large: Callable[[int], str]) -> bytes:
    """The bytes of a file the user named, at most `limit` of them.

    Every way the read can fail becomes one NnstepError line naming the path;
    `kind` names what the file should have been ("a config file"), and
    `too_large(size)` says why a file over `limit` bytes is refused. The read
    is bounded, so `/dev/zero` or a 10 GB file cannot exhaust memory.
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise NnstepError(f"{path}: {too_large(size)}")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise NnstepError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NnstepError(f"{path}: is a folder, expected {kind}") from None
    except PermissionError:
        raise NnstepError(f"{path}: permission denied") from None
    except OSError as error:
        raise NnstepError(f"{path}: cannot read ({error.strerror or error})") from None
    except ValueError:  # a NUL character in the path
        raise NnstepError(f"{path}: not a usable path") from None
    if len(data) > limit:
        raise NnstepError(f"{path}: {too_large(len(data))}")
    return data
