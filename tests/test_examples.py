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
