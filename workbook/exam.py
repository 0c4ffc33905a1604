"""Class sets: one variant per student (or forms A, B, ...), every worksheet and every key.

plan_exam fixes who gets what: a student's variant of each preset comes from the exam seed and the
student's row (a hash, so running it again gives the same set and adding a student changes no one
else's sheets); with forms, from the exam seed and the form letter. build_exam lays the sheets out,
in parallel across the machine's cores (WeasyPrint is imported once per worker), and returns the
files: worksheets.pdf and keys.pdf in roster order, each student starting on an odd page for
double-sided printing, a manifest as CSV and JSON, and on request the worked solutions
(solutions.pdf, options' `solutions`), each student's own PDFs and a Moodle XML import. Leaves out: reading the roster (roster.py) and writing files (write.py).
"""

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from workbook.errors import GenerationError, SpecError
from workbook.presets import Preset
from workbook.render_html import printable, render_html
from workbook.roster import Student
from workbook.sheet import build_sheet
from workbook.solutions import scaffold
from workbook.solve import Solution, solve
from workbook.spec import Spec, make_spec
from workbook.workers import worker_pool

MAX_FORMS = 26
_RESEEDS = 20
_CHUNK = 15  # most students per layout job: fewer PDFs to join, yet progress shown as jobs finish
_PER_PROCESS = 30  # fewest students that pay for a worker process of their own


@dataclass(frozen=True)
class Assignment:
    """One student's (or one form's) variants: (preset name, solved variant) in exam order."""

    student: Student
    form: str
    solutions: tuple[tuple[str, Solution], ...]
    problems: tuple[str, ...] = ()  # problem_id of each solution, worked out once when planned

    @property
    def label(self) -> str:
        """'Ada Lovelace', 'form B', or 'variant 3' for an unnamed sheet."""
        return self.student.name or (f"form {self.form}" if self.form else f"variant {self.student.row}")


@dataclass(frozen=True)
class Planned:
    """A variant as a large class's plan keeps it: its spec and code. Its solution is worked out
    again where its sheet is made (solve is deterministic), so a plan of thousands of students does
    not hold thousands of solutions (about 20 kB each)."""

    spec: Spec
    code: str

    def solved(self) -> Solution:
        return _recent.pop(self.code, None) or solve(self.spec)


_recent: dict = {}  # code -> a Planned variant's solution, solved while planning: taken once when its
_RECENT = 64        # sheet is made in this process (the last few planned; not a copy of the plan)


def _remember(sol: Solution) -> None:
    _recent[sol.code] = sol
    while len(_recent) > _RECENT:
        _recent.pop(next(iter(_recent)))


def solved(sol) -> Solution:
    """A plan's variant as a Solution, whether the plan keeps it whole or as Planned."""
    return sol.solved() if isinstance(sol, Planned) else sol


def variant_seed(exam_seed: int, who: str, preset: str, attempt: int = 0) -> int:
    """(7, 'row 3', 'token-choice-ffn') -> a 32-bit seed, the same on every run and machine."""
    text = f"moe-workbook exam {exam_seed} {who} {preset} {attempt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def plan_exam(presets: list[Preset], exam_seed: int, students: tuple[Student, ...] = (),
              variants: int = 0, forms: int = 0, light: bool = False) -> tuple[Assignment, ...]:
    """Every student's variants; distinct codes per preset across students (or forms). With
    `light`, each variant is kept as Planned (spec and code), not as its whole solution."""
    if forms and not 1 <= forms <= MAX_FORMS:
        raise SpecError(f"--forms must be from 1 to {MAX_FORMS}, not {forms}")
    if not students:
        if forms:
            students = tuple(Student(i + 1, "") for i in range(forms))
        elif variants >= 1:
            students = tuple(Student(i + 1, "") for i in range(variants))
        else:
            raise SpecError("give --variants N (N >= 1) or --roster FILE")
    letters = [chr(ord("A") + i) for i in range(forms)]
    by_key: dict[str, tuple] = {}
    used: dict[str, set] = {p.name: set() for p in presets}  # the problems (problem_id) given so far
    plan = []
    for s in students:
        form = letters[(s.row - 1) % forms] if forms else ""
        key = f"form {form}" if forms else f"row {s.row}"
        if key not in by_key:
            chosen = [_variant(p, exam_seed, key, used[p.name]) for p in presets]
            if light:
                for sol, _ in chosen:
                    _remember(sol)
            by_key[key] = (tuple((p.name, Planned(sol.spec, sol.code) if light else sol)
                                 for p, (sol, _) in zip(presets, chosen)),
                           tuple(problem for _, problem in chosen))
        plan.append(Assignment(s, form, *by_key[key]))
    return tuple(plan)


