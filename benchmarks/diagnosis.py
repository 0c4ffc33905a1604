"""How well `check` explains wrong rows (workbook/diagnosis.py), measured on simulated learners.

A script, not a test. Prints figures and exits 0:

    .venv/bin/python benchmarks/diagnosis.py                  # 40 seeds per preset, 2 processes
    .venv/bin/python benchmarks/diagnosis.py --quick          # 5 seeds per preset: a smoke run
    .venv/bin/python benchmarks/diagnosis.py --seeds 100 --jobs 2 --worst 20 --preset switch-ffn

For every preset whose kind names mistakes (MISTAKES), and every seed, one simulated learner works
the sheet with 1 to 3 planted errors:
- a named mistake from the kind's catalogue (mistakes.made), on every row of its steps or on one
  or two rows only (a token's, an expert's), as a learner makes it;
- a slip: one number of a step off by a small amount (an integer by 1, or by 1 in one of a big
  number's three-digit boxes; a fraction's numerator by 1; a decimal by 10%).
The learner works the sheet step by step, each step from their own earlier numbers: this
script's own small computation of each kind's steps (OPS below, checked against the key on every
sheet), not the kinds' `carried`; a named mistake is the catalogue's function run on the
learner's numbers where the mistake starts, written into the steps where it is made (base e into
the powers; the row sums and probabilities are then worked from those); a slip is written over
the step as worked. Two named mistakes are never made in the same step (a row has one cause). Choices (top-k, routing,
token index, capacity slots) are the key's throughout: a slip that would change one is drawn
again (the sheet's later grids would have other rows), and a named mistake in a choice step
(bottom-k, indices from 0, capacity off by one) is made in that step only. The answer file holds
the key everywhere and the learner's numbers where they differ, fractions as "p/q", other values
(and fractions with a denominator over 10,000) as decimals to 4 places.

Then `grade` is run and its findings scored, row by row (a row: a token's or expert's line of a
grid, its ref without the last index). The rows an error changes are found by working the sheet
again without it; a row counts only when `grade` marks a box of it wrong (a mistake whose numbers
equal the key's on a row, or within the tolerance, is not planted there). A row is owned by the
last error written into it; the other changed rows are carried.
- RECALL: the share of planted errors named on their rows. A named mistake is found when every
  row it owns is explained by that mistake (on the key's or the learner's own numbers), or by
  another catalogue mistake whose numbers the row holds just as well (counted as ambiguous). A
  slip is found when its row is called a slip and every row it was carried into is called
  carried (or named as a planted mistake whose catalogue changes that step). An error that owns
  no wrong row is not counted.
- FALSE ALARMS: the share of rows the diagnosis explains with a named mistake that is not what
  was planted there.
Also: recall by kind of error, the rows' expected explanation against the one given, the worst
misses with an example each (preset, seed, what was planted, what `check` said), and the time.
"""

import argparse
import collections
import concurrent.futures
import dataclasses
import importlib.util
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("workbook") is None:  # run from a checkout without the package installed
    sys.path.insert(0, str(ROOT))

import sympy
from sympy import Integer, Rational

from workbook.check import grade, groups
from workbook.diagnosis import mistake_boxes, row_of
from workbook.errors import WorkbookError
from workbook.kinds import part
from workbook.layout import cells, step_id_of
from workbook.mistakes import made
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.values import expected, is_right

SEEDS, QUICK_SEEDS = 40, 5
AIM_RECALL, AIM_FALSE = 0.95, 0.02
NOT_NAMED = ("carried", "slip", "(no finding)")
UNFOLLOWED = "slip carried into a step its kind does not follow"
# Mistakes a learner makes on a whole grid at once, never on one row of it.
WHOLE_ONLY = ("softmax over the tokens", "indices counted from 0", "capacity off by one")


# --- values in a step's shape --------------------------------------------------------------------

def leaves(value, path=()):
    if isinstance(value, tuple):
        for i, v in enumerate(value):
            yield from leaves(v, path + (i,))
    else:
        yield path, value


def get_leaf(value, path):
    for i in path:
        value = value[i]
    return value


def set_leaf(value, path, new):
    if not path:
        return new
    items = list(value)
    items[path[0]] = set_leaf(items[path[0]], path[1:], new)
    return tuple(items)


