"""The routing sheets (token choice, Switch, expert choice): their steps, conventions and hand work.

Token choice (with or without capacity), Switch and expert choice share the router steps (scores,
powers, probabilities), then each adds its own selection steps, the capacity and jitter steps,
the pictures, and the expert FFNs and combine. Leaves out: the sheet model (layout.py), the
pictures' drawing (figures.py), HTML, CSS and every file format.
"""

from sympy import Integer, Rational

from workbook.figures import load_bars, routing_arrows
from workbook.formatting import pretty, tenths
from workbook.kinds.routing_steps import TOKEN_CHOICE
from workbook.layout import Board, Cell, Figure, Grid, answer_free, blank_grid, given_grid, labels, ordinal
from workbook.spec import GATE_BASE, Spec, capacity_factor, fair_share, renormalize, top_k

TITLES = {"token-choice": "Token-choice routing", "expert-choice": "Expert-choice routing",
          "switch": "Switch routing"}


def layout(sol) -> list:
    spec, p = sol.spec, sol.problem
    T, E, d = spec["tokens"], spec["experts"], spec["d_model"]
    tok, exp_, dim = labels("t", T), labels("E", E), labels("", d)
    s = sol.step
    b = GATE_BASE[spec["gate"]]
    wide_probs = True
    long_e = b == "e" and answer_free(spec)  # the key writes base-e values exactly too
    sections = [
        ("Router scores", s("scores").instruction, [Board((
            (None, given_grid("W_rᵀ", list(zip(*p.W_router)), dim, exp_)),
            (given_grid("X", p.X, tok, dim), blank_grid("S = X W_rᵀ", "scores", s("scores").exact, tok, exp_)),
        ))]),
        (f"Powers of {b}", s("powers").instruction + " Then add up each row.", [Board((
            (blank_grid(f"{b}^(s − row min)", "powers", s("powers").exact, tok, exp_, wide=b == "e"),
             blank_grid("Σ", "row_sum", [[v] for v in s("row_sum").exact], tok, ("sum",),
                        wide=(2 if long_e else b == "e"), full=long_e)),
        ))]),
        ("Router probabilities", s("probs").instruction, [Board((
            (_over_sum(blank_grid("P", "probs", s("probs").exact, tok, exp_, wide=wide_probs), sol, long_e),),
        ))]),
    ]
    if spec.kind in TOKEN_CHOICE:
        k = top_k(spec)
        ranks = tuple(ordinal(i) for i in range(k))
        sections += [
            (s("topk").title + " and their weights", s("topk").instruction + " " + s("weights").instruction, [Board((
                (blank_grid("top-k expert" if k > 1 else "top-1 expert", "topk", s("topk").exact, tok, ranks),
                 blank_grid("weight", "weights", s("weights").exact, tok, ranks, wide=2 if long_e else True,
                            full=long_e)),
            ))]),
            ("Routing table and load", s("routing").instruction + " " + s("load").instruction, [Board((
                (blank_grid("tokens of each expert", "routing", s("routing").exact, exp_, (), width=T),
                 blank_grid("load", "load", [[v] for v in s("load").exact], exp_, ("load",))),
            ))]),
        ]
        if capacity_factor(spec) is not None:
            sections += _capacity_sections(sol)
        if p.jitter:
            sections += [_jitter_section(sol)]
    else:
        c = spec["capacity"]
        ranks = tuple(ordinal(i) for i in range(c))
        sections += [
            ("Token index I and gating G", s("token_index").instruction + " " + s("gating").instruction, [Board((
                (blank_grid("I (token)", "token_index", s("token_index").exact, exp_, ranks),
                 _over_sum(blank_grid("G (probability)", "gating", s("gating").exact, exp_, ranks, wide=True),
                           sol, long_e, [[int(t) for t in row] for row in s("token_index").exact])),
            ))]),
            ("Coverage and dropped tokens", s("coverage").instruction + " " + s("dropped").instruction, [Board((
                (blank_grid("coverage", "coverage", [s("coverage").exact], ("count",), tok),),
                (blank_grid("dropped tokens", "dropped", s("dropped").exact, ("token",), (), width=T - c),),
            ))]),
        ]
    if p.experts:
        sections += [("Expert FFNs", "For each expert: copy the rows of X of its tokens, then "
                      "H = [X_e 1][W1; b1] = X_e W1 + b1, ReLU(H), and O = [ReLU(H) 1][W2; b2]."
                      + (" Each expert has a row for every token it could take; leave the spare rows empty."
                         if answer_free(spec) else ""),
                      _ffn_boards(sol)),
                     ("Layer output", s("output").instruction, [Board((
                         (blank_grid("y", "output", s("output").exact, tok, dim,
                                     wide=2 if answer_free(spec) else True),),))])]
    return sections


