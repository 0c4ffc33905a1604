"""Worked lines: what a person writes to get a box, as printed text and as sympy reads it.

A kind's optional `working(sol)` (kinds/protocol.py) returns one Working per step: what the step
means in plain words, then its Lines. A Line's text and its expression are built from the same
Terms, never typed twice: `Term.text` is what the page prints ('1·2 + 0·(−1)'), `Term.src` what
sympy parses ('1*2 + 0*(-1)'). solutions.py checks every line against the key. A line without an
expression is a reason (which rule decides, and why); a line with one names the value it gives
and the key boxes that value fills.
Leaves out: which lines a kind writes (kinds/), the check (solutions.py), drawing (templates/).
"""

from dataclasses import dataclass

import sympy

from workbook.formatting import decimal2, pretty


@dataclass(frozen=True)
class Line:
    text: str                 # as printed: 'S[t2,E3] = 1·2 + 0·(−1) + 2·1 = 4'
    expression: str = ""      # as sympy parses it: '1*2 + 0*(-1) + 2*1'; '' for a reason
    value: object = None      # the exact value (a tuple of values for several boxes)
    cells: tuple[str, ...] = ()  # the key boxes the value fills: 'scores[2][3]' (a tuple: one box each)


@dataclass(frozen=True)
class Working:
    step: str                 # the step id: 'probs'
    meaning: str              # what the step means, in plain words
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Term:
    text: str
    src: str


def _text(value) -> str:
    """str(value), without sympy's printer for a rational: '-1', '27/38'."""
    if isinstance(value, sympy.Rational):
        return f"{value.p}" if value.q == 1 else f"{value.p}/{value.q}"
    return str(value)


def _source(value) -> str:
    """sympy's text of a value, in parentheses unless it is a whole number >= 0: '4', '(-1)', '(27/38)'."""
    return _text(value) if value.is_Integer and value >= 0 else f"({_text(value)})"


def _atom(src: str) -> bool:
    """A source text that needs no parentheses around it: a plain token, or one whole (...)."""
    if src.replace(".", "").replace("_", "").isalnum():
        return True
    if not (src.startswith("(") and src.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(src):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and i < len(src) - 1:
            return False
    return True


def num(value) -> Term:
    """An exact number as a term of a sum: '−1' / '(-1)'; 27/38 / '(27/38)'."""
    value = sympy.sympify(value)
    return Term(pretty(value), _source(value))


def factor(value) -> Term:
    """An exact number as a factor of a product: negatives and fractions in parentheses."""
    value = sympy.sympify(value)
    text = pretty(value)
    bare = value.is_Integer and value >= 0 or value.is_Symbol
    return Term(text if bare else f"({text})", _source(value))


def joined(terms, op: str) -> Term:
    """Terms joined by '+' (' + ') or '·' ('*'); '−' between terms of a difference."""
    terms = list(terms)
    if op in "+−":  # a negative term after the first in parentheses: '2 + (−1)', not '2 + −1'
        terms = terms[:1] + [Term(f"({t.text})", t.src) if t.text.startswith("−") else t for t in terms[1:]]
    shown = {"+": " + ", "·": "·", "−": " − ", "/": " / "}[op]
    source = {"+": " + ", "·": "*", "−": " - ", "/": "/"}[op]
    return Term(shown.join(t.text for t in terms), source.join(t.src if _atom(t.src) else f"({t.src})" for t in terms))


def call(name: str, inner: Term, shown: str = "") -> Term:
    """A function of a term: floor, round, max; `shown` is how the page writes it ('⌊{}⌋')."""
    return Term((shown or name + "({})").format(inner.text), f"{name}({inner.src})")


def power(base, exponent) -> Term:
    """3^(4 − (−1)) as 3⁵: the exponent worked out, base e as eⁿ."""
    exponent = sympy.sympify(exponent)
    value = sympy.exp(exponent) if base == "e" else sympy.Integer(base) ** exponent
    shown = f"{base}^{pretty(exponent)}" if exponent < 0 else pretty(sympy.Pow(sympy.Symbol(str(base)), exponent, evaluate=False))
    return Term(shown, str(value) if base == "e" else f"{base}**({exponent})")


def shown(value, places: int = 2) -> str:
    """A value as the working prints it: '27/38 ≈ 0.71', '4', 'e²/(1 + e²) ≈ 0.88' (`places`
    decimals, as the sheet prints that box)."""
    if isinstance(value, tuple):
        return ", ".join(shown(v, places) for v in value) if value else "none"
    value = sympy.sympify(value)
    text = pretty(value)
    if value.is_Integer:
        return text
    return f"{text} ≈ {decimal2(value, places).replace('-', '−')}"


def line(label: str, term: Term, value, cells=(), then: Term | None = None, places: int = 2) -> Line:
    """'label = term [= then] = value': the value's exact text, its decimal beside a non-integer
    (`places` decimals). A middle that reads as the value itself is written once. The
    expression is `term`'s."""
    value_text = pretty(sympy.sympify(value)).replace(" ", "")
    middle = "".join(f" = {t.text}" for t in (term, then) if t and t.text.replace(" ", "") != value_text)
    return Line(f"{label}{middle} = {shown(value, places)}", term.src, value, tuple(cells))


def claim(text: str, value, cells=()) -> Line:
    """A reasoned choice whose result fills boxes: 't2: E3 (4) and E1 (2) score highest'. Its
    expression is the value itself, checked against the boxes it names."""
    if isinstance(value, tuple):
        src = "(" + ", ".join(_text(sympy.sympify(v)) for v in value) + ("," if len(value) == 1 else "") + ")"
    else:
        src = _text(sympy.sympify(value))
    return Line(text, src, value, tuple(cells))


def reason(text: str) -> Line:
    """A line of reasoning with no value of its own: the rule that decides, a tie and its rule."""
    return Line(text)


def ties(values, picked, who: str, prefix: str = "E") -> list[Line]:
    """A reason for each tie that decides a top-k's order or cut (the lower number goes first):
    't1: E2 and E4 tie at 9/38; the lower number goes first.'"""
    out = []
    for a in picked:
        rivals = [j for j in range(a + 1, len(values)) if values[j] == values[a]]
        if rivals:
            out.append(reason(f"{who}: {prefix}{a + 1} and {', '.join(f'{prefix}{j + 1}' for j in rivals)} tie at "
                              f"{pretty(values[a])}; the lower number goes first."))
    return out