def _variant(preset: Preset, exam_seed: int, key: str, used: set) -> tuple[Solution, str]:
    """(solution, problem_id) of the first derived seed that generates a problem no other student
    has; when the preset has no new problem left (Mixtral's sizing sheet has 4), the first that
    generates: shared."""
    first = None
    for attempt in range(_RESEEDS):
        spec: Spec = make_spec(preset.exercise, preset.params, variant_seed(exam_seed, key, preset.name, attempt))
        try:
            sol = solve(spec)
        except GenerationError:
            continue
        problem = problem_id(sol)
        if problem not in used:
            used.add(problem)
            return sol, problem
        first = first or (sol, problem)
    if first is None:
        raise GenerationError(f"could not build a variant of {preset.name} for {key}")
    return first


def problem_id(sol: Solution) -> str:
    """A short name of the problem itself (inputs and answers, not the seed): two students with the
    same problem_id of a preset have the same problem, whatever their codes."""
    text = repr((sol.spec.kind, sorted(sol.spec.params.items()), sol.problem.inputs(),
                 [(st.id, st.exact) for st in sol.steps]))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def shared_problems(plan: tuple[Assignment, ...]) -> dict[str, tuple[int, int]]:
    """{preset: (distinct problems, sheets)} for every preset whose sheets share problems (forms
    aside: a form is shared by design)."""
    sheets: dict[str, dict] = {}
    for a in plan:
        for (name, _), problem in zip(a.solutions, a.problems):
            sheets.setdefault(name, {})[a.form or a.student.row] = problem
    return {name: (len(set(ids.values())), len(ids)) for name, ids in sheets.items()
            if len(set(ids.values())) < len(ids)}


def _sheet(a: Assignment, sol: Solution, paper: str, options: dict):
    """A student's sheet. options: title, font_size, scaffold (faded | guided | standard | exam)."""
    sol = solved(sol)
    sheet = scaffold(sol, build_sheet(sol, paper), options.get("scaffold") or "standard")
    return dataclasses.replace(sheet, student=a.student.name, form=a.form,
                               title=options.get("title") or sheet.title,
                               font_size=options.get("font_size") or 0.0)


def _html_pair(a: Assignment, sol: Solution, paper: str, options: dict) -> tuple[str, str]:
    """A student's worksheet and key HTML; options as _sheet's, and template_dir."""
    sheet, folder = _sheet(a, sol, paper, options), options.get("template_dir") or ""
    return render_html(sheet, False, folder), render_html(sheet, True, folder)


def _printable(a: Assignment, sol: Solution, paper: str, options: dict):
    """What the PDF step lays out for a student's variant (render_html.Printable)."""
    return printable(_sheet(a, sol, paper, options), options.get("template_dir") or "")


def _solutions_html(a: Assignment, sol: Solution, paper: str, options: dict) -> str:
    """A student's worked solutions: the key of their variant (the exam's title, size and
    name; never scaffolded: every box answered) with the working under each step."""
    from workbook.render_html import render_solutions
    from workbook.solutions import sections, worked

    sol = solved(sol)
    sheet = _sheet(a, sol, paper, {**options, "scaffold": "standard"})
    return render_solutions(sheet, sections(sheet, worked(sol, sheet)), options.get("template_dir") or "")


def _chunk_pdfs(job) -> dict:
    """Worker: the worksheets and keys of a run of students, laid out and drawn as one PDF per
    side (each student's pages padded to an even count), with each student's page counts and
    bookmarks, and their own PDFs when asked; with options' `solutions`, each student's worked
    solutions too (one PDF per sheet: pages, bookmarks)."""
    from workbook.plate import lay_out
    from workbook.render_pdf import print_alone, print_sheets

    chunk, paper, options, single = job
    # each preset's pages are laid out once per process (a plate) and every student set into them
    groups = [[lay_out(_printable(a, sol, paper, options), name) for name, sol in a.solutions] for a in chunk]
    titles = [{side: _single_title(a, side, options) for side in ("worksheet", "key")} for a in chunk] if single else None
    printed = print_sheets(groups, pad=paper, singles=titles)
    out = {**printed.pdfs, "students": list(printed.groups)}
    if options.get("solutions"):
        out["solutions"] = [[print_alone(_solutions_html(a, sol, paper, options)) for _, sol in a.solutions]
                            for a in chunk]
    return out


