"""What an exercise is made of: its kind, its parameters, its seed. The first stage of the pipeline.

Each kind declares its parameters once (name, range or choices, default); that one table drives
validation, the variant code's layout and the error messages. Leaves out: presets on disk
(presets.py), generation and solving.
"""

from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

from workbook.errors import SpecError, quoted

# A code's edition: the problems' generator and the sheets' layout it was printed with. Edition 1:
# grids as tables; edition 2: the same problems on drawn boards (layout revision 3, a class set
# laid out several times faster); edition 3: the same problems, and a worksheet whose geometry
# depends on the parameters only (layout revision 4: see layout.answer_free); edition 4: the same
# sheets, with expert-choice and shared-experts problems built by construction rather than found by
# a search that refuses whole problems (kinds/expert_choice_build.py, shared_experts._construct).
# Every edition stays readable; new codes get the last one.
EDITIONS = (1, 2, 3, 4)
EDITION = EDITIONS[-1]
MAX_SEED = 2**32 - 1
GATES = ("softmax3", "softmax2", "softmax")
GATE_BASE = {"softmax3": 3, "softmax2": 2, "softmax": "e"}
# Largest s - row min, so that b^(s - min) <= 81 (3^4, 2^6; base e kept to 4 as well: e^4 ~ 54.6).
MAX_SPREAD = {"softmax3": 4, "softmax2": 6, "softmax": 4}


@dataclass(frozen=True)
class Param:
    """One parameter: an int in [low, high], a bool, or one of `choices`."""

    name: str
    help: str
    default: object
    low: int = 0
    high: int = 0
    choices: tuple = ()

    @property
    def radix(self) -> int:
        if self.choices:
            return len(self.choices)
        if isinstance(self.default, bool):
            return 2
        return self.high - self.low + 1

    def to_digit(self, value) -> int:
        if self.choices:
            return self.choices.index(value)
        if isinstance(self.default, bool):
            return int(value)
        return value - self.low

    def from_digit(self, digit: int):
        if self.choices:
            return self.choices[digit]
        if isinstance(self.default, bool):
            return bool(digit)
        return digit + self.low

    def check(self, value):
        """Return the value, or raise SpecError naming the parameter and its limit."""
        label = self.name.replace("_", "-")
        if self.choices and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(float(value))  # capacity_factor = 1.25 in a preset, same as "1.25"
        if self.choices:
            if value not in self.choices:
                raise SpecError(f"unknown {label} {quoted(value)}: choose one of {', '.join(self.choices)}")
            return value
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise SpecError(f"{label} must be true or false, not {quoted(value)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{label} must be a whole number, not {quoted(value)}")
        if value < 1:
            raise SpecError(f"{label} must be positive, not {value}")
        if value < self.low:
            raise SpecError(f"{label} must be at least {self.low}, not {value}")
        if value > self.high:
            raise SpecError(f"{label} = {value} is too large to fit a page: at most {self.high}")
        return value


CAPACITY_FACTORS = ("none", "0.5", "0.75", "1.0", "1.25", "1.5", "2.0")
SCAFFOLDS = ("faded", "guided", "standard", "exam")  # how much of a sheet is given: layout.scaffolded


class _Params(Mapping):
    """{exercise: its parameters}, read from each kind module (kinds/) when first asked for."""

    def __getitem__(self, kind: str) -> tuple[Param, ...]:
        from workbook.kinds import kind as kind_module, names

        if kind not in names():
            raise KeyError(kind)
        return tuple(kind_module(kind).PARAMS)

    def __iter__(self):
        from workbook.kinds import names

        return iter(names())

    def __len__(self) -> int:
        from workbook.kinds import names

        return len(names())


KINDS: Mapping[str, tuple[Param, ...]] = _Params()


def top_k(spec) -> int:
    return spec.params.get("top_k", 1)


def renormalize(spec) -> bool:
    return spec.params.get("renormalize", False)


