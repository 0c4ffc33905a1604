"""Which expert-choice sizes the routing generator builds: a table to work on the generator with.

    python benchmarks/coverage.py [--d-model 3] [--gate softmax3] [--seeds 3] [--jobs 2] [--edition 4]

For every tokens T (3-10), experts E (3-8) and capacity c (1 to T-2) it tries the seeds and
prints, per (T, E), the capacities that fail on some seed; then how those compare with the sizes
built for every seed (routing_params.expert_choice_unsupported: d-model 3 or 4, c at most
min(floor((T-1)/2), floor(2T/(E-1))), c >= 2 with 3 experts and 8+ tokens). Measured at d-model 3,
3 seeds (2026-12-02): edition 3's search and edition 4's construction both fail nowhere within
them and build 25 of the 115 sizes beyond them (edition 4 builds c = 1 with 3 experts and 9-10
tokens too). Figures, not a test.
"""

import argparse
from concurrent.futures import ProcessPoolExecutor


def _try(job):
    T, E, c, d, gate, seeds, edition = job
    from workbook.errors import GenerationError, SpecError
    from workbook.solve import generate_problem
    from workbook.spec import make_spec

    built = 0
    for seed in range(1, seeds + 1):
        try:
            generate_problem(make_spec("expert-choice", {"tokens": T, "experts": E, "capacity": c,
                                                         "d_model": d, "gate": gate}, seed, edition))
            built += 1
        except (GenerationError, SpecError):
            pass
    return (T, E, c), built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d-model", type=int, default=3)
    parser.add_argument("--gate", default="softmax3")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--edition", type=int, default=None, help="the generator of this edition (default: the newest)")
    args = parser.parse_args()
    from workbook.kinds.routing_params import expert_choice_unsupported
    from workbook.spec import EDITION
    edition = args.edition or EDITION
    jobs = [(T, E, c, args.d_model, args.gate, args.seeds, edition)
            for T in range(3, 11) for E in range(3, 9) for c in range(1, T - 1)]
    with ProcessPoolExecutor(args.jobs) as pool:
        built = dict(pool.map(_try, jobs))
    print(f"expert choice (edition {edition}), d_model {args.d_model}, {args.gate}, {args.seeds} seeds: "
          "capacities that fail")
    inside = beyond = 0
    for T in range(3, 11):
        cells = []
        for E in range(3, 9):
            bad = [c for c in range(1, T - 1) if built[T, E, c] < args.seeds]
            cells.append(f"E{E}:" + (",".join(map(str, bad)) or "-"))
            supported = [not expert_choice_unsupported({"tokens": T, "experts": E, "capacity": c,
                                                        "d_model": args.d_model}) for c in range(1, T - 1)]
            inside += sum(1 for c in bad if supported[c - 1])
            beyond += sum(1 for c in range(1, T - 1) if not supported[c - 1] and built[T, E, c] == args.seeds)
        print(f"  T{T:<2} " + "  ".join(f"{cell:<14}" for cell in cells))
    print(f"failing within the sizes built for every seed: {inside}; building beyond them: {beyond} "
          f"(of {len(jobs)} sizes, {sum(b < args.seeds for b in built.values())} failing)")


if __name__ == "__main__":
    main()
