"""The writer: all files or none, never a half-written one."""

import pytest

from workbook.errors import OutputError
from workbook.write import write_all


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