def _capacity_sections(sol):
    spec, s = sol.spec, sol.step
    T, E, k = spec["tokens"], spec["experts"], top_k(spec)
    C = int(s("capacity").exact[0])
    tok, exp_ = labels("t", T), labels("E", E)
    ranks = tuple(ordinal(i) for i in range(k))
    topk = [[int(e) for e in row] for row in s("topk").exact]
    kept = [[int(v) for v in row] for row in s("kept").exact]
    bars = load_bars([int(v) for v in s("load").exact], C, fair_share(spec), most=T if answer_free(spec) else 0)
    fixed = answer_free(spec)
    arrows = routing_arrows(topk, kept, E, legend=fixed)
    return [
        ("Capacity and dropped tokens", " ".join(s(i).instruction for i in ("capacity", "kept", "served", "dropped")), [
            Board(((blank_grid("C", "capacity", [s("capacity").exact], (), ("slots",)),
                    blank_grid("kept (1) or dropped (0)", "kept", s("kept").exact, tok, ranks)),)),
            Board(((blank_grid("tokens served", "served", s("served").exact, exp_, labels("slot ", C), width=C),
                    _dropped(sol, T - C)),)),
            Board(((Figure("load per expert, the part past C hatched" if fixed else
                           "load per expert: bars, the part past C hatched (dropped)", *bars),
                    Figure("routing: token → expert" if fixed else
                           "routing: token → expert, dropped choices dashed and crossed", *arrows)),),
                  caption="Draw the load as bars with the capacity line, and the routing as arrows."),
        ]),
        (s("min_capacity_factor").title, s("min_capacity_factor").instruction, [Board((
            (blank_grid("smallest cf", "min_capacity_factor", [s("min_capacity_factor").exact], (), ("cf",), wide=True),),
        ))]),
    ]


def _over_sum(grid: Grid, sol, long_e: bool, tokens=None) -> Grid:
    """Base-e probabilities written exactly as the sheet computes them: 'e²/Σ', the power over its
    token's row sum Σ (Step 2); in a grid of experts, 'e²/Σ₃' names the token. Other grids as they are."""
    if not long_e:
        return grid
    powers = sol.step("powers").exact
    rows = []
    for i, line in enumerate(grid.cells):
        cells = []
        for j, cell in enumerate(line):
            t = tokens[i][j] - 1 if tokens else i
            e = powers[t].index(next(p for p in powers[t] if p / sum(powers[t]) == cell.value)) if tokens else j
            sub = str(t + 1).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")) if tokens else ""
            cells.append(Cell(answer=f"{pretty(powers[t][e])}/Σ{sub}", decimal=cell.decimal, blank=True,
                              wide=cell.wide, ref=cell.ref, value=cell.value))
        rows.append(tuple(cells))
    return Grid(grid.name, tuple(rows), grid.row_labels, grid.col_labels)


def _dropped(sol, width: int) -> Grid:
    """The tokens with no choice kept; on an answer-free key, 'none' in the first box when no
    token is dropped (the box then stays empty in an answer file)."""
    grid = blank_grid("dropped tokens", "dropped", sol.step("dropped").exact, ("token",), (), width=width)
    if answer_free(sol.spec) and not any(v for row in sol.step("dropped").exact for v in row) and grid.cells:
        first, *rest = grid.cells[0]
        grid = Grid(grid.name, ((Cell(answer="none", blank=True, ref=first.ref), *rest),) + grid.cells[1:],
                    grid.row_labels, grid.col_labels)
    return grid


