"""The only module that writes files: a set of files replaces the old set as one step, or not at all.

write_all stages every file in a hidden folder inside the output folder
(`.moe-workbook-staging-PID-…/`), then commits by renaming a journal into it (one atomic rename:
before it the old set stands, after it the new one), then moves the files into place and removes
what the journal says to remove. A run killed at any moment leaves either an uncommitted staging
folder, which the next run in that folder deletes, or a committed one, which the next run finishes;
so the folder holds the old set or the new one. Nothing is written through a link, or into a
folder that is a link: a link where a file goes is refused. An exam folder keeps a record of the
files it wrote (`.moe-workbook-files.json`, with their sizes and SHA-256), and `--force` replaces
or removes only files in that record and unchanged since. write_file writes one file a user named
(a device or a FIFO is written through, never renamed over). Parts keeps a class set's finished
chunks in the exam folder while it is laid out, for `exam --resume`. Leaves out: rendering.
"""

import errno
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workbook.errors import OutputError, quoted

STAGING = ".moe-workbook-staging-"
PARTS = ".moe-workbook-parts"  # a class set's finished chunks, kept for --resume until the set is written
JOURNAL = "commit.json"
RECORD = ".moe-workbook-files.json"
_MAX_RECORD = 64 << 20  # a record larger than this was not written by us
_OLD_PART = re.compile(r"\..+\.(pdf|html|json|xml|csv|toml)\.[a-z0-9_]{8}\.part")


def prepare_dir(out_dir: Path) -> Path:
    """Create out_dir if needed, finish or clean an interrupted earlier run in it; OutputError if
    it cannot be made or written."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {quoted(out_dir)}: {err.strerror or err}") from None
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        raise OutputError(f"cannot write to output folder {quoted(out_dir)}")
    recover(out_dir)
    return out_dir


def write_all(out_dir: Path, files: list[tuple[str, bytes | Path]], remove: tuple[str, ...] = (),
              record: bool = False) -> list[Path]:
    """Write every (relative name, bytes) into out_dir as one step and delete the files `remove`
    names; return the paths written. Data given as a Path is a file made already (a class set's
    PDFs joined on disk): linked (or copied) in, never read into memory. With `record`, the
    folder's record lists exactly these files."""
    out_dir = prepare_dir(out_dir)
    if record:
        files = list(files) + [(RECORD, _record_bytes(files))]
    names = [_relative(name) for name, _ in files]
    mode = 0o666 & ~_umask()  # what open() would give; mkstemp's own 0600 would hide files from others
    staging, committed = None, False
    try:
        for name in names:
            _check_target(out_dir, name)
            _drop_old_part(out_dir, name)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING}{os.getpid()}-", dir=out_dir))
        for name, (_, data) in zip(names, files):
            path = staging / "files" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, Path):  # a file laid out on disk already (a class set's joined PDFs)
                _link_or_copy(data, path)
            else:
                with open(path, "wb") as handle:
                    handle.write(data)
            os.chmod(path, mode)
        for name in names:  # every folder the files go into, made (and checked) before the commit
            _make_parents(out_dir, name)
        journal = staging / (JOURNAL + ".part")
        journal.write_text(json.dumps({"files": [str(n) for n in names], "remove": list(remove)}))
        with _signals_held():  # Ctrl-C or SIGTERM waits for the set to be in place
            os.replace(journal, staging / JOURNAL)  # the commit: from here on the new set stands
            committed = True
            try:
                _apply(out_dir, staging)
            except OSError:
                _undo(out_dir, staging)  # the old set back, as it was; nothing of the new one
                committed = False
                raise
    except OSError as err:
        raise OutputError(f"cannot write into {quoted(out_dir)}: {err.strerror or err}") from None
    finally:
        if staging is not None and not committed:
            shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in names if str(name) != RECORD]


