"""Placeholder: being written. Not registered with any preset yet."""


def generate(spec):
    raise NotImplementedError("sizing")
