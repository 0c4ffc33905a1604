"""One hand-worked example per exercise kind, solved on paper in the docstrings."""

from sympy import Rational as R

from workbook.problem import Expert, Problem
from workbook.solve import solve
from workbook.spec import make_spec

X = ((1, 0), (0, 1))
W_ROUTER = ((2, 0), (1, 1), (0, -1))
EXPERTS = (
    Expert(W1=((1,), (0,)), b1=(0,), W2=((1, 2),), b2=(0, 0)),   # FFN1(x) = ReLU(x1) [1, 2]
    Expert(W1=((0,), (1,)), b1=(-1,), W2=((1, 0),), b2=(0, 1)),  # FFN2(x) = ReLU(x2 - 1) [1, 0] + [0, 1]
    Expert(W1=((0,), (-1,)), b1=(0,), W2=((1, 1),), b2=(0, 0)),  # FFN3(x) = ReLU(-x2) [1, 1]
)


def values(sol, step_id):
    return sol.step(step_id).exact


def test_token_choice_by_hand():
    """Two tokens, three experts, top-2, softmax base 3, renormalised.

    Scores S = X W_rᵀ: t1 = (1, 0) -> (2, 1, 0); t2 = (0, 1) -> (0, 1, -1).
    Powers 3^(s - row min): t1 -> (9, 3, 1), sum 13; t2 (min -1) -> (3, 9, 1), sum 13.
    P: t1 = (9/13, 3/13, 1/13); t2 = (3/13, 9/13, 1/13).
    Top-2: t1 -> E1, E2; t2 -> E2, E1. Weights 9/(9+3) = 3/4 and 3/12 = 1/4 for both.
    Routing: E1 <- t1, t2; E2 <- t1, t2; E3 <- nobody. Load (2, 2, 0).
    FFN1(t1) = ReLU(1)[1, 2] = [1, 2];  FFN2(t1) = ReLU(0 - 1)[1, 0] + [0, 1] = [0, 1].
    y1 = 3/4 [1, 2] + 1/4 [0, 1] = [3/4, 7/4].
    FFN2(t2) = ReLU(1 - 1)[1, 0] + [0, 1] = [0, 1];  FFN1(t2) = ReLU(0)[1, 2] = [0, 0].
    y2 = 3/4 [0, 1] + 1/4 [0, 0] = [0, 3/4].
    """
    spec = make_spec("token-choice", {"tokens": 2, "experts": 3, "d_model": 2, "d_ff": 1,
                                      "top_k": 2, "ffn": True}, 0)
    sol = solve(spec, Problem(X, W_ROUTER, EXPERTS))
    assert values(sol, "scores") == ((2, 1, 0), (0, 1, -1))
    assert values(sol, "powers") == ((9, 3, 1), (3, 9, 1))
    assert values(sol, "row_sum") == (13, 13)
    assert values(sol, "probs") == ((R(9, 13), R(3, 13), R(1, 13)), (R(3, 13), R(9, 13), R(1, 13)))
    assert values(sol, "topk") == ((1, 2), (2, 1))
    assert values(sol, "weights") == ((R(3, 4), R(1, 4)), (R(3, 4), R(1, 4)))
    assert values(sol, "routing") == ((1, 2), (1, 2), ())
    assert values(sol, "load") == (2, 2, 0)
    assert values(sol, "output") == ((R(3, 4), R(7, 4)), (0, R(3, 4)))


def test_token_choice_without_renormalising():
    """Same tokens, renormalize off: the weights are the probabilities, 9/13 and 3/13.
    y1 = 9/13 [1, 2] + 3/13 [0, 1] = [9/13, 21/13]."""
    spec = make_spec("token-choice", {"tokens": 2, "experts": 3, "d_model": 2, "d_ff": 1,
                                      "top_k": 2, "ffn": True, "renormalize": False}, 0)
    sol = solve(spec, Problem(X, W_ROUTER, EXPERTS))
    assert values(sol, "weights") == ((R(9, 13), R(3, 13)), (R(9, 13), R(3, 13)))
    assert values(sol, "output")[0] == (R(9, 13), R(21, 13))