def _drop_old_part(out_dir: Path, rel: PurePosixPath) -> None:
    """An earlier version's temporary file for this very name ('.keys.pdf.a1b2c3d4.part'), left by
    an interrupted run: removed, as the next run of that version would have."""
    folder = Path(out_dir) / rel.parent
    if folder.is_dir() and _inside(out_dir, folder):
        for part in folder.glob(f".{glob.escape(rel.name)}.*.part"):
            if _OLD_PART.fullmatch(part.name) and part.is_file() and not part.is_symlink():
                part.unlink(missing_ok=True)


@contextmanager
def _signals_held():
    """Hold Ctrl-C and SIGTERM back (in the main thread) while a committed set moves into place:
    they arrive after it, so only a kill -9 or a power cut can stop it half-way, and the next run
    finishes that."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def recover(out_dir: Path) -> None:
    """Finish a committed set that a killed run left staged in out_dir (or, if it cannot be
    finished, put the old set back), and delete uncommitted ones; staging folders of runs still
    alive are left alone. OutputError when neither can be done: the staging folder is kept, and
    the folder is not written into until that is sorted out."""
    try:
        entries = [p for p in Path(out_dir).iterdir() if p.name.startswith(STAGING)]
    except OSError:
        return
    for staging in entries:
        if staging.is_symlink() or not staging.is_dir() or _alive(staging.name):
            continue
        if (staging / JOURNAL).is_file():
            try:
                _apply(Path(out_dir), staging)
            except (OSError, ValueError, KeyError, OutputError):
                try:
                    _undo(Path(out_dir), staging)
                except (OSError, ValueError, KeyError, OutputError) as err:
                    raise OutputError(f"an interrupted run in {quoted(out_dir)} could not be finished or undone "
                                      f"({err}); its files are kept in {quoted(staging.name)}") from None
        shutil.rmtree(staging, ignore_errors=True)


def _apply(out_dir: Path, staging: Path) -> None:
    """Move the committed files into place, each file it replaces (and each it removes) first set
    aside in the staging folder's old/ so that _undo can put it back; then drop the staging."""
    journal = json.loads((staging / JOURNAL).read_text())
    for name in journal["files"]:
        source = staging / "files" / name
        if source.is_file():  # a file moved already by an interrupted apply is not there any more
            rel = _relative(name)
            _make_parents(out_dir, rel)
            _set_aside(out_dir, staging, rel)
            os.replace(source, out_dir / rel)
    for name in journal["remove"]:
        rel = _relative(name)
        path = out_dir / rel
        if _inside(out_dir, path.parent) and path.is_file() and not path.is_symlink():
            _set_aside(out_dir, staging, rel)
    shutil.rmtree(staging, ignore_errors=True)


def _set_aside(out_dir: Path, staging: Path, rel: PurePosixPath) -> None:
    path, old = Path(out_dir) / rel, staging / "old" / rel
    if os.path.lexists(path) and not old.exists():
        old.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, old)


def _undo(out_dir: Path, staging: Path) -> None:
    """Put the old set back after a failed or interrupted apply: the new files that moved in go
    back to the staging folder, the old ones set aside return."""
    journal = json.loads((staging / JOURNAL).read_text())
    for name in journal["files"] + journal["remove"]:
        rel = _relative(name)
        path, new, old = Path(out_dir) / rel, staging / "files" / rel, staging / "old" / rel
        if name in journal["files"] and not new.exists() and os.path.lexists(path):
            new.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, new)
        if old.exists() or old.is_symlink():
            os.replace(old, path)
    (staging / JOURNAL).unlink(missing_ok=True)