def capacity_factor(spec):
    """The capacity factor as a Fraction, or None when capacity is off: '1.25' -> 5/4."""
    cf = spec.params.get("capacity_factor", "none")
    return None if cf == "none" else Fraction(cf)


def slots(spec):
    """C = floor(cf * k * T / E), or None: cf 1.0, k 1, T 8, E 4 -> 2."""
    cf = capacity_factor(spec)
    return None if cf is None else int(cf * top_k(spec) * spec["tokens"] / spec["experts"])


@dataclass(frozen=True)
class Spec:
    """One variant: exercise kind, its parameters and the seed. Plain, frozen data."""

    kind: str
    params: Mapping = field(hash=False)
    seed: int = 0
    edition: int = EDITION

    def __getitem__(self, name):
        return self.params[name]

    def __reduce__(self):  # plain data, so it pickles (to a worker process) despite the read-only params
        return _spec, (self.kind, dict(self.params), self.seed, self.edition)


def _spec(kind: str, params: dict, seed: int, edition: int) -> Spec:
    return Spec(kind, MappingProxyType(params), seed, edition)


def make_spec(kind: str, params: Mapping | None = None, seed: int = 0, edition: int = EDITION) -> Spec:
    """Fill defaults, check every parameter and their combination; raise SpecError if bad.

    make_spec("token-choice", {"experts": 4}) -> Spec(kind="token-choice", params={..., experts: 4}).
    """
    if kind not in KINDS:
        raise SpecError(f"unknown exercise {quoted(kind)}: choose one of {', '.join(KINDS)}")
    KINDS[kind]  # a third-party kind that does not load is told here, in one line
    params = dict(params or {})
    schema = {p.name: p for p in KINDS[kind]}
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise SpecError(f"{kind} has no parameter {unknown[0].replace('_', '-')}")
    values = {name: p.check(params.get(name, p.default)) for name, p in schema.items()}
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SpecError(f"seed must be a whole number from 0 to {MAX_SEED}, not {quoted(seed)}")
    _check_combination(kind, values)
    if edition not in EDITIONS:
        raise SpecError(f"edition must be one of {', '.join(map(str, EDITIONS))}, not {quoted(edition)}")
    return Spec(kind, MappingProxyType(values), seed, edition)


def _check_combination(kind: str, values: dict) -> None:
    """The kind's own refusal of an impossible combination (its `check`), if it has one."""
    from workbook.kinds import part

    check = part(kind, "check")
    if check is not None:
        check(values)


def parse_param(kind: str, assignment: str) -> tuple[str, object]:
    """'variant=v3' for shared-experts -> ('variant', 'v3'); 'tokens=6' -> ('tokens', 6). SpecError if bad."""
    name, sep, text = assignment.partition("=")
    name = name.strip().replace("-", "_")
    schema = {p.name: p for p in (KINDS[kind] if kind in KINDS else ())}
    if not sep or name not in schema:
        known = ", ".join(n.replace("_", "-") for n in schema)
        raise SpecError(f"--set wants NAME=VALUE with a parameter of {kind} ({known}), not {quoted(assignment)}")
    p, text = schema[name], text.strip()
    if p.choices:
        return name, text
    if isinstance(p.default, bool):
        if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise SpecError(f"{name.replace('_', '-')} must be true or false, not {quoted(text)}")
        return name, text.lower() in ("true", "yes", "1")
    try:
        return name, int(text)
    except ValueError:
        raise SpecError(f"{name.replace('_', '-')} must be a whole number, not {quoted(text)}") from None


def fair_share(spec: Spec):
    """T*k/E for token choice: 6 tokens, top-2, 5 experts -> 12/5."""
    return Fraction(spec["tokens"] * top_k(spec), spec["experts"])


def top_k_below_experts(values: dict) -> None:
    """A kind's check that top-k < E (every expert taking every token routes nothing): SpecError."""
    if values["top_k"] >= values["experts"]:
        raise SpecError(f"top-k ({values['top_k']}) must be less than experts ({values['experts']})")