def _jitter_section(sol):
    p, s = sol.problem, sol.step
    T, E, d = sol.spec["tokens"], sol.spec["experts"], sol.spec["d_model"]
    tok, exp_, dim = labels("t", T), labels("E", E), labels("", d)
    u = Grid("u (multipliers)", tuple(tuple(Cell(given=tenths(Rational(v, 10))) for v in row) for row in p.jitter),
             tok, dim)
    js = Grid("S′ = (u ⊙ X) W_rᵀ", tuple(
        tuple(Cell(answer=tenths(v), blank=True, wide=True, ref=f"jitter_scores[{t + 1}][{e + 1}]", value=v)
              for e, v in enumerate(row)) for t, row in enumerate(s("jitter_scores").exact)), tok, exp_)
    return ("Jitter: does any token change expert?",
            " ".join(s(i).instruction for i in ("jitter_scores", "jitter_choice", "changed")), [Board((
                (None, None, given_grid("W_rᵀ", list(zip(*p.W_router)), dim, exp_)),
                (given_grid("X", p.X, tok, dim), u, js,
                 blank_grid("top-1", "jitter_choice", [[v] for v in s("jitter_choice").exact], tok, ("E",)),
                 blank_grid("changed", "changed", [[v] for v in s("changed").exact], tok, ("1/0",))),
            ))])


def _ffn_boards(sol):
    p, spec = sol.problem, sol.spec
    d, h = spec["d_model"], spec["d_ff"]
    dim, hid = labels("", d), labels("h", h)
    hidden, relu, outs = (sol.step(i).exact for i in ("ffn_hidden", "ffn_relu", "ffn_out"))
    if "served" in sol.has:
        tokens = [list(r) for r in sol.step("served").exact]
    elif spec.kind in TOKEN_CHOICE:
        tokens = [list(r) for r in sol.step("routing").exact]
    else:
        tokens = [list(r) for r in sol.step("token_index").exact]
    fixed = answer_free(spec)
    most = _most_tokens(sol) if fixed else 0  # rows per expert on an answer-free sheet
    boards = []
    for e, ex in enumerate(p.experts):
        rows = tokens[e]
        if not rows and not fixed:
            boards.append(Board((), caption=f"Expert E{e + 1}: no tokens, nothing to compute."))
            continue
        one = Cell(given="1")
        copy = [tuple([Cell(answer=str(int(t)), blank=True, ref=f"ffn_tokens[{e + 1}][{i + 1}]", value=t)]
                      + [Cell(answer=pretty(v), blank=True, ref=f"ffn_x[{e + 1}][{i + 1}][{j + 1}]", value=Integer(v))
                         for j, v in enumerate(p.X[int(t) - 1])] + [one])
                for i, t in enumerate(rows)]
        copy += [tuple([Cell(blank=True, ref=f"ffn_tokens[{e + 1}][{i + 1}]")]
                       + [Cell(blank=True, ref=f"ffn_x[{e + 1}][{i + 1}][{j + 1}]") for j in range(d)] + [one])
                 for i in range(len(rows), most)]
        copy = Grid("[X_e 1]", tuple(copy), (), ("token",) + dim + ("1",))
        relu_grid = _spare(blank_grid("[ReLU(H) 1]", f"ffn_relu[{e + 1}]", relu[e], (), hid), most, h,
                           f"ffn_relu[{e + 1}]")
        relu_grid = Grid(relu_grid.name, tuple(line + (one,) for line in relu_grid.cells), (), hid + ("1",))
        boards.append(Board((
            (None, given_grid("[W1; b1]", ex.W1 + (ex.b1,), dim + ("b1",), hid),
             None, given_grid("[W2; b2]", ex.W2 + (ex.b2,), hid + ("b2",), dim)),
            (copy, _spare(blank_grid("H", f"ffn_hidden[{e + 1}]", hidden[e], (), hid), most, h, f"ffn_hidden[{e + 1}]"),
             relu_grid, _spare(blank_grid("O", f"ffn_out[{e + 1}]", outs[e], (), dim), most, d, f"ffn_out[{e + 1}]")),
        ), caption=f"Expert E{e + 1}"))
    return boards


def _most_tokens(sol) -> int:
    """The most tokens one expert can take with these parameters: its capacity C (Switch, token
    choice with a capacity), its c tokens (expert choice), else every token."""
    spec = sol.spec
    if spec.kind not in TOKEN_CHOICE:
        return spec["capacity"]
    if "capacity" in sol.has:
        return min(spec["tokens"], int(sol.step("capacity").exact[0]))
    return spec["tokens"]


def _spare(grid: Grid, rows: int, width: int, ref: str) -> Grid:
    """The grid with empty rows added up to `rows` (an answer-free sheet's spare rows), their
    cells named ref[row][column]."""
    extra = tuple(tuple(Cell(blank=True, ref=f"{ref}[{i + 1}][{j + 1}]") for j in range(width))
                  for i in range(len(grid.cells), rows))
    return Grid(grid.name, grid.cells + extra, grid.row_labels, grid.col_labels)