def close(a, b) -> bool:
    """Two exact values (sympy numbers or expressions, ints, Fractions) equal, numerically for
    expressions."""
    if a is None or b is None:
        return a is b
    try:
        if a == b:
            return True
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def same(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    return close(a, b)


def sympified(value):
    if isinstance(value, tuple):
        return tuple(sympified(v) for v in value)
    return sympy.sympify(value)


def with_values(sol, values: dict):
    return dataclasses.replace(sol, steps=tuple(dataclasses.replace(s, exact=values[s.id]) for s in sol.steps))


def num(v) -> float:
    return float(v)


def _top(values, k):
    """Indices of the k largest, the lower index first on a tie."""
    return tuple(sorted(range(len(values)), key=lambda i: (-num(values[i]), i))[:k])


# --- each kind's steps, worked from the learner's own numbers -----------------------------------
# derive(sol, K, v, step) -> the step worked from v's earlier steps (K: the key's values, whose
# choices are used), or None for a step worked from the given inputs only (or a choice).
# choices(sol, K, v) -> {step: the choice the learner's own numbers make}, to refuse slips that
# change one. Ops.slips / not_slips: the steps holding numbers a learner can slip in.

def _softmax_chain(base, v, sid, source):
    if sid == "powers":
        return tuple(tuple(sympy.exp(s - min(r)) if base == "e" else Integer(base) ** int(s - min(r)) for s in r)
                     for r in v[source])
    if sid == "row_sum":
        return tuple(sum(r) for r in v["powers"])
    if sid == "probs":
        return tuple(tuple(x / v["row_sum"][t] for x in r) for t, r in enumerate(v["powers"]))
    return None


def routing_derive(sol, K, v, sid):
    from workbook.spec import GATE_BASE, renormalize

    spec, p = sol.spec, sol.problem
    found = _softmax_chain(GATE_BASE[spec["gate"]], v, sid, "scores")
    if found is not None:
        return found
    T, E = len(p.X), len(p.W_router)
    if sid == "weights":
        out = []
        for t, row in enumerate(K["topk"]):
            chosen = [v["probs"][t][int(e) - 1] for e in row]
            total = sum(chosen) if renormalize(spec) else 1
            out.append(tuple(c / total for c in chosen))
        return tuple(out)
    if sid == "gating":
        return tuple(tuple(v["probs"][int(t) - 1][e] for t in row) for e, row in enumerate(K["token_index"]))
    if sid == "min_capacity_factor":
        k = len(K["topk"][0])
        return (Rational(int(max(v["load"])) * E, k * T),)
    if sid == "ffn_relu":
        return tuple(tuple(tuple(max(x, Integer(0)) for x in row) for row in h) for h in v["ffn_hidden"])
    if sid == "ffn_out":
        def out(row, ex):
            return tuple(sum(row[j] * ex.W2[j][i] for j in range(len(row))) + ex.b2[i] for i in range(len(ex.b2)))
        return tuple(tuple(out(row, ex) for row in v["ffn_relu"][e]) for e, ex in enumerate(p.experts))
    if sid == "output":
        d = len(p.X[0])
        y = [[Integer(0)] * d for _ in range(T)]
        if "token_index" in K:
            pairs = [(int(t) - 1, e, j, v["gating"][e][j])
                     for e, row in enumerate(K["token_index"]) for j, t in enumerate(row)]
        else:
            lists = K["served"] if "served" in K else K["routing"]
            pairs = [(int(t) - 1, e, j, v["weights"][int(t) - 1][list(K["topk"][int(t) - 1]).index(e + 1)])
                     for e, row in enumerate(lists) for j, t in enumerate(row)]
        for t, e, j, w in pairs:
            y[t] = [a + w * o for a, o in zip(y[t], v["ffn_out"][e][j])]
        return tuple(tuple(row) for row in y)
    return None


def routing_choices(sol, K, v):
    out = {}
    if "topk" in K:
        out["topk"] = tuple(tuple(Integer(e + 1) for e in _top(row, len(K["topk"][0]))) for row in v["probs"])
    if "token_index" in K:
        columns = list(zip(*v["probs"]))
        c = len(K["token_index"][0])
        out["token_index"] = tuple(tuple(Integer(t + 1) for t in _top(col, c)) for col in columns)
    if "jitter_choice" in K:
        out["jitter_choice"] = tuple(Integer(_top(row, 1)[0] + 1) for row in v["jitter_scores"])
    return out


def load_balance_derive(sol, K, v, sid):
    T, E = len(K["probs"]), len(K["probs"][0])
    if sid == "f":
        return tuple(c / T for c in v["counts"])
    if sid == "pbar":
        return tuple(sum(v["probs"][t][e] for t in range(T)) / T for e in range(E))
    if sid == "f_pbar":
        return tuple(a * b for a, b in zip(v["f"], v["pbar"]))
    if sid == "aux_unscaled":
        return (E * sum(v["f_pbar"]),)
    if sid == "aux_loss":
        return (v["aux_unscaled"][0] / 100,)
    if sid == "z_loss":
        return (sum(x ** 2 for x in v["lse"]) / T,)
    return None


def load_balance_choices(sol, K, v):
    return {"topk": tuple(tuple(Integer(e + 1) for e in _top(row, len(K["topk"][0]))) for row in v["probs"])}


def router_gradient_derive(sol, K, v, sid):
    from workbook.spec import GATE_BASE

    base = GATE_BASE[sol.spec["gate"]]
    E = len(sol.problem.S[0])
    top = [[int(e) for e in row] for row in K["topk"]]
    if sid == "mean_grad":
        return tuple(sum(w * g for w, g in zip(v["weights"][t], v["grad_w"][t])) for t in range(len(top)))
    if sid == "grad_s_scaled":
        return tuple(tuple(v["weights"][t][row.index(e + 1)] * (v["grad_w"][t][row.index(e + 1)] - v["mean_grad"][t])
                           if e + 1 in row else Integer(0) for e in range(E)) for t, row in enumerate(top))
    if sid == "grad_s":
        ln_b = Integer(1) if base == "e" else sympy.log(base)
        return tuple(tuple(ln_b * x for x in row) for row in v["grad_s_scaled"])
    return None


SCALE, GAMMA = Rational(5, 2), Rational(1, 10)  # DeepSeek-V3's routed scaling factor; the bias update speed


def shared_experts_derive(sol, K, v, sid):
    p, spec = sol.problem, sol.spec
    Ks, T, E, d = spec["shared"], len(p.S), len(p.S[0]), len(p.X[0])
    top = [[int(e) - 1 for e in row] for row in K["topk"]]
    if sid == "selection":
        return tuple(tuple(s + Rational(b, 10) for s, b in zip(row, p.bias)) for row in v["sigmoid"])
    if sid == "gates":
        if spec["variant"] == "v3":
            out = []
            for t, row in enumerate(top):
                s = [v["sigmoid"][t][e] for e in row]
                out.append(tuple(SCALE * g / sum(s) for g in s))
            return tuple(out)
        return tuple(tuple(v["probs"][t][e] for e in row) for t, row in enumerate(top))
    if sid == "routed_out":
        def xw(t, e):
            W = p.W[Ks + e]
            return [sum(p.X[t][i] * W[i][j] for i in range(d)) for j in range(d)]
        return tuple(tuple(sum(v["gates"][t][r] * xw(t, e)[j] for r, e in enumerate(row)) for j in range(d))
                     for t, row in enumerate(top))
    if sid == "output":
        return tuple(tuple(p.X[t][j] + v["shared_out"][t][j] + v["routed_out"][t][j] for j in range(d))
                     for t in range(T))
    if sid == "bias_new":
        mean = Rational(T * spec["top_k"], E)
        return tuple(Rational(b, 10) + GAMMA * sympy.sign(mean - n) for b, n in zip(p.bias, v["load"]))
    return None


def shared_experts_choices(sol, K, v):
    k = len(K["topk"][0])
    first = v["selection"] if "selection" in K else v["probs"]
    out = {"topk": tuple(tuple(Integer(e + 1) for e in _top(row, k)) for row in first)}
    if "topk_new" in K:
        out["topk_new"] = tuple(tuple(Integer(e + 1) for e in _top([s + b for s, b in zip(row, v["bias_new"])], k))
                                for row in v["sigmoid"])
    return out


QMAX = {"int8": 127, "int4": 7}


def _round_half_even(x):
    low = sympy.floor(x)
    rest = x - low
    return low + (1 if rest > Rational(1, 2) or (rest == Rational(1, 2) and low % 2) else 0)


def quantize_derive(sol, K, v, sid):
    m = re.fullmatch(r"(scale|x|q|w_hat|error|max_error)_(int8|int4)", sid)
    if not m:
        return None
    what, fmt = m.groups()
    qmax = QMAX[fmt]
    W = [[[Rational(a, 10) for a in row] for row in mat] for mat in sol.problem.W]
    def each(f):
        return tuple(tuple(tuple(f(e, r, c) for c in range(len(row))) for r, row in enumerate(mat))
                     for e, mat in enumerate(W))
    if what == "scale":
        return tuple(a / qmax for a in v["absmax"])
    if what == "x":
        return each(lambda e, r, c: W[e][r][c] / v[f"scale_{fmt}"][e])
    if what == "q":
        return each(lambda e, r, c: min(max(_round_half_even(v[f"x_{fmt}"][e][r][c]), -qmax), qmax))
    if what == "w_hat":
        return each(lambda e, r, c: v[f"q_{fmt}"][e][r][c] * v[f"scale_{fmt}"][e])
    if what == "error":
        return each(lambda e, r, c: W[e][r][c] - v[f"w_hat_{fmt}"][e][r][c])
    return tuple(max(abs(x) for row in mat for x in row) for mat in v[f"error_{fmt}"])


def sizing_derive(sol, K, v, sid):
    p = sol.problem
    one = lambda step: v[step][0]
    m, k, E = p.segments, p.top_k, p.experts
    if sid == "flops_per_token":
        return (2 * one("active_params"),)
    if sid == "dense_flops":
        return (2 * one("total_params"),)
    if sid == "memory_bytes":
        return tuple(one("total_params") * b / 8 for b in (16, 8, 4))
    if sid.startswith("memory_") and sid != "memory_bytes":
        unit = {"memory_gb": 10 ** 9, "memory_kb": 10 ** 3}[sid]
        return tuple(Rational(x) / unit for x in v["memory_bytes"])
    if sid == "fine_active_params":
        return (m * k * one("fine_expert_params"),)
    if not hasattr(p, "layers"):
        return None
    e, a, r, n, out = (one(s) for s in ("expert_params", "attention_params", "router_params", "norm_params",
                                         "embedding_params"))
    L, half = p.layers, p.layers // 2
    layer, used, dense = a + E * e + r + n, a + k * e + r + n, a + e + n
    found = {"layer_params": layer, "layer_active": used, "dense_layer_params": dense}
    if sid in found:
        return (found[sid],)
    layer, used, dense = one("layer_params"), one("layer_active"), one("dense_layer_params")
    found = {"total_params": L * layer + out, "active_params": L * used + out, "dense_params": L * dense + out,
             "alternating_total": half * (layer + dense) + out, "alternating_active": half * (used + dense) + out}
    if sid in found:
        return (found[sid],)
    if sid == "active_fraction":
        return (Rational(one("active_params")) / one("total_params"),)
    return None


def expert_parallel_derive(sol, K, v, sid):
    spec = sol.spec
    D, d, b = spec["devices"], spec["d_model"], spec["bytes"]
    pairs = D * spec["tokens"] * spec["top_k"]
    M = v["dispatch"]
    if sid == "local_pairs":
        return (sum(M[i][i] for i in range(D)),)
    if sid == "crossing_pairs":
        return (sum(M[i][j] for i in range(D) for j in range(D) if i != j),)
    if sid == "crossing_share":
        return (Rational(v["crossing_pairs"][0], pairs),)
    if sid == "all_to_all":
        c = v["crossing_pairs"][0]
        one = (c * d, c * d * b)
        return (one, one, tuple(2 * x for x in one))
    if sid == "load":
        return tuple(sum(M[i][j] for i in range(D)) for j in range(D))
    if sid == "imbalance":
        return (max(v["load"]) / v["mean_load"][0],)
    return None


def temperature_derive(sol, K, v, sid):
    if sid == "powers":
        return tuple(tuple(Integer(3) ** int(z - min(r)) for z in r) for r in v["scaled"])
    found = _softmax_chain(3, v, sid, "scaled")
    if found is not None:
        return found
    if sid == "top1":
        return tuple(max(r) for r in v["probs"])
    if sid == "top1_other":
        return tuple(max(r) / sum(r) for r in v["powers_other"])
    return None


def temperature_choices(sol, K, v):
    tau, other = (Rational(sol.spec[n]) for n in ("temperature", "compare"))
    return {"sharper": (tau if sum(v["top1"]) > sum(v["top1_other"]) else other,)}


@dataclass(frozen=True)
class Ops:
    derive: object = None
    choices: object = None
    slips: tuple = ()          # steps a learner can slip in; () with `not_slips`: every step but those
    not_slips: tuple = ()
    chosen: tuple = ()         # choices: the learner means the key's (a top-k written from 0 means those experts)


ROUTING_CHOSEN = ("topk", "routing", "token_index", "kept", "served", "dropped", "jitter_choice", "changed",
                  "coverage")
OPS = {
    "token-choice": Ops(routing_derive, routing_choices, ("scores", "powers", "row_sum", "probs", "weights", "load",
                                                          "min_capacity_factor", "ffn_hidden", "ffn_relu", "ffn_out",
                                                          "output"), chosen=ROUTING_CHOSEN),
    "switch": Ops(routing_derive, routing_choices, ("scores", "powers", "row_sum", "probs", "weights", "load",
                                                    "min_capacity_factor", "jitter_scores", "ffn_hidden", "ffn_relu",
                                                    "ffn_out", "output"), chosen=ROUTING_CHOSEN),
    "expert-choice": Ops(routing_derive, routing_choices, ("scores", "powers", "row_sum", "probs", "gating",
                                                           "ffn_hidden", "ffn_relu", "ffn_out", "output"),
                         chosen=ROUTING_CHOSEN),
    "load-balance": Ops(load_balance_derive, load_balance_choices, not_slips=("topk",), chosen=("topk",)),
    "router-gradient": Ops(router_gradient_derive, None, not_slips=("topk",), chosen=("topk",)),
    "shared-experts": Ops(shared_experts_derive, shared_experts_choices, not_slips=("topk", "topk_new", "changed"),
                          chosen=("topk", "topk_new", "changed")),
    "quantize": Ops(quantize_derive, None),
    "sizing": Ops(sizing_derive, None, not_slips=("fine_top_k",), chosen=("fine_top_k",)),
    "expert-parallel": Ops(expert_parallel_derive, None, not_slips=("destination",), chosen=("destination",)),
    "softmax-temperature": Ops(temperature_derive, temperature_choices, not_slips=("sharper",), chosen=("sharper",)),
}


def ops_of(kind: str) -> Ops:
    return OPS.get(kind, Ops())


def slip_steps(sol, ops: Ops) -> list:
    if ops.slips:
        return [s.id for s in sol.steps if s.id in ops.slips]
    if ops.derive is None and not ops.not_slips:  # a kind this script does not know: its quantities only
        return [s.id for s in sol.steps if not s.index]
    return [s.id for s in sol.steps if s.id not in ops.not_slips]


# --- a simulated learner -------------------------------------------------------------------------

@dataclass
class Plant:
    kind: str                   # 'mistake' or 'slip'
    name: str = ""              # the mistake's name
    keys: frozenset = frozenset()   # the steps the catalogue's mistake changes
    ordinal: int = 0            # which of the mistake's ways (with these steps) it is
    units: tuple = ()           # rows (first index, 0-based) it is made on; () for every row
    own_steps: tuple = ()       # the steps where it is made; its other steps follow from them
    step: str = ""              # a slip's step, the place of its number in the step, and how it is off
    path: tuple = ()
    sign: int = 1
    group: int = 0

    def words(self) -> str:
        """'slip in probs[3][1]'; 'e used where ... [powers[5]]'; '... [every row]'."""
        if self.kind == "slip":
            return f"slip in {self.step}" + "".join(f"[{i + 1}]" for i in self.path)
        rows = ", ".join(f"{self.own_steps[0]}[{u + 1}]" for u in self.units) if self.units else "every row"
        return f"{self.name} [{rows}]"


def slipped(x, sign: int, group: int):
    """x off by a small amount, as a slip of the pen makes it."""
    if x is None:
        return Integer(sign)
    x = sympy.sympify(x)
    if x.is_Rational and x.q == 1:
        n = abs(int(x))
        groups_ = max(1, (len(str(n)) + 2) // 3)
        return x + sign * (1000 ** (group % groups_) if n >= 1000 else 1)
    if x.is_Rational and x.q <= 10_000:  # written as a fraction: its numerator off by one
        return Rational(x.p + (sign if x.p + sign else -sign), x.q)  # never 0 for a fraction: a divisor stays one
    step = max(abs(num(x)) / 10, 0.05)
    return x + sign * Rational(str(round(step, 4)))


class Learner:
    """One simulated learner of one sheet: the errors they make, and the sheet as they work it."""

    def __init__(self, sol, sheet, rng):
        self.sol, self.sheet, self.rng = sol, sheet, rng
        self.kind = sol.spec.kind
        self.ops = ops_of(self.kind)
        self.K = {s.id: s.exact for s in sol.steps}
        self.order = [s.id for s in sol.steps]
        self.functions = dict(part(self.kind, "MISTAKES", ()))
        self.catalogue = [(name, c) for name, c in made(sol)]
        blanks = [c for c in cells(sheet.sections) if c.blank and c.ref]
        self.key_boxes = {c.ref: expected(c) for c in blanks}
        self.rows = collections.defaultdict(list)
        for c in blanks:
            self.rows[row_of(c.ref)].append(c.ref)
        self.row_units = collections.defaultdict(set)  # step -> first indices of its rows
        for row in self.rows:
            index = re.findall(r"\[(\d+)\]", row)
            self.row_units[step_id_of(row)].add(int(index[0]) if index else 0)
        self.check_derive()
        self.followed = self.kind_follows()

    def kind_follows(self) -> set:
        """The steps the kind's `carried` part works from the learner's earlier numbers (only those
        can be said to follow from them)."""
        carried = part(self.kind, "carried")
        if carried is None:
            return set()
        mine = {ref: v for ref, v in self.key_boxes.items()}
        out = set()
        for sid in self.order:
            try:
                found = carried(self.sol, sid, mine)
            except (ArithmeticError, KeyError, IndexError, TypeError, ValueError):
                found = None
            if found and found[1]:
                out.add(sid)
        return out

    # the learner's own computation must give the key from the key's numbers
    def check_derive(self):
        if self.ops.derive is None:
            return
        for sid in self.order:
            try:
                found = self.ops.derive(self.sol, self.K, self.K, sid)
            except (ArithmeticError, KeyError, IndexError, TypeError, ValueError) as err:
                raise AssertionError(f"{self.sol.code} {sid}: this script's own working fails: {err!r}")
            if found is not None and not same(found, self.K[sid]):
                raise AssertionError(f"{self.sol.code} {sid}: this script's own working differs from the key")

    def aligned(self, sid) -> bool:
        """The step's first index is its grid's rows (tokens or experts), more than one."""
        n = len(self.K[sid])
        return n > 1 and self.row_units[sid] == set(range(1, n + 1))

    def draw(self) -> list:
        rng = self.rng
        slips = slip_steps(self.sol, self.ops)
        names = sorted({name for name, _ in self.catalogue})
        plants, used = [], set()
        for _ in range(rng.choice((1, 2, 3))):
            left = [n for n in names if n not in used]
            if slips and (not left or rng.random() < 0.4):
                sid = rng.choice(slips)
                path = rng.choice([p for p, _ in leaves(self.K[sid])])
                plants.append(Plant("slip", step=sid, path=path, sign=rng.choice((1, -1)), group=rng.randrange(6)))
                continue
            # one named mistake to a step: a row has one cause (the diagnosis names one per row)
            taken = {s for p in plants if p.kind == "mistake" for s in p.own_steps}
            choices = [(n, c) for n, c in self.catalogue if n in left and not taken & set(self.own_steps(c))]
            if not choices:
                break
            name, changed = rng.choice(choices)
            used.add(name)
            keys = frozenset(changed)
            ordinal = next(i for i, c in enumerate(c for n, c in self.catalogue if n == name and frozenset(c) == keys)
                           if c is changed)
            own = self.own_steps(changed)
            plants.append(Plant("mistake", name=name, keys=keys, ordinal=ordinal, own_steps=own,
                                units=self.draw_units(name, changed, own)))
        return plants

    def own_steps(self, changed) -> tuple:
        """The steps of a mistake (on the key's numbers) that do not simply follow from its earlier
        steps: base e is made in the powers; the row sums and probabilities follow from them."""
        if self.ops.derive is None:
            return tuple(s for s in self.order if s in changed)
        v, own = dict(self.K), []
        for sid in self.order:
            try:
                found = self.ops.derive(self.sol, self.K, v, sid)
            except (ArithmeticError, KeyError, IndexError, TypeError, ValueError):
                found = None
            if found is not None:
                v[sid] = sympified(found)
            if sid in changed:
                if not same(changed[sid], v[sid]):
                    own.append(sid)
                v[sid] = changed[sid]
        return tuple(own)

    def draw_units(self, name, changed, own) -> tuple:
        if any(w in name for w in WHOLE_ONLY) or self.rng.random() < 0.5 or not own:
            return ()
        if not all(self.aligned(s) for s in own) or len({len(self.K[s]) for s in own}) > 1:
            return ()
        first = own[0]
        differ = [u for u in range(len(self.K[first])) if not same(changed[first][u], self.K[first][u])]
        if len(differ) < 2:
            return ()
        return tuple(sorted(self.rng.sample(differ, 1 if len(differ) < 4 or self.rng.random() < 0.7 else 2)))

    def mistake_now(self, plant, values):
        """The mistake's steps on the learner's numbers so far (None when it cannot be made there)."""
        values = dict(values) | {s: self.K[s] for s in self.ops.chosen if s in self.K}
        try:
            found = self.functions[plant.name](with_values(self.sol, values))
        except (ArithmeticError, KeyError, IndexError, TypeError, ValueError, StopIteration):
            return None
        found = [c for c in (found if isinstance(found, list) else [found]) if c and frozenset(c) == plant.keys]
        if not found:
            return None
        return found[plant.ordinal] if plant.ordinal < len(found) else found[0]

    def work(self, plants, skip=None):
        """The learner's values of every step, worked in order: each step from their own earlier
        numbers, then the planted mistakes and slips written over it. (values, writes): writes[step]
        lists the plants that wrote into the step, in order."""
        v = dict(self.K)
        writes = collections.defaultdict(list)
        made_once = {}  # a mistake, made on the learner's numbers where it starts
        for sid in self.order:
            if self.ops.derive is not None:
                try:
                    new = self.ops.derive(self.sol, self.K, v, sid)
                except (ArithmeticError, KeyError, IndexError, TypeError, ValueError):
                    new = None
                if new is not None:
                    v[sid] = sympified(new)
            for i, plant in enumerate(plants):
                if i == skip or plant.kind != "mistake" or sid not in plant.own_steps:
                    continue  # its other steps are worked from the learner's numbers, as any step
                if i not in made_once:
                    made_once[i] = self.mistake_now(plant, v)
                theirs = made_once[i]
                if theirs is None or sid not in theirs:
                    continue
                new = theirs[sid]
                if plant.units:
                    rows = list(v[sid])
                    for u in plant.units:
                        rows[u] = new[u]
                    new = tuple(rows)
                if not same(new, v[sid]):
                    v[sid] = new
                    writes[sid].append(i)
            for i, plant in enumerate(plants):
                if i != skip and plant.kind == "slip" and plant.step == sid:
                    off = slipped(get_leaf(v[sid], plant.path), plant.sign, plant.group)
                    v[sid] = set_leaf(v[sid], plant.path, off)
                    writes[sid].append(i)
        return v, writes

    def boxes(self, values) -> dict:
        """{ref: value} of every box of the sheet as the learner fills it."""
        changed = {sid: values[sid] for sid in self.order if not same(values[sid], self.K[sid])}
        out = dict(self.key_boxes)
        if changed:
            theirs = mistake_boxes(self.sol, changed)
            if theirs is None:
                raise ValueError("the sheet cannot be laid out with the learner's numbers")
            for ref in out:
                if step_id_of(ref) in changed:
                    out[ref] = theirs.get(ref)
        return out

    def choices(self, values) -> dict:
        if self.ops.choices is None:
            return {}
        try:
            return self.ops.choices(self.sol, self.K, values)
        except (ArithmeticError, KeyError, IndexError, TypeError, ValueError):
            return {}


def written(v):
    """A value as a learner writes it: a fraction as 'p/q' (a whole number as it is), anything else,
    and a fraction no one writes by hand (a denominator over 10,000), to 4 decimal places."""
    if v is None:
        return ""
    if isinstance(v, float) or v.denominator > 10_000:
        return round(float(v), 4)
    return str(v)


def box_equal(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


# --- one learner, graded and scored --------------------------------------------------------------

def label_of(finding) -> str:
    if finding is None:
        return "(no finding)"
    if finding.cause:
        return finding.cause
    return "carried" if finding.carried else "slip"


def run_one(preset_name: str, seed: int) -> dict:
    """One simulated learner of one preset's variant: what was planted, what check said, scored."""
    preset = next(p for p in presets() if p.name == preset_name)
    try:
        sol = solve(preset.spec(seed=seed))
    except WorkbookError as err:
        return {"preset": preset_name, "seed": seed, "skipped": f"no variant: {err}"}
    sheet = build_sheet(sol)
    rng = random.Random(f"{preset_name}:{seed}")
    learner = Learner(sol, sheet, rng)
    redrawn = collections.Counter()
    for _ in range(40):
        plants = learner.draw()
        if not plants:
            return {"preset": preset_name, "seed": seed, "skipped": "nothing to plant"}
        try:
            final, writes = learner.work(plants)
            without = [learner.work(plants, skip=i) for i in range(len(plants))]
            final_boxes = learner.boxes(final)
            without_boxes = [learner.boxes(w) for w, _ in without]
        except (ValueError, TypeError, ArithmeticError):
            redrawn["the sheet cannot be worked or laid out with the learner's numbers"] += 1
            continue
        mine = learner.choices(final)
        if any(p.kind == "slip" and learner.choices(w) != mine for p, (w, _) in zip(plants, without)):
            redrawn["a slip would change a choice (top-k, token index, ...)"] += 1
            continue
        break
    else:
        return {"preset": preset_name, "seed": seed, "skipped": "no learner drawn", "redrawn": dict(redrawn)}

    # the answer file, and check's findings
    data = {"code": sol.code}
    for g in groups(sheet):
        data[g.key] = [[written(final_boxes.get(c.ref)) for c in row] for row in g.rows]
    t0 = time.perf_counter()
    report = grade(sol, sheet, data)
    seconds = time.perf_counter() - t0
    wrong_refs = {c.ref for c in report.cells if not c.right}
    wrong_rows = {row_of(r) for r in wrong_refs}
    finding_of = {}
    for s in report.steps:
        for f in s.findings:
            for key in f.keys:
                finding_of[key] = f
    learner_written = {c.ref: c.given for c in report.cells}

    # which rows each planted error changes, and which it owns
    changed = []
    for wb in without_boxes:
        changed.append({row_of(ref) for ref in final_boxes if not box_equal(final_boxes[ref], wb.get(ref))})
    owner = {}
    for sid, order in writes.items():
        for row in learner.rows:
            if step_id_of(row) != sid:
                continue
            for i in order:  # the last to write into the row owns it
                if row in changed[i]:
                    owner[row] = i
    expected_of = {}  # wrong row -> (category, acceptable labels)
    for row in sorted(wrong_rows):
        if row in owner:
            p = plants[owner[row]]
            expected_of[row] = ("slip", {"slip"}) if p.kind == "slip" else ("named", {p.name})
            continue
        parents = [i for i, rows in enumerate(changed) if row in rows]
        if not parents:
            expected_of[row] = ("unattributed", set())
            continue
        ok = {"carried"} | {plants[i].name for i in parents
                            if plants[i].kind == "mistake" and step_id_of(row) in plants[i].keys}
        expected_of[row] = ("carried", ok)

    alias_cache = {}

    def holds(row, name) -> bool:
        """The learner's row holds the numbers of catalogue mistake `name` (on the key's or their own)."""
        if name not in alias_cache:
            boxes = []
            for base in (sol, with_values(sol, final)):
                try:
                    found = made(base)
                except (ArithmeticError, KeyError, IndexError, TypeError, ValueError):
                    found = []
                for n, c in found:
                    if n == name:
                        b = mistake_boxes(base, c)
                        if b is not None:
                            boxes.append(b)
            alias_cache[name] = boxes
        refs = learner.rows[row]
        return any(all(r in b and is_right(learner_written.get(r), b[r]) for r in refs) for b in alias_cache[name])

    # score every planted error
    scored = []
    for i, p in enumerate(plants):
        own = sorted(r for r in wrong_rows if owner.get(r) == i)
        carried = sorted(r for r in wrong_rows if r in changed[i] and r not in owner)
        said = {r: label_of(finding_of.get(r)) for r in own + carried}
        if not own:
            scored.append({"plant": i, "counted": False})
            continue
        ambiguous, unfollowed = [], []
        if p.kind == "mistake":
            ambiguous = [r for r in own if said[r] != p.name and said[r] not in NOT_NAMED
                         and holds(r, p.name) and holds(r, said[r])]
            found = all(said[r] == p.name or r in ambiguous for r in own)
            category = ("named, one row" if len(p.units) == 1 else "named, two rows" if p.units
                        else "named, every row")
        else:
            found = said[own[0]] == "slip" and all(said[r] in expected_of[r][1] for r in carried)
            unfollowed = sorted({step_id_of(r) for r in carried} - learner.followed)
            category = ("slip, nothing after it" if not carried else "slip carried on" if not unfollowed
                        else UNFOLLOWED)
        scored.append({"plant": i, "counted": True, "found": found, "ambiguous": bool(ambiguous),
                       "unfollowed": unfollowed, "category": category, "own": own, "carried": carried,
                       "said": said, "key": p.name if p.kind == "mistake" else f"slip in {p.step}"})

    rows = []
    for row in sorted(wrong_rows):
        category, ok = expected_of[row]
        got = label_of(finding_of.get(row))
        named = got not in NOT_NAMED
        false = named and got not in ok and not (category == "named" and holds(row, got))
        if category == "carried" and step_id_of(row) not in learner.followed:
            category = "carried (not followed)"
        rows.append({"row": row, "expected": category, "ok": sorted(ok), "got": got, "named": named, "false": false,
                     "got_holds": named and false and holds(row, got)})
    findings = [f"Step {f.number}: {f.text()}" for s in report.steps for f in s.findings]
    return {"preset": preset_name, "seed": seed, "code": sol.code, "plants": [p.words() for p in plants],
            "scored": scored, "rows": rows, "findings": findings, "grade_seconds": seconds, "redrawn": dict(redrawn)}


def run_batch(args):
    name, seeds = args
    return [run_one(name, s) for s in seeds]


# --- figures -------------------------------------------------------------------------------------

def pct(a, b) -> str:
    return f"{100 * a / b:5.1f}%" if b else "    -"


def summarise(results: list, worst: int, seconds: float, jobs: int) -> None:
    learners = [r for r in results if "scored" in r]
    skipped = [r for r in results if "skipped" in r]
    redrawn = collections.Counter()
    for r in results:
        redrawn.update(r.get("redrawn", {}))
    per = collections.defaultdict(lambda: collections.Counter())
    by_category = collections.defaultdict(collections.Counter)
    confusion = collections.Counter()
    not_followed = collections.defaultdict(collections.Counter)
    misses = collections.defaultdict(list)
    false_alarms = collections.defaultdict(list)
    for r in learners:
        c = per[r["preset"]]
        c["learners"] += 1
        for s in r["scored"]:
            if not s["counted"]:
                c["not counted"] += 1
                continue
            kind = "slips" if s["category"].startswith("slip") else "named"
            c[kind] += 1
            c[kind + " found"] += s["found"]
            c["ambiguous"] += s["ambiguous"]
            by_category[s["category"]]["planted"] += 1
            by_category[s["category"]]["found"] += s["found"]
            if not s["found"]:
                misses[(r["preset"], s["key"])].append((r, s))
                not_followed[r["preset"]].update(s["unfollowed"])
        for row in r["rows"]:
            confusion[(row["expected"], _bucket(row))] += 1
            if row["named"]:
                c["named rows"] += 1
                c["false rows"] += row["false"]
                if row["false"]:
                    false_alarms[(r["preset"], row["got"], row["expected"])].append((r, row))
    total = collections.Counter()
    for c in per.values():
        total.update(c)

    print(f"simulated learners: {len(learners)} on {len(per)} presets ({len(skipped)} seeds skipped: no variant or "
          f"nothing to plant); planted errors counted: {total['named'] + total['slips']} "
          f"({total['named']} named mistakes, {total['slips']} slips; {total['not counted']} left no wrong row)")
    if redrawn:
        print("learners drawn again: " + "; ".join(f"{n} × {why}" for why, n in redrawn.most_common()))
    print()
    head = (f"{'preset':28s} {'learners':>8s} {'recall':>7s} {'named mistakes':>17s} {'slips':>15s}"
            f"{'false alarms':>18s} {'ambig.':>6s}")
    print(head)
    print("-" * len(head))
    for name in sorted(per, key=lambda n: [p.name for p in presets()].index(n)):
        _line(name, per[name])
    print("-" * len(head))
    _line("overall", total)
    print()
    recall = (total["named found"] + total["slips found"]) / max(1, total["named"] + total["slips"])
    false = total["false rows"] / max(1, total["named rows"])
    named, slips = pct(total["named found"], total["named"]).strip(), pct(total["slips found"], total["slips"]).strip()
    print(f"RECALL overall: {100 * recall:.1f}% (aim {100 * AIM_RECALL:.0f}%): named mistakes {named}, slips {slips}")
    unfollowed = by_category[UNFOLLOWED]
    within = pct(total["named found"] + total["slips found"] - unfollowed["found"],
                 total["named"] + total["slips"] - unfollowed["planted"]).strip()
    print(f"RECALL within what the kinds follow: {within} (leaving out the {unfollowed['planted']} slips carried "
          "into a step whose kind's `carried` does not work it from the learner's numbers)")
    print(f"FALSE ALARMS overall: {100 * false:.1f}% of {total['named rows']} rows explained by a named mistake "
          f"(aim under {100 * AIM_FALSE:.0f}%)")
    print()
    print("recall by kind of error:")
    for cat in sorted(by_category):
        c = by_category[cat]
        print(f"  {cat:50s} {c['found']:5d} / {c['planted']:5d}  {pct(c['found'], c['planted'])}")
    print()
    print("wrong rows, the explanation expected (rows) against the one given (columns):")
    cols = ["as expected", "named: other", "carried", "slip", "none"]
    print(f"  {'':24s}" + "".join(f"{c:>14s}" for c in cols))
    for exp in ("named", "carried", "carried (not followed)", "slip", "unattributed"):
        counts = [confusion[(exp, c)] for c in cols]
        if any(counts):
            print(f"  {exp:24s}" + "".join(f"{n:14d}" for n in counts))
    print()
    if any(not_followed.values()):
        print("missed slips carried into steps their kind does not follow (its `carried` part works no such step "
              "from the learner's numbers), by the step:")
        for name, steps in not_followed.items():
            if steps:
                print(f"  {name}: " + ", ".join(f"{step} ({n})" for step, n in steps.most_common()))
        print()
    inside = {k: v for k, v in misses.items() if any(s["category"] != UNFOLLOWED for _, s in v)}
    outside = {k: v for k, v in misses.items() if k not in inside}
    for title, group in (("worst misses where the kind follows every row involved", inside),
                         ("worst misses of slips carried into a step the kind does not follow", outside)):
        if not group:
            continue
        print(f"{title} ({sum(len(v) for v in group.values())} in all), by preset and planted error, "
              "each with an example:")
        for (name, key), items in sorted(group.items(), key=lambda kv: -len(kv[1]))[:worst]:
            r, s = items[0]
            planted = sum(1 for x in learners if x["preset"] == name
                          for y in x["scored"] if y["counted"] and y["key"] == key)
            print(f"- {name}: {key}: missed {len(items)} of {planted}")
            print(f"    e.g. seed {r['seed']} ({r['code']}): planted " + "; ".join(r["plants"]))
            if key.startswith("slip"):
                wrongly = {row: got for row, got in s["said"].items()
                           if (row in s["own"] and got != "slip") or (row in s["carried"] and got != "carried")}
            else:
                wrongly = {row: s["said"][row] for row in s["own"] if s["said"][row] != key}
            print("    missed on: " + ", ".join(f"{row} → {got}" for row, got in wrongly.items()))
            for line in r["findings"][:10]:
                print(f"    check: {line}")
        print()
    if false_alarms:
        print("false alarms, by preset and the mistake named:")
        for (name, got, exp), items in sorted(false_alarms.items(), key=lambda kv: -len(kv[1]))[:worst]:
            r, row = items[0]
            holds = sum(x[1]["got_holds"] for x in items)
            print(f"- {name}: '{got}' named on {len(items)} row(s) expected {exp} "
                  f"({holds} of them hold that mistake's numbers by coincidence)")
            print(f"    e.g. seed {r['seed']} ({r['code']}) row {row['row']} (expected {', '.join(row['ok'])}): "
                  "planted " + "; ".join(r["plants"]))
        print()
    per_grade = sum(r.get("grade_seconds", 0) for r in learners) / max(1, len(learners))
    print(f"time: {seconds:.1f} s for {len(results)} seeds with {jobs} process(es); "
          f"grade() {1000 * per_grade:.0f} ms per learner")


def _bucket(row) -> str:
    got = row["got"]
    if got in row["ok"]:
        return "as expected"
    if got == "(no finding)":
        return "none"
    if got in ("carried", "slip"):
        return got
    return "as expected" if not row["false"] and row["expected"] == "named" else "named: other"


def _line(name, c) -> None:
    planted = c["named"] + c["slips"]
    found = c["named found"] + c["slips found"]
    print(f"{name:28s} {c['learners']:8d} {pct(found, planted):>7s} "
          f"{c['named found']:5d}/{c['named']:<4d}{pct(c['named found'], c['named']):>7s} "
          f"{c['slips found']:4d}/{c['slips']:<4d}{pct(c['slips found'], c['slips']):>6s}"
          f"{c['false rows']:5d}/{c['named rows']:<5d}{pct(c['false rows'], c['named rows']):>7s} {c['ambiguous']:6d}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"seeds (simulated learners) per preset (default {SEEDS})")
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK_SEEDS} seeds per preset")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--preset", action="append", default=[], help="only this preset (may be given again)")
    parser.add_argument("--worst", type=int, default=12, help="misses and false alarms to show (default 12)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (QUICK_SEEDS if args.quick else SEEDS)
    chosen = [p for p in presets() if part(p.exercise, "MISTAKES", ())]
    if args.preset:
        chosen = [p for p in chosen if p.name in args.preset]
        if not chosen:
            parser.error("no such preset with named mistakes: " + ", ".join(args.preset))
    batch = max(1, min(10, seeds // 2))
    tasks = [(p.name, list(range(s, min(s + batch, seeds + 1))))
             for p in chosen for s in range(1, seeds + 1, batch)]
    start = time.perf_counter()
    results = []
    if args.jobs <= 1:
        for t in tasks:
            results += run_batch(t)
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for found in pool.map(run_batch, tasks):
                results += found
    summarise(results, args.worst, time.perf_counter() - start, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
