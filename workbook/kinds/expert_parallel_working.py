"""The expert-parallel sheet's worked solutions, in the variant's numbers.

For every step: what it means (where a pair is computed, what the all-to-all moves between the
devices and back, why the busiest device sets the pace), each token's pairs looked up with the
reason (which device holds the expert, whether the pair stays home), each dispatch row counted
pair by pair, and every single value written out (diagonal, off-diagonal, volumes, loads, mean,
imbalance). Each line is built from the solved steps and the problem with working.py's terms;
solutions.py checks it against the key. Leaves out: the arithmetic itself and the sheet
(expert_parallel.py).
"""

from sympy import Rational

from workbook.formatting import pretty
from workbook.working import Line, Term, Working, claim, joined, line, num, reason, shown


def working(sol) -> list[Working]:
    return [_destination(sol), _dispatch(sol), _local(sol), _crossing(sol), _share(sol), _all_to_all(sol),
            _load(sol), _mean(sol), _imbalance(sol)]


def _pairs(sol) -> list[tuple[int, int, int, int]]:
    """(token, expert, home device, expert's device) for every pair, 1-based, in token order."""
    p, where = sol.problem, sol.step("destination").exact
    return [(t + 1, int(e), p.home[t], int(where[t][r])) for t, row in enumerate(p.routing) for r, e in enumerate(row)]


def _product(*values) -> Term:
    """6·4096: whole numbers, as '·' and '*'."""
    return joined((num(v) for v in values), "·")


def _ratio(label: str, a, b, value, cells) -> Line:
    """'label = 5 / 4 = 5/4 ≈ 1.25': the division written out even where it is already in lowest
    terms (line() would write '5/4' once)."""
    term = joined((num(a), num(b)), "/")
    if term.text.replace(" ", "") != pretty(value):
        return line(label, term, value, cells)
    return Line(f"{label} = {term.text} = {shown(value)}", term.src, value, tuple(cells))


def _destination(sol) -> Working:
    p, where = sol.problem, sol.step("destination").exact
    D, E = sol.spec["devices"], sol.spec["experts"]
    per = E // D
    blocks = "; ".join(f"d{d + 1} holds " + ", ".join(f"E{e + 1}" for e in range(E) if p.placement[e] == d + 1)
                       for d in range(D))
    lines = [reason(f"Read each expert's device off 'experts on devices' (blocks of E/D = {per}): {blocks}.")]
    for t, row in enumerate(p.routing):
        home = p.home[t]
        parts = [f"E{int(e)} → d{int(where[t][r])} ({'stays' if int(where[t][r]) == home else 'crosses'})"
                 for r, e in enumerate(row)]
        lines.append(claim(f"t{t + 1} (home d{home}): " + ", ".join(parts), tuple(where[t]),
                           [f"destination[{t + 1}][{r + 1}]" for r in range(len(row))]))
        twice = sorted({int(d) for d in where[t] if int(d) != home and list(where[t]).count(d) > 1})
        lines += [reason(f"t{t + 1}'s vector goes to d{d} {_times(list(where[t]).count(d))}, once per pair: the sheet "
                         "counts pairs.") for d in twice]
    return Working("destination", "With expert parallelism each device holds only its own experts, so a pair "
                   "(one token, one of its experts) is computed on the expert's device, wherever the token starts. "
                   "A pair whose expert sits on the token's home device stays local.", tuple(lines))


def _dispatch(sol) -> Working:
    D, n, k = sol.spec["devices"], sol.spec["tokens"], sol.spec["top_k"]
    M, pairs = sol.step("dispatch").exact, _pairs(sol)
    lines = []
    for i in range(D):
        tokens = sorted({t for t, _, h, _ in pairs if h == i + 1})
        parts = []
        for j in range(D):
            mine = [f"(t{t},E{e})" for t, e, h, d in pairs if h == i + 1 and d == j + 1]
            parts.append(f"{pretty(M[i][j])} to d{j + 1}" + (f" {' '.join(mine)}" if mine else ""))
        lines.append(claim(f"row d{i + 1} (home of " + ", ".join(f"t{t}" for t in tokens) + "): " + "; ".join(parts),
                           tuple(M[i]), [f"dispatch[{i + 1}][{j + 1}]" for j in range(D)]))
    lines.append(reason(f"Each row adds up to its device's tokens × k = {n} × {k} = {n * k} "
                        f"pair{'s' if n * k != 1 else ''}."))
    return Working("dispatch", "The dispatch matrix is the all-to-all's plan: row i says how many token vectors "
                   "device i sends to each device (itself on the diagonal). The combine sends the outputs back: the "
                   "transpose.", tuple(lines))


def _diagonal(sol):
    M = sol.step("dispatch").exact
    return [M[i][i] for i in range(len(M))]


