"""An interrupted class set goes on with --resume (issue 17): the chunks laid out before the
interruption are kept in the exam folder's .moe-workbook-parts/ and taken as they are, the others
laid out, and the files are the very bytes of one uninterrupted run. A kept chunk that does not
belong (another command, a damaged file) is laid out again, never trusted."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import workbook.exam as exam_module
from workbook.exam import build_exam, chunk_key, chunk_size, plan_exam
from workbook.presets import preset
from workbook.write import PARTS, Parts

pytestmark = pytest.mark.pdf
PRESET = "token-choice-5x6"


def _plan(n=6, seed=3):
    return plan_exam([preset(PRESET)], seed, variants=n)


class Stop(Exception):
    pass


def test_an_interrupted_set_resumes_to_the_same_bytes(tmp_path, monkeypatch):
    plan = _plan()
    (tmp_path / "whole").mkdir()
    whole = {name: data.read_bytes() if isinstance(data, Path) else data
             for name, data in build_exam(plan, jobs=1, parts=Parts(tmp_path / "whole", resume=False))}

    laid = []
    real = exam_module._chunk_pdfs
    monkeypatch.setattr(exam_module, "_chunk_pdfs", lambda job: laid.append(job[0]) or real(job))

    def stop_after(n):
        seen = []

        def progress(label):
            seen.append(label)
            if len(seen) == n:
                raise Stop
        return progress

    size = chunk_size(len(plan))
    assert 1 < size < len(plan)
    with pytest.raises(Stop):  # interrupted after the first chunk was joined
        build_exam(plan, jobs=1, progress=stop_after(size), parts=Parts(tmp_path, resume=False))
    assert len(laid) == 1 and len(list((tmp_path / PARTS).glob("*.json"))) == 1
    laid.clear()
    resumed = {name: data.read_bytes() if isinstance(data, Path) else data  # joined on disk, not in memory
               for name, data in build_exam(plan, jobs=1, parts=Parts(tmp_path, resume=True))}
    assert resumed == whole
    assert len(laid) == -(-len(plan) // size) - 1  # the kept chunk not laid out again
    first = {a.student.row for a in laid[0]}
    assert first == set(range(size + 1, 2 * size + 1))  # rows count from 1


def test_a_chunk_of_another_command_or_a_damaged_one_is_laid_out_again(tmp_path, monkeypatch):
    plan = _plan(4)
    parts = Parts(tmp_path, resume=False)
    build_exam(plan, jobs=1, parts=parts)
    first = plan[:chunk_size(len(plan))]
    key = chunk_key(first, "a4", False, {})
    assert (tmp_path / PARTS / f"{key}.json").is_file()
    assert chunk_key(first, "letter", False, {}) != key
    assert chunk_key(first, "a4", False, {"title": "Quiz"}) != key
    # a damaged PDF file name in the facts: the chunk is not taken
    facts = json.loads((tmp_path / PARTS / f"{key}.json").read_text())
    facts["worksheet"] = {"file": "../../etc/passwd"}
    (tmp_path / PARTS / f"{key}.json").write_text(json.dumps(facts))
    assert Parts(tmp_path, resume=True).load(key) is None
    (tmp_path / PARTS / f"{key}.json").write_text("{not json")
    assert Parts(tmp_path, resume=True).load(key) is None
    # without --resume the kept chunks go
    Parts(tmp_path, resume=False)
    assert not list((tmp_path / PARTS).iterdir())


def test_killed_from_the_command_line_and_resumed(tmp_path):
    """`exam` killed mid-layout (SIGKILL) keeps what it laid out; the same command with --resume
    writes the bytes of an uninterrupted run and removes the kept chunks."""
    args = [sys.executable, "-m", "workbook", "exam", PRESET, "--variants", "12", "--jobs", "1"]  # 2 chunks
    reference = tmp_path / "reference"
    subprocess.run(args + ["--out", str(reference)], check=True, capture_output=True, timeout=300)
    out = tmp_path / "exam"
    proc = subprocess.Popen(args + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / PARTS).glob("*.json")) if (out / PARTS).is_dir() else []) < 1:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(list((out / PARTS).glob("*.json")))
    assert kept >= 1  # the first chunk kept
    done = subprocess.run(args + ["--out", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not (out / PARTS).exists()
    for name in ("worksheets.pdf", "keys.pdf", "manifest.csv", "manifest.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_a_disk_too_small_is_said_before_the_set_is_laid_out(tmp_path, monkeypatch):
    """The first chunk tells the set's size: with less room than that, one line and nothing written."""
    from collections import namedtuple

    from click.testing import CliRunner

    import workbook.write
    from workbook.cli import cli

    laid = []
    real = exam_module._chunk_pdfs
    monkeypatch.setattr(exam_module, "_chunk_pdfs", lambda job: laid.append(job) or real(job))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(workbook.write.shutil, "disk_usage", lambda path: usage(10 ** 9, 10 ** 9 - 50_000, 50_000))
    out = tmp_path / "exam"
    result = CliRunner().invoke(cli, ["exam", PRESET, "--variants", "40", "--jobs", "1", "--out", str(out)],
                                prog_name="moe-workbook")
    assert result.exit_code in (1, 2), result.output
    message = result.output.strip().splitlines()
    assert len(message) == 1 and "not enough disk space" in message[0] and "50.0 kB free" in message[0]
    assert len(laid) == 1  # refused after the first chunk, not after the whole set
    assert not out.exists() or not [p for p in out.rglob("*")]


def test_the_set_joined_on_disk_looks_as_the_one_joined_in_memory(tmp_path):
    """StreamedPdf (a class set with its chunks on disk, memory flat) against JoinedPdf (qpdf in
    memory): the same pages as pictures, the same bookmarks on the same pages, the same title."""
    from pypdf import PdfReader

    from conftest import pictures

    plan = plan_exam([preset(PRESET), preset("router-gradient-top2")], 5, variants=2)
    (tmp_path / "disk").mkdir()
    memory = dict(build_exam(plan, jobs=1, options={"solutions": True}))
    disk = dict(build_exam(plan, jobs=1, options={"solutions": True}, parts=Parts(tmp_path / "disk", resume=False)))

    def outline(reader):
        out = []

        def walk(items, depth):
            for item in items:
                if isinstance(item, list):
                    walk(item, depth + 1)
                else:
                    out.append((depth, item.title, reader.get_destination_page_number(item)))
        walk(reader.outline, 0)
        return out

    for name in ("worksheets.pdf", "keys.pdf", "solutions.pdf"):
        a, b = memory[name], disk[name].read_bytes()
        ra, rb = PdfReader(io.BytesIO(a)), PdfReader(io.BytesIO(b))
        assert len(ra.pages) == len(rb.pages) > 0
        assert outline(ra) == outline(rb) and outline(ra)
        assert ra.metadata.title == rb.metadata.title
        assert pictures(a, tmp_path, name + "-memory", dpi=30) == pictures(b, tmp_path, name + "-disk", dpi=30), name


def test_a_link_planted_in_the_parts_folder_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (tmp_path / "exam").mkdir()
    parts = Parts(tmp_path / "exam", resume=False)
    key = "0" * 24
    (parts.folder / f".{key}.json.{os.getpid()}.tmp").symlink_to(victim)
    (parts.folder / "joined-worksheet.pdf").symlink_to(victim)
    parts.save(key, {"students": []})
    from workbook.binding import StreamedPdf
    StreamedPdf(parts.joined("worksheet")).close("t")
    assert not parts.joined("worksheet").is_symlink()
    assert victim.read_text() == "mine"
