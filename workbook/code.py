"""Variant codes: a short text that rebuilds one variant with no other file.

The code packs the edition (the generator and layout it was printed with), the exercise kind, every parameter (by the kind's table in
spec.py) and the seed into one integer, written in Crockford base 32 with a Luhn mod-32 check
character, grouped by four: 'K3F2-9QX7-M'. Case, spaces and dashes are forgiven; O reads as 0 and
I, L as 1. Leaves out: what the variant contains (the kinds in kinds/).
"""

import hashlib
from functools import lru_cache

from workbook.errors import CodeError, SpecError, quoted
from workbook.kinds import is_builtin, kind, names
from workbook.spec import EDITIONS, KINDS, Spec, make_spec

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)} | {"O": 0, "I": 1, "L": 1}
# Slot number -> (kind, parameters the slot leaves out, which must then be at their defaults), from
# each built-in kind's SLOTS. Append only: a parameter added to a kind gets a new slot, so every
# code already printed still reads the same (token-choice without capacity keeps slot 0). Kinds
# installed by a teacher's package share the last slot, followed by a hash of the exercise's name.
PLUGIN_SLOT = 15
_NAME_RADIX = 1 << 16


@lru_cache(maxsize=1)
def _slot_table() -> dict[int, tuple[str, tuple[str, ...]]]:
    table = {}
    for name in names():
        if is_builtin(name):
            for slot, left_out in kind(name).SLOTS:
                table[slot] = (name, tuple(left_out))
    return table


def _marked(mark: int) -> list[str]:
    """The installed kinds whose names hash to `mark` (one, when all is well)."""
    return [k for k in names() if not is_builtin(k) and _name_hash(k) == mark]


def _name_hash(name: str) -> int:
    """'softmax-temperature' -> a 16-bit number, the same on every machine."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")


_VERSIONS = 16
_KIND_RADIX = 16
_MIN_DIGITS = 6  # leading zeros keep even the smallest variant's code at 7 characters


def omitted(spec: Spec) -> set[str]:
    """The parameters the spec's code slot leaves out (they are at their defaults): an option added
    after a kind's first codes, such as token choice's capacity_factor when capacity is off."""
    return {p.name for p in _left_out(slot_of(spec), spec.kind)}


FIRST_SLOTS = 2  # the slots of the first printed codes (token choice, expert choice)


def slot_of(spec: Spec) -> int:
    """The code slot a spec is written in: 0 for token choice without capacity, 3 with it, ...;
    PLUGIN_SLOT for an installed kind."""
    if not is_builtin(spec.kind):
        return PLUGIN_SLOT
    return next(slot for slot, (name, _) in sorted(_slot_table().items()) if name == spec.kind
                and all(spec.params[p.name] == p.default for p in _left_out(slot, spec.kind)))


def _left_out(slot: int, name: str):
    left_out = _slot_table()[slot][1] if slot != PLUGIN_SLOT else ()
    return [p for p in KINDS[name] if p.name in left_out]


def _encoded(slot: int, name: str):
    left_out = _slot_table()[slot][1] if slot != PLUGIN_SLOT else ()
    return [p for p in KINDS[name] if p.name not in left_out]


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
    for p in reversed(_encoded(slot, spec.kind)):
        n = n * p.radix + p.to_digit(spec.params[p.name])
    if slot == PLUGIN_SLOT:
        if len(_marked(_name_hash(spec.kind))) > 1:
            raise SpecError(f"the installed kinds {' and '.join(_marked(_name_hash(spec.kind)))} share a code "
                            "mark, so their codes could not be told apart: rename one of them")
        n = n * _NAME_RADIX + _name_hash(spec.kind)
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
    if slot == PLUGIN_SLOT:
        n, mark = divmod(n, _NAME_RADIX)
        found = _marked(mark)
        if not found:
            raise CodeError(f"variant code {quoted(code)} is from an exercise package that is not installed here")
        if len(found) > 1:
            raise CodeError(f"variant code {quoted(code)} could be from {' or '.join(found)}, installed kinds "
                            "whose names share a code mark: uninstall one of them to read it")
        name = found[0]
    elif slot in _slot_table():
        name = _slot_table()[slot][0]
    else:
        raise CodeError(f"variant code {quoted(code)} names an exercise this version does not know")
    params = {}
    for p in _encoded(slot, name):
        n, digit = divmod(n, p.radix)
        params[p.name] = p.from_digit(digit)
    try:
        return make_spec(name, params, n, edition)
    except SpecError as err:
        raise CodeError(f"variant code {quoted(code)} does not hold a valid variant: {err}") from None
