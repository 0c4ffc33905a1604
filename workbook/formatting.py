"""How exact numbers are written on paper and in JSON.

Leaves out: where they go on the page (sheet.py).
"""

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

import sympy


def decimal2(value, places: int = 2) -> str:
    """Round half up to 2 places, as a person does: 27/37 -> '0.73', -1/8 -> '-0.13'.
    Another number of places on request: (137/10000, 4) -> '0.0137'."""
    quantum = Decimal(1).scaleb(-places)
    with localcontext() as ctx:
        ctx.prec = 50
        if value.is_Rational:
            d = Decimal(int(value.p)) / Decimal(int(value.q))
        else:
            d = Decimal(str(sympy.N(value, 40)))
        sign = "-" if d < 0 else ""
        text = str(abs(d).quantize(quantum, rounding=ROUND_HALF_UP))
    return text if set(text) <= {"0", "."} else sign + text


def exact_text(value) -> str:
    """The sympify-able string for JSON: Rational(27, 37) -> '27/37', exp(2)/(1+exp(2)) -> 'exp(2)/(1 + exp(2))'."""
    return str(value)


_EXP = re.compile(r"exp\((-?\d+)\)")
_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def pretty(value) -> str:
    """For the page: '27/37', '-3', 'e²/(1 + e²)', 'ln(34)²/4' (exp(n) -> eⁿ, E -> e, '**n' -> ⁿ,
    '*' -> '·')."""
    if isinstance(value, sympy.Rational):  # the common case, without sympy's printer: '−3', '27/37'
        return (f"{value.p}" if value.q == 1 else f"{value.p}/{value.q}").replace("-", "−")
    text = str(value)
    text = _EXP.sub(lambda m: "e" + m.group(1).translate(_SUP), text)
    text = re.sub(r"\*\*(\d+)", lambda m: m.group(1).translate(_SUP), text)
    text = re.sub(r"\bE\b", "e", text).replace("log(", "ln(")
    return text.replace("*", "·").replace("-", "−")


def is_whole(value) -> bool:
    return bool(value.is_Integer)


def tenths(value) -> str:
    """A value with at most one decimal, as written by hand: -21/5 -> '−4.2', 3 -> '3.0'."""
    scaled = value * 10
    if not scaled.is_Integer:
        raise ValueError(f"{value} is not a whole number of tenths")
    n = int(scaled)
    return ("−" if n < 0 else "") + f"{abs(n) // 10}.{abs(n) % 10}"
