"""The group-routing sheet: its title, conventions box, hand-work line and layout, per variant.

Every box, row and frame depends on the parameters only (layout.answer_free): every group gets a
'kept?' box whether or not it is kept, every token k boxes of experts. The real models' sizes are
named in the conventions box of every variant. Leaves out: the arithmetic (group_routing,
group_routing_rules) and the worked solutions (group_routing_working).
"""

from workbook.layout import Board, Cell, Grid, blank_grid, given_grid, labels, ordinal

_V3_SIZES = ("DeepSeek-V3 itself: 256 routed experts in 8 groups of 32, topk_group 4, top-8, routed_scaling_factor "
             "2.5 (this sheet: the same rule at hand size).")
_V2_SIZES = ("DeepSeek-V2 itself: 160 routed experts in 8 groups (on 8 devices, 20 each), topk_group 3 (M = 3 "
             "devices), top-6, routed_scaling_factor 16 (this sheet: the same rule at hand size).")
_TIES = ("No two values tie at any cut or in the order you write (the sheet is built so); were two equal, the "
         "lower number would go first.")


def _sizes(spec):
    return (spec["tokens"], spec["groups"] * spec["group_size"], spec["groups"], spec["group_size"],
            spec["topk_group"], spec["top_k"])


def title(spec) -> str:
    T, E, G, _, keep, k = _sizes(spec)
    if spec["variant"] == "device":
        return f"Device limit (V2): {T} tokens, {E} experts on {G} devices, M = {keep}, top-{k}"
    name = "V3" if spec["variant"] == "v3" else "V2"
    return f"Group routing ({name}): {T} tokens, {E} experts in {G} groups, keep {keep}, top-{k}"


def conventions(sol) -> tuple[str, ...]:
    spec = sol.spec
    T, E, G, size, keep, k = _sizes(spec)
    unit = "device" if spec["variant"] == "device" else "group"
    lines = [f"Row vectors; every index you write starts at 1. Router scores are given (T × E). The {E} experts "
             f"sit in {G} {unit}s of {size}: {unit} g holds experts {size}(g − 1) + 1 to {size}g."]
    if spec["variant"] == "v3":
        lines += ["DeepSeek-V3 (inference/model.py, Gate): affinity s = sigmoid with base 3, s = 3^score / "
                  "(3^score + 1) (the by-hand stand-in for e).",
                  "Selection by s + b: the bias b (one per expert) is used for selection only; the weights use s "
                  "alone.",
                  f"A group's score is the sum of its two largest s + b; the topk_group = {keep} best groups are "
                  f"kept, every expert of the other groups is masked (−∞), and the top-{k} of the rest are chosen, "
                  "best first.",
                  "Weights = the chosen s divided by their sum, times routed_scaling_factor 2.5: a token's weights "
                  "add up to 2.5.",
                  _V3_SIZES]
    else:
        lines.append("Affinities = softmax with base 3 over all the experts, per token (DeepSeek-V2; the by-hand "
                     "stand-in for e). V2 has no bias; DeepSeek-V3 adds one per expert, for selection only.")
        if spec["variant"] == "v2":
            lines += [f"DeepSeek-V2's group_limited_greedy: a group's score is its single best affinity; the "
                      f"topk_group = {keep} best groups are kept, the other groups' experts masked, and the top-{k} "
                      "of the rest are chosen, best first.",
                      "Weights = the chosen affinities times routed_scaling_factor 16, not renormalised (V2 uses 16; "
                      "the sheet writes 16 · P as a fraction)."]
        else:
            lines += [f"Device-limited routing (DeepSeek-V2): a device's score is its best affinity; each token keeps "
                      f"its M = {keep} best devices and chooses its top-{k} among their experts, best first. Without "
                      f"the limit: the top-{k} over all experts.",
                      "Each token starts on its home device (given). A pair = a token with one chosen expert; a pair "
                      "whose expert sits on another device crosses the all-to-all: the vector goes out (dispatch) "
                      "and the output comes back (combine). Counted per pair.",
                      f"Volume = crossing pairs × d_model ({spec['d_model']}) × bytes per value ({spec['bytes']}), "
                      "twice (dispatch + combine)."]
        lines.append(_V2_SIZES)
    lines += [_TIES, "Answers: exact fractions; decimals rounded half up to 2 places."]
    return tuple(lines)


