"""The sheet model: what goes where on the page, for worksheet and key alike.

A Sheet is sections of numbered steps; each section holds boards, and a board places grids the
"by hand" way (W above, X to the left, the product at the crossing). A Cell is either given (a
number printed on both sheets) or blank (empty on the worksheet, the answer on the key). The
templates only walk this structure. Leaves out: HTML, CSS and every file format.
"""

from dataclasses import dataclass, field

from workbook.formatting import decimal2, is_whole, pretty
from workbook.solve import Solution
from workbook.spec import GATE_BASE, describe


@dataclass(frozen=True)
class Cell:
    given: str = ""      # printed on both sheets
    answer: str = ""     # exact answer, key only (blank cells)
    decimal: str = ""    # 2-decimal value beside a non-integer answer
    blank: bool = False
    wide: bool = False   # room for a fraction and its decimal
    ref: str = ""        # step id and position, e.g. 'probs[2][3]' (1-based)


@dataclass(frozen=True)
class Grid:
    name: str
    cells: tuple[tuple[Cell, ...], ...]
    row_labels: tuple[str, ...] = ()
    col_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Board:
    """Panels placed in rows and columns; None leaves a gap. `caption` names the board."""

    panels: tuple[tuple[Grid | None, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    instruction: str
    boards: tuple[Board, ...]


@dataclass(frozen=True)
class Sheet:
    title: str
    code: str
    exercise: str
    seed: int
    conventions: tuple[str, ...]
    hand_work: str
    sections: tuple[Section, ...]
    paper: str = "a4"
    blanks: int = field(default=0)


def _given_grid(name, rows, row_labels=(), col_labels=()) -> Grid:
    return Grid(name, tuple(tuple(Cell(given=pretty(v)) for v in row) for row in rows),
                tuple(row_labels), tuple(col_labels))


def _answer(value, ref: str, wide: bool) -> Cell:
    text = pretty(value)
    dec = "" if is_whole(value) else decimal2(value).replace("-", "−")
    if not value.is_Rational and len(text) > 9:
        text = ""  # long e-expressions: the decimal alone on the page, the exact form in JSON
    return Cell(answer=text, decimal=dec, blank=True, wide=wide, ref=ref)


def _blank_grid(name, step_id, rows, row_labels=(), col_labels=(), wide=False, width=None) -> Grid:
    """Blank cells for the exact values in `rows`; ragged rows are padded to `width` blanks."""
    width = width if width is not None else max((len(r) for r in rows), default=0)
    cells = []
    for i, row in enumerate(rows):
        line = [_answer(v, f"{step_id}[{i + 1}][{j + 1}]", wide) for j, v in enumerate(row)]
        line += [Cell(blank=True, wide=wide, ref=f"{step_id}[{i + 1}][{j + 1}]")
                 for j in range(len(row), width)]
        cells.append(tuple(line))
    return Grid(name, tuple(cells), tuple(row_labels), tuple(col_labels))


def _labels(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i + 1}" for i in range(n))


def build_sheet(sol: Solution, paper: str = "a4") -> Sheet:
    """Solution -> Sheet: the numbered steps of the exercise, laid out for hand work."""
    spec, p = sol.spec, sol.problem
    T, E, d = spec["tokens"], spec["experts"], spec["d_model"]
    tok, exp_, dim = _labels("t", T), _labels("E", E), _labels("", d)
    s = sol.step
    b = GATE_BASE[spec["gate"]]
    wide_probs = True
    sections = [
        ("Router scores", s("scores").instruction, [Board((
            (None, _given_grid("W_rᵀ", list(zip(*p.W_router)), dim, exp_)),
            (_given_grid("X", p.X, tok, dim), _blank_grid("S = X W_rᵀ", "scores", s("scores").exact, tok, exp_)),
        ))]),
        (f"Powers of {b}", s("powers").instruction + " Then add up each row.", [Board((
            (_blank_grid(f"{b}^(s − row min)", "powers", s("powers").exact, tok, exp_, wide=b == "e"),
             _blank_grid("Σ", "row_sum", [[v] for v in s("row_sum").exact], tok, ("sum",), wide=b == "e")),
        ))]),
        ("Router probabilities", s("probs").instruction, [Board((
            (_blank_grid("P", "probs", s("probs").exact, tok, exp_, wide=wide_probs),),
        ))]),
    ]
    if spec.kind == "token-choice":
        k = spec["top_k"]
        ranks = tuple(_ordinal(i) for i in range(k))
        sections += [
            (s("topk").title + " and their weights", s("topk").instruction + " " + s("weights").instruction, [Board((
                (_blank_grid("top-k expert", "topk", s("topk").exact, tok, ranks),
                 _blank_grid("weight", "weights", s("weights").exact, tok, ranks, wide=True)),
            ))]),
            ("Routing table and load", s("routing").instruction + " " + s("load").instruction, [Board((
                (_blank_grid("tokens of each expert", "routing", s("routing").exact, exp_, (), width=T),
                 _blank_grid("load", "load", [[v] for v in s("load").exact], exp_, ("load",))),
            ))]),
        ]
    else:
        c = spec["capacity"]
        ranks = tuple(_ordinal(i) for i in range(c))
        sections += [
            ("Token index I and gating G", s("token_index").instruction + " " + s("gating").instruction, [Board((
                (_blank_grid("I (token)", "token_index", s("token_index").exact, exp_, ranks),
                 _blank_grid("G (probability)", "gating", s("gating").exact, exp_, ranks, wide=True)),
            ))]),
            ("Coverage and dropped tokens", s("coverage").instruction + " " + s("dropped").instruction, [Board((
                (_blank_grid("coverage", "coverage", [s("coverage").exact], ("count",), tok),),
                (_blank_grid("dropped tokens", "dropped", s("dropped").exact, ("token",), (), width=T - c),),
            ))]),
        ]
    if p.experts:
        sections += [("Expert FFNs", "For each expert: copy the rows of X of its tokens, then "
                      "H = [X_e 1][W1; b1] = X_e W1 + b1, ReLU(H), and O = [ReLU(H) 1][W2; b2].",
                      _ffn_boards(sol)),
                     ("Layer output", s("output").instruction, [Board((
                         (_blank_grid("y", "output", s("output").exact, tok, dim, wide=True),),))])]
    numbered = tuple(Section(i + 1, title, text, tuple(boards)) for i, (title, text, boards) in enumerate(sections))
    return Sheet(describe(spec), sol.code, spec.kind, spec.seed, conventions(sol), hand_work(sol),
                 numbered, paper, sum(c.blank for c in _cells(numbered)))


def _ordinal(i: int) -> str:
    return ("1st", "2nd", "3rd")[i] if i < 3 else f"{i + 1}th"


def _ffn_boards(sol: Solution):
    p, spec = sol.problem, sol.spec
    d, h = spec["d_model"], spec["d_ff"]
    dim, hid = _labels("", d), _labels("h", h)
    hidden, relu, outs = (sol.step(i).exact for i in ("ffn_hidden", "ffn_relu", "ffn_out"))
    if spec.kind == "token-choice":
        tokens = [list(r) for r in sol.step("routing").exact]
    else:
        tokens = [list(r) for r in sol.step("token_index").exact]
    boards = []
    for e, ex in enumerate(p.experts):
        rows = tokens[e]
        if not rows:
            boards.append(Board((), caption=f"Expert E{e + 1}: no tokens, nothing to compute."))
            continue
        one = Cell(given="1")
        copy = Grid("[X_e 1]", tuple(
            tuple([Cell(answer=str(int(t)), blank=True, ref=f"ffn_tokens[{e + 1}][{i + 1}]")]
                  + [Cell(answer=pretty(v), blank=True, ref="copy") for v in p.X[int(t) - 1]] + [one])
            for i, t in enumerate(rows)), (), ("token",) + dim + ("1",))
        relu_grid = _blank_grid("[ReLU(H) 1]", f"ffn_relu[{e + 1}]", relu[e], (), hid)
        relu_grid = Grid(relu_grid.name, tuple(line + (one,) for line in relu_grid.cells), (), hid + ("1",))
        boards.append(Board((
            (None, _given_grid("[W1; b1]", ex.W1 + (ex.b1,), dim + ("b1",), hid),
             None, _given_grid("[W2; b2]", ex.W2 + (ex.b2,), hid + ("b2",), dim)),
            (copy, _blank_grid("H", f"ffn_hidden[{e + 1}]", hidden[e], (), hid), relu_grid,
             _blank_grid("O", f"ffn_out[{e + 1}]", outs[e], (), dim)),
        ), caption=f"Expert E{e + 1}"))
    return boards


def _cells(sections):
    for sec in sections:
        for board in sec.boards:
            for row in board.panels:
                for grid in row:
                    if grid is not None:
                        for line in grid.cells:
                            yield from line


def conventions(sol: Solution) -> tuple[str, ...]:
    """Every convention this sheet uses, in words, for its conventions box."""
    spec = sol.spec
    b = GATE_BASE[spec["gate"]]
    lines = ["Row vectors: X is T × d, one token per row. Every index you write starts at 1.",
             "Router scores S = X W_rᵀ; row e of W_r is expert e's embedding (T × E scores).",
             f"Gate: softmax with base {b}, P_te = {b}^s_te / Σ_j {b}^s_tj, over the experts of one token "
             f"(each row of P sums to 1). Subtract the row minimum first; the powers stay small."
             + (" (Base 3 is the by-hand stand-in for e.)" if b == 3 else "")]
    if spec.kind == "token-choice":
        k = spec["top_k"]
        lines.append(f"Token choice: each token takes its top-{k} experts by probability (the same as by score).")
        lines.append("Weights renormalised over the chosen experts: w_tj = P_tj / Σ_(i chosen) P_ti (Mixtral)."
                     if spec["renormalize"] else
                     "Weights are the chosen probabilities themselves, not renormalised (Switch, GShard).")
        lines.append("No capacity limit: every token is served; load = tokens per expert.")
    else:
        c = spec["capacity"]
        lines.append(f"Expert choice (Zhou et al. 2022): each expert takes the {c} tokens with the largest "
                     "probability in its column of P; G keeps those probabilities (not renormalised), "
                     "I their token numbers, best first.")
        lines.append("A token no expert chooses is dropped: the layer gives it 0 (the residual carries x_t on).")
    if sol.problem.experts:
        lines.append("Expert e: FFN_e(x) = ReLU(x W1_e + b1_e) W2_e + b2_e (ReLU, not SwiGLU). "
                     "Each bias is drawn as the last row of its W, against a 1 at the end of each input row.")
        lines.append("Output y_t = Σ (gate weight) × FFN_e(x_t) over the experts that took token t.")
    lines.append("Answers: exact fractions; decimals rounded half up to 2 places.")
    return tuple(lines)


def hand_work(sol: Solution) -> str:
    """'Hand work: 90 multiply-adds, 30 powers, 36 divisions.'"""
    spec = sol.spec
    T, E, d, h = spec["tokens"], spec["experts"], spec["d_model"], spec["d_ff"]
    macs, divisions = T * E * d, T * E
    if spec.kind == "token-choice" and spec["renormalize"]:
        divisions += T * spec["top_k"]
    if sol.problem.experts:
        pairs = T * spec["top_k"] if spec.kind == "token-choice" else E * spec["capacity"]
        macs += pairs * (d * h + h * d + d)
    return f"Hand work: {macs} multiply-adds, {T * E} powers, {divisions} divisions."
