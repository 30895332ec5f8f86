"""The one error type nnstep raises for anything a user got wrong."""

from __future__ import annotations


class NnstepError(Exception):
    """Bad input: a config, CSV, trace, expression or path.

    The message is one line that names what is wrong and where, ready to be
    printed as it is; the CLI prints it and exits with status 2.
    """
