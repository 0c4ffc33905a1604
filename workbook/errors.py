"""The library's own errors. Only cli.py turns them into click exceptions.

Leaves out: any printing or exit codes.
"""


class WorkbookError(Exception):
    """A problem the user can fix; the message is one line naming it."""


class SpecError(WorkbookError):
    """Bad exercise parameters: unknown name, out-of-range size, impossible combination."""


class CodeError(WorkbookError):
    """A variant code that is malformed, mistyped or from an unknown generator version."""


class GenerationError(WorkbookError):
    """No hand-friendly problem could be built with these parameters."""


class CheckError(WorkbookError):
    """The exact and the float computations disagree: never print such a key."""


class OutputError(WorkbookError):
    """An output path that cannot be written."""