def _local(sol) -> Working:
    diag = _diagonal(sol)
    local = sol.step("local_pairs").exact[0]
    label = "stay local = " + " + ".join(f"[d{i + 1},d{i + 1}]" for i in range(len(diag)))
    return Working("local_pairs", "The diagonal of the dispatch matrix: pairs whose expert is on the token's own "
                   "device, computed without any communication.",
                   (line(label, joined((num(v) for v in diag), "+"), local, ["local_pairs[1][1]"]),))


def _crossing(sol) -> Working:
    M = sol.step("dispatch").exact
    D = len(M)
    off = [M[i][j] for i in range(D) for j in range(D) if i != j]
    cross, local = sol.step("crossing_pairs").exact[0], sol.step("local_pairs").exact[0]
    total = sum(sum(row) for row in M)
    return Working("crossing_pairs", "Everything off the diagonal leaves its device: these pairs are what the "
                   "all-to-all must move.",
                   (line("cross = the sum off the diagonal", joined((num(v) for v in off), "+"), cross,
                         ["crossing_pairs[1][1]"]),
                    line("check: all pairs − stay local", joined((num(total), num(local)), "−"), cross,
                         ["crossing_pairs[1][1]"])))


def _share(sol) -> Working:
    D, n, k = sol.spec["devices"], sol.spec["tokens"], sol.spec["top_k"]
    cross, share = sol.step("crossing_pairs").exact[0], sol.step("crossing_share").exact[0]
    return Working("crossing_share", "The fraction of the pairs that needs communication. With experts picked at "
                   f"random it would be about (D − 1)/D = {pretty(Rational(D - 1, D))}: the more devices, the more "
                   "of the work crosses.",
                   (line("all pairs = D · tokens per device · k", _product(D, n, k), D * n * k),
                    _ratio("share crossing = cross / all pairs", cross, D * n * k, share, ["crossing_share[1][1]"])))


def _all_to_all(sol) -> Working:
    d, b = sol.spec["d_model"], sol.spec["bytes"]
    cross = sol.step("crossing_pairs").exact[0]
    (vd, bd), (vc, bc), (vb, bb) = sol.step("all_to_all").exact
    lines = (line("dispatch values = cross · d_model", _product(cross, d), vd, ["all_to_all[1][1]"]),
             line(f"dispatch bytes = values · {b} byte{'s' if b != 1 else ''} per value", _product(vd, b), bd,
                  ["all_to_all[1][2]"]),
             line("combine values = dispatch values (each output comes back)", num(vd), vc, ["all_to_all[2][1]"]),
             line("combine bytes = dispatch bytes", num(bd), bc, ["all_to_all[2][2]"]),
             line("both values = dispatch + combine", joined((num(vd), num(vc)), "+"), vb, ["all_to_all[3][1]"]),
             line("both bytes = dispatch + combine", joined((num(bd), num(bc)), "+"), bb, ["all_to_all[3][2]"]))
    return Working("all_to_all", "Each crossing pair sends one token vector of d_model values to the expert's "
                   "device (dispatch), and the expert's output, of the same size, comes back (combine): an "
                   "all-to-all each way, in every MoE layer.", lines)


def _load(sol) -> Working:
    M, load = sol.step("dispatch").exact, sol.step("load").exact
    lines = [line(f"load d{j + 1} = column d{j + 1} of dispatch", joined((num(row[j]) for row in M), "+"), v,
                  [f"load[1][{j + 1}]"]) for j, v in enumerate(load)]
    return Working("load", "A device computes every pair its experts receive, its own tokens' and the arriving "
                   "ones: its column of the dispatch matrix, not its row.", tuple(lines))


def _mean(sol) -> Working:
    D, n, k = sol.spec["devices"], sol.spec["tokens"], sol.spec["top_k"]
    mean = sol.step("mean_load").exact[0]
    return Working("mean_load", "The load every device would have if the pairs were spread perfectly evenly.",
                   (line("mean = all pairs / D", joined((num(D * n * k), num(D)), "/"), mean, ["mean_load[1][1]"]),))


def _imbalance(sol) -> Working:
    load, mean = sol.step("load").exact, sol.step("mean_load").exact[0]
    most, ratio = max(load), sol.step("imbalance").exact[0]
    busiest = ", ".join(f"d{j + 1}" for j, v in enumerate(load) if v == most)
    return Working("imbalance", "The devices wait for each other at the all-to-all, so the layer runs at the pace "
                   f"of the busiest one: here {pretty(ratio)} times as long as a perfectly balanced layer.",
                   (_ratio(f"imbalance = largest load ({busiest}) / mean", most, mean, ratio, ["imbalance[1][1]"]),))


def _times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"