def test_expert_choice_by_hand():
    """Four tokens, three experts, each expert takes its top-1 token (c = 1), softmax base 3.

    t1 = (1, 0): S (2, 1, 0)  -> P (9, 3, 1)/13.
    t2 = (0, 1): S (0, 1, -1) -> P (3, 9, 1)/13.
    t3 = (0, 0): S (0, 0, 0)  -> P (1/3, 1/3, 1/3).
    t4 = (0, -1): S (0, -1, 1) -> powers (3, 1, 9) -> P (3, 1, 9)/13.
    Columns: E1 (9/13, 3/13, 1/3, 3/13) -> t1; E2 (3/13, 9/13, 1/3, 1/13) -> t2;
    E3 (1/13, 1/13, 1/3, 9/13) -> t4. I = (1; 2; 4), G = (9/13; 9/13; 9/13), no renormalising.
    Coverage (1, 1, 0, 1): t3 is dropped and gets 0.
    y1 = 9/13 FFN1(t1) = 9/13 [1, 2] = [9/13, 18/13];  y2 = 9/13 FFN2(t2) = 9/13 [0, 1];
    y3 = [0, 0];  y4 = 9/13 FFN3(t4) = 9/13 ReLU(1) [1, 1] = [9/13, 9/13].
    """
    spec = make_spec("expert-choice", {"tokens": 4, "experts": 3, "d_model": 2, "d_ff": 1,
                                       "capacity": 1, "ffn": True}, 0)
    problem = Problem(X + ((0, 0), (0, -1)), W_ROUTER, EXPERTS)
    sol = solve(spec, problem)
    assert values(sol, "probs")[2] == (R(1, 3), R(1, 3), R(1, 3))
    assert values(sol, "probs")[3] == (R(3, 13), R(1, 13), R(9, 13))
    assert values(sol, "token_index") == ((1,), (2,), (4,))
    assert values(sol, "gating") == ((R(9, 13),), (R(9, 13),), (R(9, 13),))
    assert values(sol, "coverage") == (1, 1, 0, 1)
    assert values(sol, "dropped") == ((3,),)
    assert values(sol, "output") == ((R(9, 13), R(18, 13)), (0, R(9, 13)), (0, 0), (R(9, 13), R(9, 13)))