def _alive(staging_name: str) -> bool:
    """Whether the process that made this staging folder still runs."""
    try:
        pid = int(staging_name[len(STAGING):].split("-")[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return pid != os.getpid()  # our own process cleans up its staging before it returns


def _relative(name) -> PurePosixPath:
    """'students/01-ada.pdf' -> a path inside the folder; refuses absolute paths and '..'."""
    rel = PurePosixPath(str(name))
    if rel.is_absolute() or not rel.parts or any(part in ("", ".", "..") for part in rel.parts):
        raise OutputError(f"refusing to write {quoted(name)}: not a plain file name inside the folder")
    return rel


def _inside(out_dir: Path, folder: Path) -> bool:
    """Whether `folder` (inside out_dir by name) is reached without passing through a link."""
    here = Path(out_dir)
    for part in Path(folder).relative_to(out_dir).parts:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            return False
    return True


def _make_parents(out_dir: Path, rel: PurePosixPath) -> None:
    here = Path(out_dir)
    for part in rel.parts[:-1]:
        here = here / part
        if here.is_symlink():
            raise OutputError(f"{quoted(here)} is a link: moe-workbook writes only inside {quoted(out_dir)}, "
                              "never through a link")
        here.mkdir(exist_ok=True)


def _check_target(out_dir: Path, rel: PurePosixPath) -> None:
    """A file may replace a regular file only: never a link, a folder, a device."""
    path = Path(out_dir) / rel
    if not _inside(out_dir, path.parent):
        raise OutputError(f"cannot write {quoted(rel)} into {quoted(out_dir)}: {quoted(rel.parent)} is a link "
                          "or a file, and moe-workbook writes only inside the output folder, never through a link")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        what = "a link" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode) else "not a file"
        raise OutputError(f"{quoted(path)} is {what}: moe-workbook replaces only files; move it away")


def write_file(path: Path, data: bytes) -> Path:
    """One file a user named: replaced whole (through a staging folder beside it). A device, a
    FIFO, or a link kept by the system (/dev/stdout, /proc/self/fd/1) is written through, never
    renamed over; any other link is refused (in a shared folder, a link planted where your file
    goes would send it elsewhere), and so are a folder and a socket."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise OutputError(f"cannot write {quoted(path)}: {err.strerror or err}") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        if str(path.absolute()).startswith(("/dev/", "/proc/")):
            return _write_through(path, data)
        raise OutputError(f"{quoted(path)} is a link: give the file itself (moe-workbook does not write through links)")
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            return _write_through(path, data)
        raise OutputError(f"{quoted(path)} is {'a folder' if stat.S_ISDIR(st.st_mode) else 'not a file'}: "
                          "give a file name")
    written = write_all(path.parent, [(path.name, data)])
    return written[0]


def _write_through(path: Path, data: bytes) -> Path:
    try:
        # O_NONBLOCK: a FIFO nobody reads is refused, not a hang; O_APPEND: `>> log` stays a log
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
    except OSError as err:
        why = "nothing reads from it" if err.errno == errno.ENXIO else err.strerror or err
        raise OutputError(f"cannot write {quoted(path)}: {why}") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as err:
        raise OutputError(f"cannot write {quoted(path)}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    return path


# --- the record of what a run wrote, for --force ---------------------------------------------

def _link_or_copy(source: Path, target: Path) -> None:
    """`source` at `target` too: a hard link (the same disk, no second copy), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _digest(data) -> tuple[int, str]:
    """(size, SHA-256) of bytes, or of a file read a block at a time."""
    if not isinstance(data, Path):
        return len(data), hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open(data, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return data.stat().st_size, digest.hexdigest()


def _record_bytes(files) -> bytes:
    entries = {}
    for name, data in files:
        size, sha = _digest(data)
        entries[str(_relative(name))] = {"size": size, "sha256": sha}
    return (json.dumps({"written-by": "moe-workbook", "files": entries}, indent=1, sort_keys=True) + "\n").encode()


def recorded(out_dir: Path) -> dict:
    """The record of the files an earlier run wrote into out_dir: {name: {size, sha256}}; {} if none."""
    path = Path(out_dir) / RECORD
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_RECORD:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data.get("files", {}) if data.get("written-by") == "moe-workbook" else {}
        return {name: v for name, v in files.items() if isinstance(v, dict) and _safe_name(name)}
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}


def _safe_name(name) -> bool:
    try:
        _relative(name)
        return isinstance(name, str)
    except OutputError:
        return False


def _unchanged(out_dir: Path, name: str, entry: dict) -> bool:
    """The file is still as the record says we wrote it (a regular file, reached without links)."""
    path = Path(out_dir) / name
    if not _inside(out_dir, path.parent) or path.is_symlink() or not path.is_file():
        return False
    try:
        if path.stat().st_size != entry.get("size"):
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest() == entry.get("sha256")
    except OSError:
        return False


@dataclass(frozen=True)
class Replacement:
    """What writing a new set over an earlier run's means: files replaced, files removed (the
    earlier run's that the new one does not write), and the earlier run's files kept because
    they changed since."""

    replaced: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


def _ours(out_dir: Path) -> list[str]:
    """Every file and link below out_dir (relative names), without following links, leaving out our
    own staging folders and record."""
    found = []
    for root, dirs, names in os.walk(out_dir):
        rel_root = Path(root).relative_to(out_dir)
        dirs[:] = [d for d in dirs if not (rel_root == Path(".") and (d.startswith(STAGING) or d == PARTS))]
        for d in dirs:
            if os.path.islink(os.path.join(root, d)):
                found.append(str(PurePosixPath(rel_root / d)))
        found += [str(PurePosixPath(rel_root / n)) for n in names if not (rel_root == Path(".") and n == RECORD)]
    return sorted(found)


def replacing(out_dir: Path, new_names: list[str], force: bool) -> Replacement:
    """Check that a new set may go into out_dir. Without `force` the folder must hold nothing;
    with it, every file in the way must be one an earlier run recorded and nobody changed since.
    OutputError naming the first file in the way otherwise."""
    out_dir = Path(out_dir)
    present = _ours(out_dir) if out_dir.is_dir() else []
    if not present:
        return Replacement((), (), ())
    if not force:
        raise OutputError(f"folder {quoted(out_dir)} already has files: use --force to replace "
                          "what an earlier run wrote there")
    record = recorded(out_dir)
    unchanged = {name for name, entry in record.items() if _unchanged(out_dir, name, entry)}
    new = {str(_relative(n)) for n in new_names}
    for name in present:
        if name in new and name not in unchanged:
            if name in record:
                why = "changed since moe-workbook wrote it"
            elif not record:  # also a folder written before moe-workbook kept its record
                why = "not written by moe-workbook as far as it can tell (the folder has no record of a run; older versions kept none)"
            else:
                why = "not written by moe-workbook"
            raise OutputError(f"{quoted(name)} in {quoted(out_dir)} is {why}: move it away, or choose "
                              "another folder (--force replaces only an earlier run's own files)")
    replaced = tuple(n for n in present if n in new)
    removed = tuple(n for n in sorted(unchanged) if n not in new)
    kept = tuple(n for n in sorted(record) if n not in new and n not in unchanged and n in present)
    return Replacement(replaced, removed, kept)


def _size(n: int) -> str:
    """12345678 -> '12.3 MB'."""
    for unit, scale in (("GB", 10 ** 9), ("MB", 10 ** 6), ("kB", 10 ** 3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Parts:
    """A class set's finished chunks, each kept in OUT/.moe-workbook-parts/ the moment it is laid out,
    so that an interrupted run (Ctrl-C, a kill, a full disk) goes on with `--resume` where it stopped.

    A chunk is stored under a key naming everything it depends on (exam.chunk_key): its PDFs as
    files, then its facts as JSON, written last, each by a rename, so a chunk whose JSON is there is
    whole. Reading one back trusts nothing: the JSON is size-limited and its shape checked, and any
    file missing, too big or malformed makes the chunk be laid out again. Without `resume` the
    folder starts empty; `finish` removes it once the set is written. Only names of our own pattern
    are ever read or removed, never through a link."""

    _NAME = re.compile(r"([0-9a-f]{24}(-\d{1,6})?|joined-[a-z]+)\.(json|pdf)")
    _MAX_JSON = 16 << 20
    _MAX_PDF = 1 << 30

    def __init__(self, out_dir: Path, resume: bool):
        self.folder = Path(out_dir) / PARTS
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            raise OutputError(f"{quoted(self.folder)} is not a folder moe-workbook made: move it away")
        if not resume:
            self.finish()
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as err:
            raise OutputError(f"cannot create {quoted(self.folder)}: {err.strerror or err}") from None

    def load(self, key: str):
        """The chunk stored under `key` (each PDF as the path of its file, read when it is joined),
        or None."""
        path = self.folder / f"{key}.json"
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > self._MAX_JSON:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
            return self._inflate(data, key) if data.pop("chunk", None) == key else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def _inflate(self, value, key: str):
        if isinstance(value, dict):
            if set(value) == {"file"}:
                name = value["file"]
                if not (isinstance(name, str) and self._NAME.fullmatch(name) and name.startswith(key)):
                    raise ValueError(name)
                path = self.folder / name
                if path.is_symlink() or not path.is_file() or path.stat().st_size > self._MAX_PDF:
                    raise ValueError(name)
                with open(path, "rb") as handle:
                    if handle.read(5) != b"%PDF-":
                        raise ValueError(name)
                return path
            return {k: self._inflate(v, key) for k, v in value.items()}
        if isinstance(value, list):
            return [self._inflate(v, key) for v in value]
        return value

    def save(self, key: str, result):
        """Store a chunk: each bytes value as a file, then the rest as JSON (the commit). Returns
        the chunk with the path of each file in place of its bytes (nothing of it left in memory)."""
        count = iter(range(10 ** 6))

        def flat(value):
            if isinstance(value, bytes):
                name = f"{key}-{next(count)}.pdf"
                self._put(name, value)
                return {"file": name}
            if isinstance(value, dict):
                return {k: flat(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [flat(v) for v in value]
            return value
        try:
            facts = flat(result) | {"chunk": key}
            self._put(f"{key}.json", json.dumps(facts, ensure_ascii=False).encode())
        except OSError as err:
            raise OutputError(f"cannot write into {quoted(self.folder)}: {err.strerror or err}") from None
        facts.pop("chunk")
        return self._inflate(facts, key)

    def joined(self, side: str) -> Path:
        """Where a side's joined PDF is written before it moves into place: 'joined-worksheet.pdf'."""
        return self.folder / f"joined-{side}.pdf"

    def _put(self, name: str, data: bytes) -> None:
        """Write a file by a rename, never through a link left where the temporary file goes."""
        temporary = self.folder / f".{name}.{os.getpid()}.tmp"
        temporary.unlink(missing_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, self.folder / name)

    def check_room(self, needed: int) -> None:
        """OutputError, before the set is laid out, when the disk cannot hold `needed` more bytes."""
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError:
            return
        if needed > free:
            raise OutputError(f"not enough disk space in {quoted(self.folder.parent)} for this class set: about "
                              f"{_size(needed)} needed, {_size(free)} free (free some space, or write it elsewhere "
                              "with --out)")

    def tidy(self) -> None:
        """After a failed run: the half-joined files go (a resumed run joins again), and the folder
        too if no chunk was kept in it (nothing to resume)."""
        for path in self.folder.glob("joined-*.pdf"):
            if self._NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            pass

    def finish(self) -> None:
        """Remove the chunks (and the folder, once empty): the set is written, or starts afresh."""
        if not self.folder.is_dir() or self.folder.is_symlink():
            return
        for path in self.folder.iterdir():
            if (self._NAME.fullmatch(path.name) or path.name.endswith(".tmp")) and path.is_file() \
                    and not path.is_symlink():
                path.unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            pass
