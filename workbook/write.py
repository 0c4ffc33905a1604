"""The only module that writes files: atomically, all rendered before the first is written.

Each file goes to a temporary name in the same folder and is renamed into place, so an
interrupted run never leaves a half-written PDF. Leaves out: rendering.
"""

import os
import tempfile
from pathlib import Path

from workbook.errors import OutputError


def prepare_dir(out_dir: Path) -> Path:
    """Create out_dir if needed; OutputError if it cannot be made or written."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {str(out_dir)!r}: {err.strerror or err}") from None
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        raise OutputError(f"cannot write to output folder {str(out_dir)!r}")
    return out_dir


def write_atomic(path: Path, data: bytes) -> Path:
    """Write data to path through a temporary file and a rename."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise OutputError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    return path


def write_all(out_dir: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write every (file name, bytes) into out_dir; return the paths written."""
    out_dir = prepare_dir(out_dir)
    return [write_atomic(out_dir / name, data) for name, data in files]
