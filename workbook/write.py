"""The only module that writes files: atomically, all rendered before the first is written.

Every file goes to a temporary name in the same folder first; only when all are written are
they renamed into place, so an interrupted or failed run never leaves a half-written PDF.
Leaves out: rendering.
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


def write_all(out_dir: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write every (file name, bytes) into out_dir; return the paths written.

    Two phases: every file is first written in full under a temporary name, and only then are
    they renamed into place, so a failure (disk full, permission) leaves none of them behind.
    """
    out_dir = prepare_dir(out_dir)
    mode = 0o666 & ~_umask()  # what open() would give; mkstemp's own 0600 would hide files from others
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files:
            path = out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)  # 'students/01-ada-worksheet.pdf'
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"cannot write into {str(out_dir)!r}: {err.strerror or err}") from None
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
    return [path for _, path in staged]


def remove_stale(out_dir: Path, written: list[str], patterns: list[str]) -> list[Path]:
    """Delete the files matching `patterns` in out_dir that are not among `written` (names relative
    to out_dir): what an earlier, larger run left behind. Returns what was removed."""
    out_dir, keep = Path(out_dir), {Path(out_dir) / name for name in written}
    gone = []
    for pattern in patterns:
        for path in out_dir.glob(pattern):
            if path.is_file() and path not in keep:
                try:
                    path.unlink()
                except OSError as err:
                    raise OutputError(f"cannot remove old file {str(path)!r}: {err.strerror or err}") from None
                gone.append(path)
    return gone


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
