"""Expert parallelism by hand: where each (token, expert) pair is computed, what crosses the
all-to-all, and how unevenly the devices are loaded.

D devices hold E experts in contiguous blocks of E/D; each device starts with its own tokens, whose
k experts are given (the router is done). The learner finds each pair's device, the dispatch
matrix (home device x expert's device), the pairs that stay local and those that cross, the
all-to-all volume in values and bytes (dispatch, and the same back for the combine), the compute
load per device and the imbalance max / mean. Leaves out: capacity limits and dropped tokens,
sending a token once per device rather than once per pair, and link speeds (time).
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from sympy import Integer, Rational

from workbook.errors import GenerationError, SpecError
from workbook.figures import load_bars
from workbook.kinds.expert_parallel_working import working  # noqa: F401
from workbook.kinds.own_numbers import one_row, one_value, own_grid, row as own_row, whole
from workbook.layout import Board, Cell, Figure, Grid, answer_cell, answer_free, blank_grid, labels, ordinal
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param, top_k_below_experts

_TRIES = 500
_FORMATS = {1: " (fp8 or int8)", 2: " (bf16 or fp16)", 4: " (fp32)"}
_COLUMNS = 16  # cells across the page for the routing and placement tables side by side


@dataclass(frozen=True)
class ParallelProblem:
    """routing[t] = token t's k experts (1-based, router order); home[t] = its device;
    placement[e] = the device of expert e. All given on the sheet."""

    routing: Matrix
    home: tuple[int, ...]
    placement: tuple[int, ...]

    def inputs(self) -> dict:
        return {"routing": [list(r) for r in self.routing], "home": list(self.home),
                "placement": list(self.placement)}


def placement(experts: int, devices: int) -> tuple[int, ...]:
    """Expert e on device floor((e - 1) / (E/D)) + 1: E = 4, D = 2 -> (1, 1, 2, 2)."""
    return tuple((e - 1) // (experts // devices) + 1 for e in range(1, experts + 1))


def home(tokens: int, devices: int) -> tuple[int, ...]:
    """Tokens t1..tn start on device 1, the next n on device 2: n = 2, D = 2 -> (1, 1, 2, 2)."""
    return tuple(d for d in range(1, devices + 1) for _ in range(tokens))


def _limit(mean: int) -> int:
    """The largest load a sheet allows (imbalance at most 1.5, or 2 when the mean is 1): 6 -> 9, 1 -> 2."""
    return mean + max(1, mean // 2)


def generate(spec) -> ParallelProblem:
    """Seeded: each token's k distinct experts; some pairs cross and at least half the expected
    share (1/D) stays local; the largest load is above the mean (imbalance > 1) but at most
    _limit(mean), so the bars fit the page."""
    D, E, n, k = spec["devices"], spec["experts"], spec["tokens"], spec["top_k"]
    rng = np.random.default_rng(spec.seed)
    for _ in range(_TRIES):
        routing = as_matrix(rng.permutation(E)[:k] + 1 for _ in range(D * n))
        problem = ParallelProblem(routing, home(n, D), placement(E, D))
        f = forward(spec, problem)
        local, pairs = f["local_pairs"][0], D * n * k
        if max(1, pairs // (2 * D)) <= local < pairs and n * k < f["load"].max() <= _limit(n * k):
            return problem
    raise GenerationError(f"could not build a hand-friendly expert-parallel problem with D={D}, E={E}, k={k}")


def steps(spec, problem: ParallelProblem):
    D, d, b = spec["devices"], spec["d_model"], spec["bytes"]
    where = tuple(tuple(problem.placement[e - 1] for e in row) for row in problem.routing)
    yield Step("destination", "Device of each pair", "Look up the device of each chosen expert.",
               tuple(tuple(Integer(v) for v in row) for row in where), index=True)
    matrix = [[0] * D for _ in range(D)]
    for source, row in zip(problem.home, where):
        for target in row:
            matrix[source - 1][target - 1] += 1
    yield Step("dispatch", "Dispatch matrix", "Count the pairs by home device (row) and expert's device "
               "(column); each row adds up to that device's tokens × k.",
               tuple(tuple(Integer(v) for v in row) for row in matrix), index=True)
    local, pairs = sum(matrix[i][i] for i in range(D)), sum(map(sum, matrix))
    crossing = pairs - local
    yield Step("local_pairs", "Pairs that stay", "Add the diagonal: these never leave their device.",
               (Integer(local),), index=True)
    yield Step("crossing_pairs", "Pairs that cross", "Add everything off the diagonal.", (Integer(crossing),),
               index=True)
    yield Step("crossing_share", "Share that crosses", f"Crossing pairs / all {pairs} pairs.",
               (Rational(crossing, pairs),))
    one_way = (Integer(crossing * d), Integer(crossing * d * b))
    yield Step("all_to_all", "All-to-all volume",
               f"Values = crossing pairs × {d} (d_model); bytes = values × {b}. The combine sends every "
               "crossing pair's output back: the same again. Both = dispatch + combine.",
               (one_way, one_way, tuple(2 * v for v in one_way)))
    load = tuple(Integer(sum(matrix[i][j] for i in range(D))) for j in range(D))
    yield Step("load", "Compute load", "Pairs each device processes: its column of the dispatch matrix.",
               load, index=True)
    mean = Rational(pairs, D)
    yield Step("mean_load", "Mean load", f"All {pairs} pairs / {D} devices.", (mean,))
    yield Step("imbalance", "Imbalance", "Largest load / mean load (1 is perfect balance).", (max(load) / mean,))


def forward(spec, problem: ParallelProblem) -> dict:
    """The same quantities by one-hot matrices: dispatch = Hᵀ A P with A the (token x expert)
    routing mask, H the home one-hot and P the placement one-hot."""
    D, E, d, b = spec["devices"], spec["experts"], spec["d_model"], spec["bytes"]
    routing = np.array(problem.routing) - 1
    T = routing.shape[0]
    A = np.zeros((T, E))
    np.put_along_axis(A, routing, 1.0, axis=1)
    H = np.eye(D)[np.array(problem.home) - 1]
    P = np.eye(D)[np.repeat(np.arange(D), E // D)]
    dispatch = H.T @ A @ P
    pairs, local = dispatch.sum(), np.trace(dispatch)
    crossing = pairs - local
    load = np.bincount(P.argmax(axis=1)[routing].ravel(), minlength=D).astype(float)
    one_way = [crossing * d, crossing * d * b]
    return {"destination": P.argmax(axis=1)[routing] + 1, "dispatch": dispatch, "local_pairs": [local],
            "crossing_pairs": [crossing], "crossing_share": [crossing / pairs],
            "all_to_all": [one_way, one_way, [2 * v for v in one_way]], "load": load,
            "mean_load": [load.mean()], "imbalance": [load.max() / load.mean()]}


def title(spec) -> str:
    D, E, n, k = spec["devices"], spec["experts"], spec["tokens"], spec["top_k"]
    return f"Expert parallelism: {E} experts on {D} devices, {n} token{'s' if n > 1 else ''} per device, top-{k}"


def conventions(sol) -> tuple[str, ...]:
    spec = sol.spec
    D, E, n, k, d, b = (spec[p] for p in ("devices", "experts", "tokens", "top_k", "d_model", "bytes"))
    per, tokens, values = E // D, f"{n} token{'s' if n > 1 else ''}", f"{b} byte{'s' if b > 1 else ''}"
    return (f"Experts sit in contiguous blocks of E/D = {per}: expert e is on device ⌊(e − 1) / {per}⌋ + 1 "
            "(table in step 1).",
            f"Each device starts with its own {tokens} (their home device); each token's "
            + (f"top-{k} experts are" if k > 1 else "expert is") + " given (routing is done). A pair = one token "
            "vector for one of its experts. Indices start at 1.",
            "A pair whose expert is on the token's home device stays local: not in the all-to-all. Every other "
            "pair crosses: the vector goes to the expert's device (dispatch) and the output comes back (combine)."
            + (" Counted per pair: a token with two experts on the same other device crosses twice."
               if k > 1 and per > 1 else ""),
            f"Volume = crossing pairs × d_model × bytes per value; here {d} × {values}{_FORMATS.get(b, '')}; "
            "plain bytes.",
            "Dispatch matrix: row = home device (sender), column = expert's device (receiver), entry = pairs; "
            "diagonal = local pairs. The combine matrix is its transpose.",
            "Compute load of a device = the pairs its experts process, local and arriving (no capacity limit, "
            "nothing dropped). Imbalance = largest load / mean load; 1 is perfect balance.",
            "Answers: exact fractions; decimals rounded half up to 2 places.")


def hand_work(sol) -> str:
    D, n, k = sol.spec["devices"], sol.spec["tokens"], sol.spec["top_k"]
    return f"Hand work: {D * n * k} look-ups, {D * D} counts, 4 multiplications, 3 divisions."


def _routing_grid(sol) -> Grid:
    """Tokens as columns: home device and experts given, the device of each pair blank:
    t1 on d1 with experts (1, 3), E/D = 2 -> column t1 reads 1, 1, 3 (grey), then 1, 2 (blank)."""
    p, k = sol.problem, sol.spec["top_k"]
    where = sol.step("destination").exact
    rank = [ordinal(r) + " " if k > 1 else "" for r in range(k)]
    rows = [tuple(Cell(given=str(h)) for h in p.home)]
    rows += [tuple(Cell(given=str(row[r])) for row in p.routing) for r in range(k)]
    rows += [tuple(answer_cell(where[t][r], f"destination[{t + 1}][{r + 1}]", False) for t in range(len(where)))
             for r in range(k)]
    names = ("home device",) + tuple(f"{rank[r]}expert" for r in range(k)) + tuple(
        f"device of {rank[r]}expert" for r in range(k))
    return Grid("routing (given) and the device of each pair", tuple(rows), names, labels("t", len(p.home)))


def _device_bars(loads: list[int], mean: Fraction, most: int = 0) -> Figure:
    """Loads [8, 4], mean 6 -> bars d1 = 8 and d2 = 4 with a dotted line 'mean = 6'; `most` fixes
    the height (see figures.load_bars)."""
    svg, width, height = load_bars(loads, None, mean, prefix="d", fair_name="mean", most=most)
    return Figure("pairs processed per device, with the mean line (draw it)", svg, width, height)


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    D = spec["devices"]
    dev, one = labels("d", D), ("",)
    placed = Grid("experts on devices (given)", (tuple(Cell(given=str(v)) for v in p.placement),),
                  ("device",), labels("E", len(p.placement)))
    routing = _routing_grid(sol)
    side_by_side = len(p.home) + len(p.placement) <= _COLUMNS
    panels = ((routing, placed),) if side_by_side else ((placed,), (routing,))
    most = D * spec["tokens"] * min(spec["top_k"], spec["experts"] // D)  # every pair a device can get
    bars = _device_bars([int(v) for v in s("load").exact], Fraction(str(s("mean_load").exact[0])),
                        most if answer_free(spec) else 0)
    return [
        ("Where each pair is computed", s("destination").instruction, [Board(panels)]),
        ("Dispatch matrix", " ".join(s(i).instruction for i in ("dispatch", "local_pairs", "crossing_pairs",
                                                                 "crossing_share")), [Board((
            (blank_grid("pairs: from home device (row) to expert's device (column)", "dispatch",
                        s("dispatch").exact, dev, dev),
             blank_grid("stay local", "local_pairs", [s("local_pairs").exact], (), one),
             blank_grid("cross", "crossing_pairs", [s("crossing_pairs").exact], (), one),
             blank_grid("share crossing", "crossing_share", [s("crossing_share").exact], (), one, wide=True)),
        ))]),
        ("All-to-all volume", s("all_to_all").instruction, [Board((
            (blank_grid("all-to-all", "all_to_all", s("all_to_all").exact, ("dispatch", "combine", "both"),
                        ("values", "bytes"), wide=True),),
        ))]),
        ("Compute load and imbalance", " ".join(s(i).instruction for i in ("load", "mean_load", "imbalance")), [
            Board(((blank_grid("pairs processed", "load", [s("load").exact], ("load",), dev),
                    blank_grid("mean", "mean_load", [s("mean_load").exact], (), one, wide=True),
                    blank_grid("max / mean", "imbalance", [s("imbalance").exact], (), one, wide=True)),)),
            Board(((bars,),)),
        ]),
    ]


def _every_pair_crosses(sol) -> dict:
    """Every pair counted as crossing, the local ones too: share 1 and the volume of all pairs."""
    d, b = sol.spec["d_model"], sol.spec["bytes"]
    pairs = sol.step("local_pairs").exact[0] + sol.step("crossing_pairs").exact[0]
    one_way = (pairs * d, pairs * d * b)
    return {"crossing_pairs": (pairs,), "crossing_share": (Integer(1),),
            "all_to_all": (one_way, one_way, tuple(2 * v for v in one_way))}


def _combine_left_out(sol) -> dict:
    """The all-to-all counted one way: the combine, which sends every output back, left out."""
    dispatch, combine, _ = sol.step("all_to_all").exact
    return {"all_to_all": (dispatch, combine, dispatch)}


def _load_by_home(sol) -> dict:
    """The compute load read from the rows (where tokens start) instead of the columns (where
    their experts sit), and the imbalance from it."""
    rows = tuple(sum(row) for row in sol.step("dispatch").exact)
    if rows == sol.step("load").exact:
        return {}
    return {"load": rows, "imbalance": (max(rows) / sol.step("mean_load").exact[0],)}


MISTAKES = (
    ("every pair counted as crossing, the local ones too", _every_pair_crosses),
    ("the all-to-all counted one way: the combine sends every output back", _combine_left_out),
    ("the load read by home device (rows), not by where the experts sit (columns)", _load_by_home),
)


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` worked from the learner's own earlier boxes: the
    dispatch matrix from their devices of the pairs, the local and crossing pairs and the loads
    from their dispatch matrix, the share and the all-to-all volume from their crossing pairs, the
    mean from their loads, the imbalance from their loads and mean. None when a box it needs is
    empty or not a sensible number (counts: whole numbers; devices: 1 to D)."""
    spec, p = sol.spec, sol.problem
    D, d, b = spec["devices"], spec["d_model"], spec["bytes"]
    k, pairs = spec["top_k"], len(p.home) * spec["top_k"]

    def count(v):
        v = whole(v)
        return v if v is not None and 0 <= v <= 10 * pairs else None

    if step_id == "dispatch":
        where = own_grid(learner, "destination")
        matrix = [[0] * D for _ in range(D)]
        for t, h in enumerate(p.home, 1):
            targets = own_row(where, t, k, whole)
            if targets is None or not all(1 <= v <= D for v in targets):
                return None
            for v in targets:
                matrix[h - 1][v - 1] += 1
        return "destination", {f"dispatch[{i + 1}][{j + 1}]": Fraction(matrix[i][j]) for i in range(D) for j in range(D)}
    if step_id in ("local_pairs", "crossing_pairs", "load"):
        grid = own_grid(learner, "dispatch")
        M = [own_row(grid, i, D, count) for i in range(1, D + 1)]
        if any(r is None for r in M):
            return None
        if step_id == "load":
            return "dispatch", {f"load[1][{j + 1}]": Fraction(sum(r[j] for r in M)) for j in range(D)}
        local = sum(M[i][i] for i in range(D))
        value = local if step_id == "local_pairs" else sum(map(sum, M)) - local
        return "dispatch", {f"{step_id}[1][1]": Fraction(value)}
    if step_id in ("crossing_share", "all_to_all"):
        c = count(one_value(learner, "crossing_pairs"))
        if c is None:
            return None
        if step_id == "crossing_share":
            return "crossing_pairs", {"crossing_share[1][1]": Fraction(c, pairs)}
        one_way = (Fraction(c * d), Fraction(c * d * b))
        rows = (one_way, one_way, tuple(2 * v for v in one_way))
        return "crossing_pairs", {f"all_to_all[{i + 1}][{j + 1}]": v for i, r in enumerate(rows) for j, v in enumerate(r)}
    if step_id in ("mean_load", "imbalance"):
        load = one_row(learner, "load", D, count)
        if load is None:
            return None
        if step_id == "mean_load":
            return "load", {"mean_load[1][1]": Fraction(sum(load), D)}
        mean = one_value(learner, "mean_load")
        if mean is None or mean <= 0:
            return None
        return ("load", "mean_load"), {"imbalance[1][1]": max(load) / mean}
    return None


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Expert parallelism"
PARAMS = (
    Param("devices", "devices D", 2, 2, 4),
    Param("experts", "experts E, spread evenly over the devices", 4, 2, 8),
    Param("tokens", "tokens that start on each device", 3, 1, 4),
    Param("top_k", "experts per token k", 2, 1, 2),
    Param("d_model", "values per token vector (d_model)", 4096, 1, 8192),
    Param("bytes", "bytes per value (2 for bf16)", 2, 1, 4),
)
SLOTS = ((6, ()),)


def check(v: dict) -> None:
    """top-k < E, and E a multiple of the devices."""
    top_k_below_experts(v)
    if v["experts"] % v["devices"]:
        raise SpecError(f"experts ({v['experts']}) must be a multiple of devices ({v['devices']}): "
                        "each device holds E/D experts")