def test_switch_by_hand():
    """Four tokens, two experts, top-1, capacity factor 1.0, softmax base 3, with FFNs.

    W_r = ((1, 0), (0, 1)): the scores are the token rows themselves.
    t1 = (1, 0): S (1, 0) -> powers (3, 1) -> P (3/4, 1/4) -> E1, weight 3/4 (raw, not renormalised).
    t2 = (2, 0): S (2, 0) -> (9, 1) -> P (9/10, 1/10) -> E1, weight 9/10.
    t3 = (0, 1): S (0, 1) -> (1, 3) -> P (1/4, 3/4) -> E2, weight 3/4.
    t4 = (1, -1): S (1, -1) -> (9, 1) -> P (9/10, 1/10) -> E1, weight 9/10.
    Load (3, 1). C = floor(1.0 x 1 x 4 / 2) = 2. Slots in token order: E1 takes t1, t2; t4 finds
    E1 full and is dropped; E2 takes t3. Kept (1, 1, 1, 0); served E1 (1, 2), E2 (3).
    Smallest cf that drops nothing: C must reach 3, cf = 3 x 2 / (1 x 4) = 3/2.
    FFN1(x) = ReLU(x1) [1, 2], FFN2(x) = ReLU(x2 - 1) [1, 0] + [0, 1] (the experts above).
    y1 = 3/4 [1, 2] = [3/4, 3/2]; y2 = 9/10 [2, 4] = [9/5, 18/5];
    y3 = 3/4 FFN2(t3) = 3/4 [0, 1] = [0, 3/4]; y4 = [0, 0] (dropped: the residual carries it).
    """
    spec = make_spec("switch", {"tokens": 4, "experts": 2, "d_model": 2, "d_ff": 1, "ffn": True,
                                "capacity_factor": "1.0"}, 0)
    problem = Problem(((1, 0), (2, 0), (0, 1), (1, -1)), ((1, 0), (0, 1)), EXPERTS[:2])
    sol = solve(spec, problem)
    assert values(sol, "probs") == ((R(3, 4), R(1, 4)), (R(9, 10), R(1, 10)), (R(1, 4), R(3, 4)),
                                    (R(9, 10), R(1, 10)))
    assert values(sol, "topk") == ((1,), (1,), (2,), (1,))
    assert values(sol, "weights") == ((R(3, 4),), (R(9, 10),), (R(3, 4),), (R(9, 10),))
    assert values(sol, "load") == (3, 1)
    assert values(sol, "capacity") == (2,)
    assert values(sol, "kept") == ((1,), (1,), (1,), (0,))
    assert values(sol, "served") == ((1, 2), (3,))
    assert values(sol, "dropped") == ((4,),)
    assert values(sol, "min_capacity_factor") == (R(3, 2),)
    assert values(sol, "output") == ((R(3, 4), R(3, 2)), (R(9, 5), R(18, 5)), (0, R(3, 4)), (0, 0))


def test_top2_capacity_serves_first_choices_first():
    """Three tokens, three experts, top-2, capacity factor 0.5, renormalised, softmax base 3.

    W_r = ((1, 0), (0, 1), (-1, -1)).
    t1 = (1, 0): S (1, 0, -1) -> powers (9, 3, 1)/13 -> top-2 E1, E2, weights 3/4, 1/4.
    t2 = (0, 1): S (0, 1, -1) -> (3, 9, 1)/13 -> E2, E1, weights 3/4, 1/4.
    t3 = (2, 1): S (2, 1, -3) -> powers (243, 81, 1)/325 -> E1, E2.
    C = floor(0.5 x 2 x 3 / 3) = 1. First choices in token order: t1 -> E1 (slot 1), t2 -> E2 (slot 1),
    t3 -> E1 full: dropped. Then second choices: t1 -> E2 full, t2 -> E1 full, t3 -> E2 full: all dropped.
    Kept ((1, 0), (1, 0), (0, 0)); t3 has no choice kept, so it is the dropped token.
    In token order t3's first choice would come after t1's second choice; priority changes that.
    Load (3, 3, 0): smallest cf = 3 x 3 / (2 x 3) = 3/2.
    """
    spec = make_spec("token-choice", {"tokens": 3, "experts": 3, "d_model": 2, "top_k": 2,
                                      "capacity_factor": "0.5"}, 0)
    sol = solve(spec, Problem(((1, 0), (0, 1), (2, 1)), ((1, 0), (0, 1), (-1, -1))))
    assert values(sol, "topk") == ((1, 2), (2, 1), (1, 2))
    assert values(sol, "capacity") == (1,)
    assert values(sol, "kept") == ((1, 0), (1, 0), (0, 0))
    assert values(sol, "served") == ((1,), (2,), ())
    assert values(sol, "dropped") == ((3,),)
    assert values(sol, "min_capacity_factor") == (R(3, 2),)


