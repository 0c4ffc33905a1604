"""Variant codes: a short text that rebuilds one variant with no other file.

The code packs the edition (the generator and layout it was printed with), the exercise kind, every parameter (by the kind's table in
spec.py) and the seed into one integer, written in Crockford base 32 with a Luhn mod-32 check
character, grouped by four: 'K3F2-9QX7-M'. Case, spaces and dashes are forgiven; O reads as 0 and
I, L as 1. Leaves out: what the variant contains (generate.py).
"""

from workbook.errors import CodeError, SpecError, quoted
from workbook.spec import EDITIONS, KINDS, Spec, make_spec

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)} | {"O": 0, "I": 1, "L": 1}
# Slot number -> (kind, parameters the slot leaves out, which must then be at their defaults).
# Append only: a parameter added to a kind gets a new slot, so every code already printed still
# reads the same (token-choice without capacity keeps slot 0).
_SLOTS = (
    ("token-choice", ("capacity_factor",)),
    ("expert-choice", ()),
    ("switch", ()),
    ("token-choice", ()),
    ("load-balance", ()),
    ("sizing", ()),
    ("expert-parallel", ()),
    ("quantize", ()),
    ("router-gradient", ()),
    ("shared-experts", ()),
)
_VERSIONS = 16
_KIND_RADIX = 16
_MIN_DIGITS = 6  # leading zeros keep even the smallest variant's code at 7 characters


def omitted(spec: Spec) -> set[str]:
    """The parameters the spec's code slot leaves out (they are at their defaults): an option added
    after a kind's first codes, such as token choice's capacity_factor when capacity is off."""
    return {p.name for p in _left_out(slot_of(spec))}


FIRST_SLOTS = 2  # the slots of the first printed codes (token choice, expert choice)


def slot_of(spec: Spec) -> int:
    """The code slot a spec is written in: 0 for token choice without capacity, 3 with it, ..."""
    return next(i for i, (kind, _) in enumerate(_SLOTS) if kind == spec.kind
                and all(spec.params[p.name] == p.default for p in _left_out(i)))


def _left_out(slot: int):
    kind, names = _SLOTS[slot]
    return [p for p in KINDS[kind] if p.name in names]


def _encoded(slot: int):
    kind, names = _SLOTS[slot]
    return [p for p in KINDS[kind] if p.name not in names]


def _luhn_sum(digits: list[int], check_included: bool) -> int:
    total, factor = 0, (1 if check_included else 2)
    for d in reversed(digits):
        addend = factor * d
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return total


def _check_digit(digits: list[int]) -> int:
    """Luhn mod 32: catches every single wrong character and most swaps of neighbours."""
    return (32 - _luhn_sum(digits, False) % 32) % 32


def encode(spec: Spec) -> str:
    """Spec -> code, e.g. token-choice defaults, seed 1 -> a code like '1XKM-4RB'."""
    slot = slot_of(spec)
    n = spec.seed
    for p in reversed(_encoded(slot)):
        n = n * p.radix + p.to_digit(spec.params[p.name])
    n = (n * _KIND_RADIX + slot) * _VERSIONS + spec.edition
    digits = []
    while True:
        n, r = divmod(n, 32)
        digits.append(r)
        if n == 0:
            break
    digits = [0] * (_MIN_DIGITS - len(digits)) + digits[::-1]
    digits.append(_check_digit(digits))
    text = "".join(_ALPHABET[d] for d in digits)
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def normalize(code: str) -> str:
    """' k3f2-9qx7 m ' -> 'K3F29QX7M' (no check yet)."""
    return "".join(code.split()).replace("-", "").upper()


def looks_like_code(text: str) -> bool:
    body = normalize(text)
    return 3 <= len(body) <= 24 and all(ch in _VALUE for ch in body)


def decode(code: str) -> Spec:
    """Code -> Spec; raise CodeError for a malformed or mistyped code."""
    body = normalize(code)
    if len(body) < 3 or any(ch not in _VALUE for ch in body):
        bad = next((ch for ch in body if ch not in _VALUE), None)
        why = f"it contains {quoted(bad)}" if bad else "it is too short"
        raise CodeError(f"malformed variant code {quoted(code)}: {why}")
    digits = [_VALUE[ch] for ch in body]
    if _luhn_sum(digits, True) % 32:
        raise CodeError(f"variant code {quoted(code)} fails its check character: a character is mistyped")
    n = 0
    for d in digits[:-1]:
        n = n * 32 + d
    n, edition = divmod(n, _VERSIONS)
    if edition not in EDITIONS:
        raise CodeError(f"variant code {quoted(code)} is from edition {edition}; "
                        f"this moe-workbook reads editions {EDITIONS[0]} to {EDITIONS[-1]}")
    n, slot = divmod(n, _KIND_RADIX)
    if slot >= len(_SLOTS):
        raise CodeError(f"variant code {quoted(code)} names an exercise this version does not know")
    kind = _SLOTS[slot][0]
    params = {}
    for p in _encoded(slot):
        n, digit = divmod(n, p.radix)
        params[p.name] = p.from_digit(digit)
    try:
        return make_spec(kind, params, n, edition)
    except SpecError as err:
        raise CodeError(f"variant code {quoted(code)} does not hold a valid variant: {err}") from None