def _single_title(a: Assignment, side: str, options: dict) -> str:
    """A student's own PDF: 'Ada Lovelace · worksheet · token-choice-ffn + router-gradient-top2'."""
    return f"{a.label} · {({'worksheet': 'worksheet', 'key': 'answer key'}).get(side, 'worked solutions')} · {_what(a, options)}"


def _what(a: Assignment, options: dict) -> str:
    """The exam's title, or its presets: 'token-choice-ffn + router-gradient-top2'."""
    return options.get("title") or " + ".join(name for name, _ in a.solutions)


def build_exam(plan: tuple[Assignment, ...], paper: str = "a4", per_student: bool = False,
               moodle: str = "", jobs: int = 0, options: dict | None = None,
               progress: Callable[[str], None] = lambda label: None, pdf: bool = True,
               parts=None) -> list[tuple[str, bytes]]:
    """The exam's files as (name, bytes): worksheets.pdf, keys.pdf, manifest.csv/.json, and
    students/NN-name-worksheet.pdf ... when per_student, moodle.xml when `moodle` names the exam.
    Without `pdf`, only the manifest (and Moodle): nothing is laid out. options: those of _sheet,
    template_dir, solutions, and csv_bom (a byte-order mark before manifest.csv; off by default).
    `parts` (write.Parts): each chunk of students is kept there once laid out, and a chunk found
    there (an interrupted earlier run of the same set) is not laid out again."""
    options = options or {}
    rows = _rows(plan)
    files = _pdfs(plan, rows, paper, per_student, jobs, options, progress, parts) if pdf else []
    if not pdf:
        for a in plan:
            progress(a.label)
    files += [("manifest.csv", _csv(rows, bool(options.get("csv_bom")))), ("manifest.json", _json(rows))]
    if moodle:
        from workbook.render_moodle import render_moodle
        files.append(("moodle.xml", render_moodle(moodle, plan, paper, options).encode()))
    return files


