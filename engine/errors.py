"""The one error type nnstep raises for anything a user got wrong, and the
one way it reads and writes a user's files.

Every file a user names (a config, a CSV, a trace) is read by
`read_user_file`, and every file nnstep writes for them goes through
`write_atomically`, so "not a regular file", "too large" and "file name too
long" are decided in one place: a FIFO or /dev/zero cannot hang or exhaust a
read, and /dev/null, a FIFO or a folder is never replaced by an export.
The memory a parsed text will take is estimated here too (`parsed_memory`),
and text that is not Unicode is refused (`check_text`) before it can crash
a later write.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

# Refuse inputs, networks and data whose arrays would not fit comfortably in memory.
MEMORY_LIMIT = 4 * 2**30
# A number parsed from JSON or TOML text costs this much as Python objects
# (a float, its list slot, its share of the list): 60-90 bytes measured, with margin.
BYTES_PER_PARSED_NUMBER = 100


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
    """`text` with line breaks and other unprintable characters escaped (\\n, \\x00, \\ud800)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def quoted(text: str, limit: int = 20) -> str:
    """Another file's text (a CSV header cell) for a message: at most `limit` characters, escaped, in quotes."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return "'" + one_line(short).replace("'", "\\'") + "'"


def gib(size: float) -> str:
    """A memory size for a message; Python integers have no ceiling (sizes = [2, 10**400, 2])."""
    return f"about {size / 2**30:.1f} GiB of memory" if size < 2**100 else "more memory than any computer has"


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message: 'a FIFO', 'a character device', …"""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "a special file"


# --- reading ---------------------------------------------------------------------------

_MAX_READ = 0x7FFFF000  # the most Linux reads in one call

# Why a file could not be read, as a code a caller can word its own way (see data.py).
MISSING, FOLDER, SPECIAL, DENIED, FAILED, UNUSABLE, LARGE = (
    "missing", "folder", "special", "denied", "failed", "unusable", "large")


def read_user_file(
    path: Path,
    kind: str,
    limit: int,
    too_large: Callable[[int], str],
    say: Callable[[str, str], NnstepError] | None = None,
) -> bytes:
    """The bytes of a regular file the user named, at most `limit` of them.

    Only a regular file is read: a FIFO, a device (/dev/zero), a socket or a
    folder is refused up front, so an input that never ends cannot hang or
    exhaust memory. The file is opened without blocking (a FIFO with no
    writer would otherwise wait forever) and its size from fstat is checked
    before reading; the read itself is bounded too, in case it grows.

    Every way this can fail becomes one NnstepError line naming the path:
    `kind` names what the file should have been ("a config file"), and
    `too_large(size)` says why a file over `limit` bytes is refused.
    `say(code, detail)`, if given, words the error instead: code is one of
    MISSING, FOLDER, SPECIAL (detail: "a FIFO", …), DENIED, FAILED (detail:
    the system's reason), UNUSABLE (a NUL in the path) or LARGE (detail:
    too_large's text).
    """
    def fail(code: str, detail: str = "") -> NnstepError:
        if say is not None:
            return say(code, detail)
        reason = {
            MISSING: "no such file", FOLDER: f"is a folder, expected {kind}", DENIED: "permission denied",
            SPECIAL: f"is not a regular file ({detail}), expected {kind}", FAILED: f"cannot read ({detail})",
            UNUSABLE: "not a usable path", LARGE: detail,
        }[code]
        return NnstepError(f"{path}: {reason}")

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise fail(MISSING) from None
    except IsADirectoryError:
        raise fail(FOLDER) from None
    except PermissionError:
        raise fail(DENIED, "Permission denied") from None
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket (or a device without its driver): say what it is
            try:
                what = file_kind(os.stat(path).st_mode)
            except OSError:
                what = "a special file"
            raise fail(SPECIAL, what) from None
        raise fail(FAILED, str(error.strerror or error)) from None
    except ValueError:  # a NUL character in the path
        raise fail(UNUSABLE) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise fail(FOLDER)
        if not stat.S_ISREG(info.st_mode):
            raise fail(SPECIAL, file_kind(info.st_mode))
        if info.st_size > limit:
            raise fail(LARGE, too_large(info.st_size))
        chunks: list[bytes] = []
        total, want = 0, info.st_size + 1  # one byte more tells a file that grew since fstat
        while total <= limit:
            chunk = os.read(fd, min(max(want - total, 1 << 20), limit + 1 - total, _MAX_READ))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise fail(FAILED, str(error.strerror or error)) from None
    finally:
        os.close(fd)
    if total > limit:
        raise fail(LARGE, too_large(total))
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parsed_memory(size: int, commas: int) -> int:
    """Bytes that parsing `size` bytes of JSON or TOML text with `commas` commas takes at most.

    The text is held twice (bytes and str) and may parse into a string as
    long as itself; every number becomes a Python object. Numbers are
    separated by commas in both formats, so counting commas counts them
    without parsing (bytes.count runs at memory speed).
    """
    return 3 * size + (commas + 1) * BYTES_PER_PARSED_NUMBER


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def check_text(document: Any, text: str, where: str) -> None:
    """Refuse a string of a parsed JSON `document` that is not Unicode text.

    JSON can spell a lone surrogate ("\\ud800"), which no file can hold as
    UTF-8: it would crash an export later. Only a document whose `text`
    spells one is walked, so large inline data cost one regular-expression scan.
    """
    if not _SURROGATE_ESCAPE.search(text):
        return
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, str):
            _check_string(value, key or "a string", where)
        elif isinstance(value, dict):
            for name, inner in value.items():
                _check_string(name, f"{key}.{name}" if key else name, where)
                stack.append((f"{key}.{name}" if key else name, inner))
        elif isinstance(value, list):
            stack.extend((f"{key}[{i}]", inner) for i, inner in enumerate(value))