def conventions(sol) -> tuple[str, ...]:
    """Every convention this sheet uses, in words, for its conventions box."""
    spec = sol.spec
    b = GATE_BASE[spec["gate"]]
    lines = ["Row vectors: X is T × d, one token per row. Every index you write starts at 1.",
             "Router scores S = X W_rᵀ; row e of W_r is expert e's embedding (T × E scores).",
             f"Gate: softmax with base {b}, P_te = {b}^s_te / Σ_j {b}^s_tj, over the experts of one token "
             f"(each row of P sums to 1). Subtract the row minimum first; the powers stay small."
             + (" (Base 3 is the by-hand stand-in for e.)" if b == 3 else "")]
    if spec.kind in TOKEN_CHOICE:
        k = top_k(spec)
        lines.append("Switch (Fedus et al. 2021): each token takes its top-1 expert by probability." if spec.kind == "switch"
                     else f"Token choice: each token takes its top-{k} experts by probability (the same as by score).")
        lines.append("Weights renormalised over the chosen experts: w_tj = P_tj / Σ_(i chosen) P_ti (Mixtral)."
                     if renormalize(spec) else
                     "Weights are the chosen probabilities themselves, not renormalised (Switch, GShard).")
        lines += _capacity_conventions(spec)
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
    if sol.problem.jitter:
        lines.append("Jitter (training only): each input value x is multiplied by its u, drawn from U(0.8, 1.2) "
                     "and given here, before the router.")
    lines.append("Answers: exact fractions; decimals rounded half up to 2 places.")
    return tuple(lines)


def _capacity_conventions(spec) -> list[str]:
    cf = capacity_factor(spec)
    if cf is None:
        return ["No capacity limit: every token is served; load = tokens per expert."]
    k = top_k(spec)
    order = ("Tokens claim slots in token order (t1 first)." if k == 1 else
             "Slots are claimed by priority: every 1st choice in token order, then every 2nd choice, ... (GShard).")
    return [f"Capacity C = floor(cf × k × T / E), rounded down as in Mesh-TensorFlow and Lingvo; "
            f"here cf = {spec['capacity_factor']}. Load counts every choice, before any is dropped.",
            order + " A choice past its expert's C slots is dropped; the kept weights are not renormalised again.",
            "A token with no choice kept gets 0 from the layer; the residual carries x_t on (the paper's rule; "
            + ("HF transformers v5 returns 0 too; v4's Switch returned p·x)." if answer_free(spec) else
               "HF's Switch returns p·x instead).")]


def hand_work(sol) -> str:
    """'Hand work: 90 multiply-adds, 30 powers, 36 divisions.'"""
    spec = sol.spec
    T, E, d, h = spec["tokens"], spec["experts"], spec["d_model"], spec["d_ff"]
    macs, divisions, most = T * E * d, T * E, ""
    if spec.kind in TOKEN_CHOICE and renormalize(spec):
        divisions += T * top_k(spec)
    if sol.problem.jitter:
        macs += 2 * T * E * d
    if sol.problem.experts:
        pairs = T * top_k(spec) if spec.kind in TOKEN_CHOICE else E * spec["capacity"]
        if "kept" in sol.has and answer_free(spec):  # how many are kept is an answer
            pairs, most = min(pairs, E * int(sol.step("capacity").exact[0])), "at most "
        elif "kept" in sol.has:
            pairs = sum(int(v) for row in sol.step("kept").exact for v in row)
        macs += pairs * (d * h + h * d + d)
    return f"Hand work: {most}{macs} multiply-adds, {T * E} powers, {divisions} divisions."


def page_experts(sol) -> list[dict]:
    """The experts' weights for the interactive page, which follows carried errors inside them."""
    return [{"W1": ex.W1, "b1": ex.b1, "W2": ex.W2, "b2": ex.b2} for ex in sol.problem.experts]


def describe(spec: Spec) -> str:
    """A one-line title: 'Token-choice routing: 6 tokens, 5 experts, top-2, softmax3'."""
    p = spec.params
    pick = f"top-{top_k(spec)} per token" if spec.kind in TOKEN_CHOICE else f"top-{p['capacity']} per expert"
    if capacity_factor(spec) is not None:
        pick += f", capacity factor {p['capacity_factor']}"
    ffn = ", expert FFNs" if p["ffn"] else ""
    return f"{TITLES[spec.kind]}: {p['tokens']} tokens, {p['experts']} experts, {pick}{ffn}"