def chunk_size(students: int) -> int:
    """Students per layout job: at most _CHUNK, and at least two jobs, so that progress moves on
    one. Each job's PDF subsets its own fonts (about 0.1 s of CPU), so a small class is better in
    few jobs: 30 students in two take about 0.25 s less than in four. Not sized by the cores, since
    the same exam should give the same bytes on any machine."""
    return max(1, min(_CHUNK, -(-students // 2)))


def chunk_key(chunk, paper: str, per_student: bool, options: dict) -> str:
    """What a chunk's PDFs depend on, as a name: the students and their variants, the paper, the
    options that reach the page (not csv_bom), the school's templates and this version of the code
    (its modules and templates), so a chunk kept by another command or version is never taken."""
    who = [(a.student.row, a.student.name, a.student.id, a.form, [sol.code for _, sol in a.solutions]) for a in chunk]
    page = {k: options.get(k) for k in ("title", "font_size", "scaffold", "solutions", "template_dir")}
    text = json.dumps([_code_version(), _folder_digest(options.get("template_dir") or ""), who, paper, per_student,
                       page], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _folder_digest(folder: str, pattern: str = "*") -> str:
    """SHA-256 of a folder's files (names and bytes; the templates of a school), '' for none."""
    if not folder:
        return ""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob(pattern) if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _code_version() -> str:
    """This copy of moe-workbook: its version, and a digest of its modules and templates."""
    import workbook
    from workbook.resources import resource_dir

    package = Path(workbook.__file__).parent
    return workbook.__version__ + _folder_digest(str(package), "*.py")[:16] + _folder_digest(str(resource_dir("templates")))[:16]


def _pdfs(plan, rows: list[dict], paper, per_student, jobs, options, progress, parts=None) -> list[tuple[str, bytes]]:
    """Lay every student's sheets out (in parallel, a few students per job; each job renders its own
    HTML), join them, and add page ranges to `rows`. With `parts`, chunks kept there are taken
    as they are and each chunk laid out is kept there."""
    from workbook.binding import JoinedPdf, StreamedPdf

    # as many processes as asked; by default one per core, but a process of its own for every
    # _PER_PROCESS students at most: starting one (imports, fonts, a plate per preset) costs about
    # as much as setting thirty students into their plates
    workers = max(1, min(jobs, len(plan)) if jobs else min(os.cpu_count() or 1, -(-len(plan) // _PER_PROCESS)))
    size = chunk_size(len(plan))
    chunks = [plan[i:i + size] for i in range(0, len(plan), size)]

    _printable(plan[0], plan[0].solutions[0][1], paper, options)  # a broken school template: told now
    worked = bool(options.get("solutions"))
    if worked:
        _solutions_html(plan[0], plan[0].solutions[0][1], paper, options)
    sides = ("worksheet", "key") + (("solutions",) if worked else ())
    # with the kept chunks on disk, each side is written to its file part by part (memory does not
    # grow with the class); without them (a library caller), joined in memory
    merged = {side: StreamedPdf(parts.joined(side)) if parts else JoinedPdf() for side in sides}
    facts = []

    def take(chunk, result):  # joined as each job comes back, while the others are still laid out
        if worked:
            for a, fact, own in zip(chunk, result["students"], result["solutions"]):
                done = _student_solutions(a, own, paper, merged["solutions"], options, per_student)
                fact["solutions"] = done["pages"]
                if per_student:
                    fact["single"]["solutions"] = done["single"]
        for side in ("worksheet", "key"):  # a bookmark per student, over their sheets' own
            marks, page = [], 0
            for a, fact in zip(chunk, result["students"]):
                pages, padded, own = fact[side]
                marks += [(0, a.label, page, None)] + [(lv + 1, label, page + p, top) for lv, label, p, top in own]
                page += padded
            merged[side].add(result[side], marks)
        facts.extend(result["students"])
        for a in chunk:
            progress(a.label)

    if parts:
        _more_open_files(4 * len(chunks) + 2 * len(plan) * bool(options.get("solutions")) + 64)
    keys = ([chunk_key(chunk, paper, per_student, options) for chunk in chunks] if parts
            else [str(i) for i in range(len(chunks))])
    kept = {key: parts.load(key) for key in keys} if parts else {}
    kept = {key: result for key, result in kept.items() if result is not None}

    estimated = []

    def laid_out(key, result):  # kept at once: an interruption after this loses nothing of it
        if parts:
            if not estimated:  # the first chunk tells the set's size: refused now if the disk cannot hold it
                estimated.append(_estimate(result, len(plan)))
                parts.check_room(estimated[0])
            return parts.save(key, result)  # its PDFs on disk from here on, not in memory
        return result

    todo = [(chunk, key) for chunk, key in zip(chunks, keys) if key not in kept]
    if workers > 1 and len(todo) > 1:
        with worker_pool(workers) as pool:
            # a few chunks ahead of the join, not the whole class: results waiting to be joined stay few
            ahead, waiting, futures = 3 * workers, iter(todo), {}

            def submit():
                for chunk, key in waiting:
                    futures[key] = pool.submit(_chunk_pdfs, (chunk, paper, options, per_student))
                    if len(futures) >= ahead:
                        return

            submit()
            for chunk, key in zip(chunks, keys):
                if key in kept:
                    take(chunk, kept[key])
                    continue
                result = futures.pop(key).result()
                submit()
                take(chunk, laid_out(key, result))
    else:
        for chunk, key in zip(chunks, keys):
            take(chunk, kept[key] if key in kept else laid_out(key, _chunk_pdfs((chunk, paper, options, per_student))))
    singles = []
    first = {side: 1 for side in sides}
    for number, (a, fact, row) in enumerate(zip(plan, facts, rows), 1):
        stem = f"students/{number:02d}-{_slug(a.label)}"
        for side in sides:
            pages, padded, _ = fact[side]
            row[f"{side}_pages"] = f"{first[side]}-{first[side] + pages - 1}"
            first[side] += padded
            if per_student:
                singles.append((f"{stem}-{side}.pdf", fact["single"][side]))
                row[f"{side}_file"] = f"{stem}-{side}.pdf"
    joined = []
    what = _what(plan[0], options)
    for side, name, kind in (("worksheet", "worksheets.pdf", "worksheets"), ("key", "keys.pdf", "answer keys"),
                             ("solutions", "solutions.pdf", "worked solutions")):
        if side in merged:
            count = f"{len(plan)} {'student' if len(plan) == 1 else 'students'}"
            title = f"{what} · {kind} · {count}"
            if parts:
                merged[side].close(title)
                joined.append((name, parts.joined(side)))
            else:
                joined.append((name, merged[side].pdf(title)))
    return joined + singles


def _more_open_files(wanted: int) -> None:
    """Joining from files keeps each chunk's PDF open until the joined one is saved: ask for as
    many open files as that takes (up to the system's hard limit; a large set on a system that
    allows fewer fails with the system's own one-line error)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


def _estimate(result, students: int) -> int:
    """Bytes a set of `students` will take, from one chunk's: its PDFs' bytes per student, for
    every student, twice (the kept chunks and the joined files stand side by side until the set
    is written), and a margin of a tenth."""
    def size(value) -> int:
        if isinstance(value, bytes):
            return len(value)
        if isinstance(value, dict):
            return sum(size(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return sum(size(v) for v in value)
        return 0
    per_student = size(result) / max(1, len(result.get("students", ())))
    return int(per_student * students * 2 * 1.1)


def _student_solutions(a: Assignment, own: list, paper: str, book, options: dict, single: bool) -> dict:
    """A student's worked solutions (`own`: each sheet's PDF, pages and bookmarks) added to the
    joined `book` under a bookmark with their name, padded to an even count of pages. Returns
    their (pages, padded pages) and, when `single`, their own PDF."""
    from workbook.binding import JoinedPdf
    from workbook.render_pdf import blank_pdf

    pages = sum(count for _, count, _ in own)
    for i, (pdf, _, marks) in enumerate(own):
        book.add(pdf, ([(0, a.label, 0, None)] if i == 0 else []) + [(lv + 1, label, p, top) for lv, label, p, top in marks])
    if pages % 2:
        book.add(blank_pdf(paper))
    alone = None
    if single:
        alone = JoinedPdf()
        for pdf, _, marks in own:
            alone.add(pdf, marks)
        alone = alone.pdf(_single_title(a, "solutions", options))
    return {"pages": (pages, pages + pages % 2, []), "single": alone}


def _rows(plan: tuple[Assignment, ...]) -> list[dict]:
    """The manifest's rows: who, which variants, and which problems (the same `problems` id of a
    preset means the same problem; `shared_by` counts the students who have it)."""
    ids = [[(name, problem) for (name, _), problem in zip(a.solutions, a.problems)] for a in plan]
    count: dict[tuple, int] = {}
    for pairs in ids:
        for pair in pairs:
            count[pair] = count.get(pair, 0) + 1
    return [{"row": a.student.row, "name": a.student.name, "id": a.student.id, "form": a.form,
             "codes": " ".join(sol.code for _, sol in a.solutions),
             "presets": " ".join(name for name, _ in a.solutions),
             "problems": " ".join(problem for _, problem in pairs),
             "shared_by": " ".join(str(count[pair]) for pair in pairs)}
            for a, pairs in zip(plan, ids)]


def _json(rows: list[dict]) -> bytes:
    return (json.dumps(rows, indent=1, ensure_ascii=False) + "\n").encode()


_FORMULA = tuple("=+-@\t\r")  # what a spreadsheet may run as a formula at the start of a cell


def _cell(value):
    """A manifest cell as written: an empty one stays empty (None too); text starting with = + - @
    tab or CR is quoted as text with a leading ' (so '=HYPERLINK(...)' never runs)."""
    if value is None:
        return ""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def _csv(rows: list[dict], bom: bool = False) -> bytes:
    """The manifest as UTF-8 CSV; with `bom`, a byte-order mark first (some spreadsheet programs
    read UTF-8 names right only with one)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def _slug(label: str) -> str:
    """A student's file name part: their name in ASCII letters and digits, words joined by '-', at
    most 40 characters ('student' when nothing is left). Every script is transliterated with
    anyascii, never dropped: 'Zoë Rüsk-Bing' -> 'zoe-rusk-bing', 'Łukasz' -> 'lukasz', '李雷' ->
    'li-lei' (a syllable of a script without case starts a new word where anyascii capitalises
    it), 'Дмитрий' -> 'dmitriy', 'محمد' -> 'mhmd'; a letter anyascii has no spelling for is kept as
    its code point ('u2a700')."""
    from anyascii import anyascii

    out = ""
    for char in unicodedata.normalize("NFC", label):
        if char.isascii():
            out += char
            continue
        spelled = anyascii(char)
        if not spelled.strip() and unicodedata.category(char)[0] in "LN":
            spelled = f"u{ord(char):x}"
        spelled = re.sub("['`]", "", spelled)  # a hamza or an ayin ('s`yd'): a sound, not a word break
        if spelled[:1].isupper() and char.lower() == char.upper() and out[-1:].isalnum():
            out += "-"  # 'LiLei': each caseless syllable capitalised, a word of its own
        out += spelled
    return re.sub(r"[^a-z0-9]+", "-", out.lower()).strip("-")[:40].strip("-") or "student"
