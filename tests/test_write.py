"""The writer: all files or none, never a half-written one."""

from pathlib import Path

import pytest

from workbook.errors import OutputError


def test_writes_every_file(tmp_path):
    paths = write_all(tmp_path / "out", [("a.pdf", b"A"), ("b.html", b"B")])
    assert [p.read_bytes() for p in paths] == [b"A", b"B"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.pdf", "b.html"]


def test_a_failure_leaves_nothing_behind(tmp_path):
    # the second file cannot be created (its folder would be a file): the first must not appear either
    (tmp_path / "blocker").write_bytes(b"")
    with pytest.raises(OutputError, match="cannot write"):
        write_all(tmp_path, [("a.pdf", b"A"), ("blocker/b.pdf", b"B")])
    assert [p.name for p in tmp_path.iterdir()] == ["blocker"]


def test_files_in_subfolders(tmp_path):
    (path,) = write_all(tmp_path, [("students/01-ada-worksheet.pdf", b"A")])
    assert path == tmp_path / "students" / "01-ada-worksheet.pdf" and path.read_bytes() == b"A"


def test_an_existing_file_is_replaced_whole_or_kept(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"old")
    (tmp_path / "blocker").write_bytes(b"")
    with pytest.raises(OutputError):
        write_all(tmp_path, [("a.pdf", b"new"), ("blocker/b.pdf", b"B")])
    assert (tmp_path / "a.pdf").read_bytes() == b"old"
    write_all(tmp_path, [("a.pdf", b"new")])
    assert (tmp_path / "a.pdf").read_bytes() == b"new"


def test_files_get_the_usual_permissions(tmp_path):
    import os
    mask = os.umask(0o022)
    try:
        (path,) = write_all(tmp_path, [("a.pdf", b"A")])
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


# --- one step, or not at all; nothing of the user's touched --------------------------------------

import json
import os
import stat
import subprocess
import sys

from workbook.write import JOURNAL, RECORD, STAGING, recorded, replacing, write_all, write_file


def _staged(folder, pid, files, committed):
    """A staging folder as a run killed at that moment leaves it."""
    staging = folder / f"{STAGING}{pid}-x"
    for name, data in files:
        (staging / "files" / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / "files" / name).write_bytes(data)
    if committed:
        (staging / JOURNAL).write_text(json.dumps({"files": [n for n, _ in files], "remove": ["old.pdf"]}))
    return staging


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_uncommitted_run_is_cleaned_by_the_next_and_the_old_set_stands(tmp_path):
    write_all(tmp_path, [("a.pdf", b"old A"), ("b.pdf", b"old B")])
    staging = _staged(tmp_path, _dead_pid(), [("a.pdf", b"new A")], committed=False)
    write_all(tmp_path, [("c.pdf", b"C")])
    assert not staging.exists()
    assert (tmp_path / "a.pdf").read_bytes() == b"old A" and (tmp_path / "b.pdf").read_bytes() == b"old B"


def test_a_committed_run_is_finished_by_the_next(tmp_path):
    write_all(tmp_path, [("a.pdf", b"old A"), ("old.pdf", b"gone")])
    # killed after the commit and after moving b.pdf, before a.pdf and the removal
    staging = _staged(tmp_path, _dead_pid(), [("a.pdf", b"new A"), ("students/b.pdf", b"new B")], committed=True)
    (tmp_path / "students").mkdir()
    os.replace(staging / "files" / "students" / "b.pdf", tmp_path / "students" / "b.pdf")
    write_all(tmp_path, [])
    assert not staging.exists() and not (tmp_path / "old.pdf").exists()
    assert (tmp_path / "a.pdf").read_bytes() == b"new A"
    assert (tmp_path / "students" / "b.pdf").read_bytes() == b"new B"


def test_a_live_runs_staging_is_left_alone(tmp_path):
    staging = _staged(tmp_path, os.getppid(), [("a.pdf", b"A")], committed=False)
    write_all(tmp_path, [("b.pdf", b"B")])
    assert staging.exists()


def test_nothing_is_written_through_a_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.pdf").write_bytes(b"mine")
    exam = tmp_path / "exam"
    exam.mkdir()
    (exam / "students").symlink_to(outside)
    with pytest.raises(OutputError, match="link"):
        write_all(exam, [("keys.pdf", b"K"), ("students/01-ada-key.pdf", b"A")])
    (exam / "keys.pdf").symlink_to(outside / "precious.pdf")
    with pytest.raises(OutputError, match="link"):
        write_all(exam, [("keys.pdf", b"K")])
    assert sorted(p.name for p in outside.iterdir()) == ["precious.pdf"]
    assert (outside / "precious.pdf").read_bytes() == b"mine"
    assert not any(p.name.startswith(STAGING) for p in exam.iterdir())


def test_names_stay_inside_the_folder(tmp_path):
    for name in ("../escape.pdf", "/etc/escape.pdf", "a/../../escape.pdf"):
        with pytest.raises(OutputError, match="inside the folder"):
            write_all(tmp_path / "out", [(name, b"x")])
    assert not (tmp_path / "escape.pdf").exists()


def test_force_replaces_and_removes_only_an_earlier_runs_own_unchanged_files(tmp_path):
    write_all(tmp_path, [("keys.pdf", b"K1"), ("students/01-a.pdf", b"A"), ("students/02-b.pdf", b"B"),
                         ("manifest.csv", b"M")], record=True)
    assert set(recorded(tmp_path)) == {"keys.pdf", "students/01-a.pdf", "students/02-b.pdf", "manifest.csv"}
    (tmp_path / "students" / "notes.pdf").write_bytes(b"my notes")
    (tmp_path / "manifest.csv").write_bytes(b"M, with my marks")  # changed since: kept
    with pytest.raises(OutputError, match="--force"):
        replacing(tmp_path, ["keys.pdf"], force=False)
    change = replacing(tmp_path, ["keys.pdf", "students/01-a.pdf"], force=True)
    assert change.replaced == ("keys.pdf", "students/01-a.pdf")
    assert change.removed == ("students/02-b.pdf",) and change.kept == ("manifest.csv",)
    write_all(tmp_path, [("keys.pdf", b"K2"), ("students/01-a.pdf", b"A2")], change.removed, record=True)
    assert (tmp_path / "students" / "notes.pdf").read_bytes() == b"my notes"
    assert (tmp_path / "manifest.csv").read_bytes() == b"M, with my marks"
    assert not (tmp_path / "students" / "02-b.pdf").exists()
    assert set(recorded(tmp_path)) == {"keys.pdf", "students/01-a.pdf"}


def test_force_refuses_a_file_in_the_way_that_it_did_not_write(tmp_path):
    (tmp_path / "keys.pdf").write_bytes(b"left by hand")
    with pytest.raises(OutputError, match="not written by moe-workbook"):
        replacing(tmp_path, ["keys.pdf", "worksheets.pdf"], force=True)
    write_all(tmp_path, [("worksheets.pdf", b"W")], record=True)
    (tmp_path / "worksheets.pdf").write_bytes(b"W, annotated")
    with pytest.raises(OutputError, match="changed since"):
        replacing(tmp_path, ["worksheets.pdf"], force=True)


def test_a_forged_record_cannot_reach_outside(tmp_path):
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"x")
    exam = tmp_path / "exam"
    exam.mkdir()
    (exam / RECORD).write_text(json.dumps({"written-by": "moe-workbook", "files": {
        "../outside.pdf": {"size": 1, "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}}}))
    assert recorded(exam) == {}
    assert outside.exists()


def test_a_device_is_written_through_never_replaced(tmp_path):
    assert write_file(Path("/dev/null"), b"x") == Path("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if os.path.exists("/dev/full"):
        with pytest.raises(OutputError, match="No space left"):
            write_file(Path("/dev/full"), b"x")
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="nothing reads"):  # no reader: refused, not a hang
        write_file(fifo, b"x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(OutputError, match="folder"):
        write_file(tmp_path, b"x")


def test_a_link_is_refused_unless_the_system_keeps_it(tmp_path):
    """A planted link (even a dangling one) never sends the file elsewhere, nor makes folders
    along it; /dev/stdout is written through, appending, never renamed over."""
    target = tmp_path / "real.toml"
    target.write_text("old")
    link = tmp_path / "mine.toml"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="is a link"):
        write_file(link, b"new")
    dangling = tmp_path / "dang.toml"
    dangling.symlink_to(tmp_path / "elsewhere" / "deep" / "x.toml")
    with pytest.raises(OutputError, match="is a link"):
        write_file(dangling, b"new")
    assert target.read_text() == "old" and not (tmp_path / "elsewhere").exists()
    log = tmp_path / "log.txt"
    log.write_text("precious\n")
    script = ("import sys; from pathlib import Path; from workbook.write import write_file; "
              "write_file(Path('/dev/stdout'), b'answers\\n')")
    with open(log, "a") as out:
        subprocess.run([sys.executable, "-c", script], stdout=out, check=True)
    assert log.read_text() == "precious\nanswers\n"


def test_an_earlier_versions_temporary_files_are_cleaned(tmp_path):
    """Only those of the names written now: a .part file of another tool's stays."""
    (tmp_path / ".keys.pdf.a1b2_c3d.part").write_bytes(b"half")
    (tmp_path / ".notes.pdf.a1b2_c3d.part").write_bytes(b"someone else's")
    (tmp_path / ".notes.part").write_bytes(b"someone else's")
    write_all(tmp_path, [("keys.pdf", b"K")])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.part", ".notes.pdf.a1b2_c3d.part", "keys.pdf"]


def test_a_set_that_cannot_all_move_in_is_undone_whole(tmp_path, monkeypatch):
    """A rename that fails half-way (an immutable file, a sticky folder): the old set stands."""
    import workbook.write as write

    write_all(tmp_path, [("a.pdf", b"old A"), ("b.pdf", b"old B"), ("c.pdf", b"old C")], record=True)
    real = os.replace

    def failing(src, dst):
        if str(dst).endswith("c.pdf") and "files" in str(src):
            raise PermissionError(1, "Operation not permitted")
        return real(src, dst)

    monkeypatch.setattr(write.os, "replace", failing)
    with pytest.raises(OutputError, match="not permitted"):
        write_all(tmp_path, [("a.pdf", b"new A"), ("b.pdf", b"new B"), ("c.pdf", b"new C")], record=True)
    monkeypatch.setattr(write.os, "replace", real)
    assert [(tmp_path / n).read_bytes() for n in ("a.pdf", "b.pdf", "c.pdf")] == [b"old A", b"old B", b"old C"]
    assert set(recorded(tmp_path)) == {"a.pdf", "b.pdf", "c.pdf"}
    assert not any(p.name.startswith(STAGING) for p in tmp_path.iterdir())
    write_all(tmp_path, [("a.pdf", b"new A")])
    assert (tmp_path / "a.pdf").read_bytes() == b"new A"


def test_a_killed_set_that_cannot_be_finished_is_undone_by_the_next_run(tmp_path, monkeypatch):
    import workbook.write as write

    write_all(tmp_path, [("a.pdf", b"old A"), ("b.pdf", b"old B")])
    staging = _staged(tmp_path, _dead_pid(), [("a.pdf", b"new A"), ("b.pdf", b"new B")], committed=True)
    (staging / "old").mkdir()
    os.replace(tmp_path / "a.pdf", staging / "old" / "a.pdf")  # killed after a.pdf moved in
    os.replace(staging / "files" / "a.pdf", tmp_path / "a.pdf")
    real = os.replace

    def failing(src, dst):
        if str(src).endswith("files/b.pdf"):
            raise PermissionError(1, "Operation not permitted")
        return real(src, dst)

    monkeypatch.setattr(write.os, "replace", failing)
    write.recover(tmp_path)
    monkeypatch.setattr(write.os, "replace", real)
    assert (tmp_path / "a.pdf").read_bytes() == b"old A" and (tmp_path / "b.pdf").read_bytes() == b"old B"
    assert not staging.exists()