def test_jitter_by_hand():
    """Jitter multiplies each input value by its given u before the router; W_r = ((2, 0), (0, 1)).

    Before: t1 = (1, 0) -> S (2, 0) -> E1;  t2 = (2, 1) -> S (4, 1) -> E1;  t3 = (1, 3) -> S (2, 3) -> E2.
    u: t1 (1.2, 0.8), t2 (0.8, 1.2), t3 (1.2, 0.6).
    u ⊙ x: t1 (1.2, 0) -> S' (2.4, 0) -> E1;  t2 (1.6, 1.2) -> S' (3.2, 1.2) -> E1;
    t3 (1.2, 1.8) -> S' (2.4, 1.8) -> E1: t3 changes expert (changed = 0, 0, 1).
    """
    spec = make_spec("switch", {"tokens": 3, "experts": 2, "d_model": 2, "capacity_factor": "1.0",
                                "jitter": True}, 0)
    problem = Problem(((1, 0), (2, 1), (1, 3)), ((2, 0), (0, 1)), (), ((12, 8), (8, 12), (12, 6)))
    sol = solve(spec, problem)
    assert values(sol, "topk") == ((1,), (1,), (2,))
    assert values(sol, "jitter_scores") == ((R(12, 5), 0), (R(16, 5), R(6, 5)), (R(12, 5), R(9, 5)))
    assert values(sol, "jitter_choice") == (1, 1, 1)
    assert values(sol, "changed") == (0, 0, 1)


def test_load_balance_by_hand():
    """Four tokens, three experts, top-1 (Switch), α = 0.01, scores one pattern (1, 0, 0) shuffled, + 0 or 1.

    S: t1 (1, 0, 0), t2 (2, 1, 1), t3 (0, 1, 0), t4 (1, 1, 2). Powers 3^(s - row min) are a shuffle of
    (3, 1, 1), sum 5: P t1 = t2 = (3/5, 1/5, 1/5), t3 = (1/5, 3/5, 1/5), t4 = (1/5, 1/5, 3/5).
    Top-1: E1, E1, E2, E3 -> counts (2, 1, 1), f = (1/2, 1/4, 1/4).
    P̄ = ((3 + 3 + 1 + 1)/20, (1 + 1 + 3 + 1)/20, (1 + 1 + 1 + 3)/20) = (2/5, 3/10, 3/10).
    f · P̄ = (1/5, 3/40, 3/40), sum 7/20; E · sum = 21/20; L_aux = 0.01 × 21/20 = 21/2000,
    against 1/100 balanced and 3/100 collapsed.
    z-loss: ln Σ 3^s = ln 5 for t1 and t3; ln 15 = ln 3 + ln 5 for t2 and t4 (the same P, a larger z-loss).
    L_z = (2 (ln 5)² + 2 (ln 3 + ln 5)²) / 4.
    """
    import sympy

    from workbook.kinds.load_balance import ScoresProblem

    spec = make_spec("load-balance", {"tokens": 4, "experts": 3, "top_k": 1}, 0)
    sol = solve(spec, ScoresProblem(((1, 0, 0), (2, 1, 1), (0, 1, 0), (1, 1, 2))))
    assert values(sol, "probs")[1] == (R(3, 5), R(1, 5), R(1, 5))
    assert values(sol, "topk") == ((1,), (1,), (2,), (3,))
    assert values(sol, "counts") == (2, 1, 1)
    assert values(sol, "f") == (R(1, 2), R(1, 4), R(1, 4))
    assert values(sol, "pbar") == (R(2, 5), R(3, 10), R(3, 10))
    assert values(sol, "aux_unscaled") == (R(21, 20),)
    assert values(sol, "aux_loss") == (R(21, 2000),)
    assert values(sol, "aux_balanced") == (R(1, 100),) and values(sol, "aux_collapsed") == (R(3, 100),)
    ln3, ln5 = sympy.log(3), sympy.log(5)
    assert [sympy.simplify(a - b) for a, b in zip(values(sol, "lse"), (ln5, ln3 + ln5, ln5, ln3 + ln5))] == [0] * 4
    expected = (2 * ln5 ** 2 + 2 * (ln3 + ln5) ** 2) / 4
    assert sympy.simplify(values(sol, "z_loss")[0] - expected) == 0