def hand_work(sol) -> str:
    T, E, G, _, keep, k = _sizes(sol.spec)
    variant = sol.spec["variant"]
    if variant == "v3":
        return (f"Hand work: {T * E} sigmoids, {T * E} additions, {T * G} group scores, {T} top-{k} picks, "
                f"{T * k} weights.")
    if variant == "v2":
        return f"Hand work: {T * E} probabilities, {T * G} group bests, {T} top-{k} picks, {T * k} weights."
    return (f"Hand work: {T * E} probabilities, {T * G} device bests, {2 * T} top-{k} picks, {4 * T} counts, "
            "4 multiplications.")


def _given_row(name: str, row_label: str, values, cols) -> Grid:
    return Grid(name, (tuple(Cell(given=v) for v in values),), (row_label,), cols)


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    T, E, G, size, keep, k = _sizes(spec)
    variant = spec["variant"]
    unit = "device" if variant == "device" else "group"
    tok, exp_, grp = labels("t", T), labels("E", E), labels("d" if unit == "device" else "G", G)
    ranks = tuple(ordinal(i) for i in range(k))
    where = _given_row(f"{unit} of each expert (given)", unit, [str(e // size + 1) for e in range(E)], exp_)
    first = "sigmoid" if variant == "v3" else "probs"
    sections = [("Affinities", s(first).instruction, [Board((
        (where,), (given_grid("scores (given)", p.S, tok, exp_),),
        (blank_grid("s" if variant == "v3" else "P", first, s(first).exact, tok, exp_, wide=True),)))])]
    if variant == "v3":
        bias = _given_row("b (given)", "b", [f"{b / 10:g}".replace("-", "−") for b in p.bias], exp_)
        sections.append(("Selection scores", s("selection").instruction, [Board((
            (bias,), (blank_grid("s + b", "selection", s("selection").exact, tok, exp_, wide=True),)))]))
    sections.append((f"{unit.capitalize()} scores and kept {unit}s",
                     s(f"{unit}_score").instruction + " " + s(f"{unit}_kept").instruction, [Board((
                         (blank_grid(f"{unit} score", f"{unit}_score", s(f"{unit}_score").exact, tok, grp, wide=True),
                          blank_grid("kept? (1/0)", f"{unit}_kept", s(f"{unit}_kept").exact, tok, grp)),))]))
    top = blank_grid(f"top-{k} (expert numbers)", "topk", s("topk").exact, tok, ranks)
    if variant != "device":
        sections.append((f"Top-{k} and weights", s("topk").instruction + " " + s("gates").instruction, [Board((
            (top, blank_grid("weight", "gates", s("gates").exact, tok, ranks, wide=True)),))]))
        return sections
    sections.append((f"Top-{k} with the limit and without", s("topk").instruction + " " + s("topk_all").instruction,
                     [Board(((top, blank_grid(f"top-{k}, no limit", "topk_all", s("topk_all").exact, tok, ranks)),))]))
    home = Grid("home (given)", tuple((Cell(given=str(h)),) for h in p.home), tok, ("device",))
    both = ("limit", "no limit")
    sections.append(("What crosses", s("crossing").instruction + " " + s("devices").instruction, [Board((
        (home, blank_grid("pairs crossing", "crossing", s("crossing").exact, tok, both, wide=True),
         blank_grid("devices reached", "devices", s("devices").exact, tok, both, wide=True)),))]))
    sections.append(("All-to-all volume", s("all_to_all").instruction + " " + s("saved").instruction, [Board((
        (blank_grid("all-to-all", "all_to_all", s("all_to_all").exact,
                    ("crossing pairs", "values, one way", "bytes, both ways"), both, wide=True),),
        (blank_grid("saved by the limit (bytes)", "saved", [s("saved").exact], (), ("",), wide=True),)))]))
    return sections
