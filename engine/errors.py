"""The one error type nnstep raises for anything a user got wrong."""

from __future__ import annotations


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
