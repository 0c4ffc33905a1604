"""The library's own errors. Only cli.py turns them into click exceptions.

Leaves out: any printing or exit codes.
"""

import os


class WorkbookError(Exception):
    """A problem the user can fix; the message is one line naming it."""


class SpecError(WorkbookError):
    """Bad exercise parameters: unknown name, out-of-range size, impossible combination."""


class CodeError(WorkbookError):
    """A variant code that is malformed, mistyped or from an unknown generator version."""


class GenerationError(SpecError):
    """No hand-friendly problem could be built with these parameters: bad input, like any other
    impossible combination of parameters."""


class CheckError(WorkbookError):
    """The exact and the float computations disagree: never print such a key."""


class OutputError(WorkbookError):
    """An output path that cannot be written."""


QUOTE_LIMIT = 80


def quoted(text, limit: int = QUOTE_LIMIT) -> str:
    """What an error refuses, quoted and cut to its first `limit` characters, on one line:
    'a' * 100 -> "'aaa…aaa…'" (80 characters and an ellipsis); control characters are escaped.
    A path keeps its last `limit` characters instead, so that its file name shows:
    Path('/very/long/…/class.csv') -> "'…/long/class.csv'"."""
    is_path = isinstance(text, os.PathLike)
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    if is_path:
        shown = repr(text[-limit:])
        return shown[0] + "…" + shown[1:]
    shown = repr(text[:limit])
    return shown[:-1] + "…" + shown[-1]