def _check_string(value: str, key: str, where: str) -> None:
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        char = value[error.start]
        raise NnstepError(f"{where}: {key} holds a lone surrogate {one_line(char)} at character {error.start + 1}, "
                          "which is not text (write the character itself, or a \\ud83d\\ude00 pair)") from None


# --- writing ---------------------------------------------------------------------------


def _proc_umask() -> int | None:
    """The process umask from /proc (Linux), read without changing it."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import() -> int:
    mask = _proc_umask()
    if mask is None:  # no /proc (macOS): set and restore it once, while the module is imported
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


# os.umask can only be read by setting it, which races with other threads (an
# export runs in a worker thread of the app): read /proc at export time instead.
_UMASK_AT_IMPORT = _umask_at_import()


def current_umask() -> int:
    """The umask a new export's mode is masked with (0666 & ~umask)."""
    mask = _proc_umask()
    return _UMASK_AT_IMPORT if mask is None else mask


class ExportTarget(NamedTuple):
    """Where an export goes: `file` (a symlink's target, so the link stays),
    the mode it gets (an existing file keeps its own; a new one 0666 & ~umask)
    and, for an existing file, its owner (kept when nnstep runs as root).

    A named tuple, not a dataclass: `dataclasses` imports `inspect`, and this
    module is on the path of `nnstep --help` (issue 15: start-up)."""

    file: Path
    mode: int
    owner: tuple[int, int] | None


def export_target(path: Path, verb: str = "export") -> ExportTarget:
    """Check a path nnstep is about to write; one NnstepError line ("path: cannot export, …") if it will not do.

    Only a regular file is replaced, or a new name created. A FIFO, a device
    (as root, /dev/null!), a socket or a folder is refused: replacing it would
    break whatever uses it. A symbolic link is followed: its target is
    replaced and the link kept (a link to something that is not a regular
    file is refused like that thing).
    """
    def refuse(why: str) -> NnstepError:
        return NnstepError(f"{path}: cannot {verb}{why}")

    try:
        try:
            info: os.stat_result | None = os.stat(path)  # follows a symbolic link
        except (FileNotFoundError, NotADirectoryError):  # a new name, or a folder part that is a file (said below)
            info = None
        file = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
        if info is None:
            folder = file.parent if str(file.parent) else Path(".")
            try:
                folder_info: os.stat_result | None = os.stat(folder)
            except (FileNotFoundError, NotADirectoryError):
                folder_info = None
            if folder_info is None or not stat.S_ISDIR(folder_info.st_mode):
                raise refuse(f", the folder {folder} {'does not exist' if folder_info is None else 'is a file, not a folder'}")
            return ExportTarget(file, 0o666 & ~current_umask(), None)
    except OSError as error:  # ENAMETOOLONG, ELOOP, EACCES on a folder part
        raise refuse(f" ({error.strerror or error})") from None
    except ValueError:  # a NUL character in the path
        raise refuse(" (not a usable path)") from None
    if stat.S_ISDIR(info.st_mode):
        raise refuse(", it is a folder")
    if not stat.S_ISREG(info.st_mode):
        link = f", it links to {file}, which" if file != Path(path) else ", it"
        raise refuse(f"{link} is not a regular file ({file_kind(info.st_mode)})")
    return ExportTarget(file, stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid))


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object], verb: str = "export") -> None:
    """Write a file the user named, all or nothing: every export and save goes through here.

    The path is checked first (export_target: a regular file or a new name;
    a link's target). `write(raw)` then writes the content to a temporary
    file `.nnstep-XXXXXXXX.tmp` beside the file (short, so any name the
    folder accepts works), which gets the file's mode (and, as root, owner)
    and replaces it only once `write` has returned: a failure, Ctrl-C or any
    exception leaves an earlier file intact and no temporary file behind.
    An OSError becomes one line, "path: cannot export (reason)"; any other
    exception propagates after the cleanup.
    """
    target = export_target(Path(path), verb)
    try:
        handle, temporary = tempfile.mkstemp(prefix=".nnstep-", suffix=".tmp", dir=target.file.parent)
    except OSError as error:
        raise NnstepError(f"{path}: cannot {verb} ({error.strerror or error})") from None
    try:
        os.fchmod(handle, target.mode)  # mkstemp makes it 0600; an export is an ordinary file of the user's
        if target.owner is not None and target.owner != (0, 0) and os.geteuid() == 0:
            try:  # root replacing a user's file keeps it theirs
                os.fchown(handle, *target.owner)
            except OSError:
                pass
        with os.fdopen(handle, "wb") as raw:
            write(raw)
        os.replace(temporary, target.file)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise NnstepError(f"{path}: cannot {verb} ({error.strerror or error})") from None
        raise
