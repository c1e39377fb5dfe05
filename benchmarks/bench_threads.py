"""Which use of the cores is fastest for a whole fit, by the fit's size.

The thread policy (``skbackprop._engine.threads.plan``) chooses, from the
rows of an evaluation and its multiply-adds per row, one of three settings
held for the whole fit: one BLAS thread; BLAS's own threads; or row workers
on single-threaded BLAS.  This script times whole fits under each setting,
forced, and under the policy itself, in turns (best of N), so that the
policy's thresholds rest on measurements:

* L-BFGS-B (full batch, 20 iterations) on m rows of 20, 64 or 100 features,
  hidden (16,), (100,) or (256, 256), 10 classes;
* mini-batch ``gd`` (batch 200, 3 epochs) on the same networks.

Writes ``results/threads.{md,json}``::

    python benchmarks/bench_threads.py            # about 5 minutes on 2 cores
    python benchmarks/bench_threads.py --quick    # smoke run
"""

import argparse

import numpy as np

import skbackprop._engine.threads as threads
from skbackprop import BackpropClassifier

from _common import (
    RESULTS,
    environment_lines,
    fit_quietly,
    interleaved_best,
    md_table,
    system_info,
    write_outputs,
)

NETWORKS = [(20, (16,)), (64, (100,)), (100, (256, 256))]
N_CLASSES = 10
MODES = ("one BLAS thread", "BLAS threads", "row workers", "policy")


def _forced(mode, plan):
    """``threads.plan`` replaced by one that always answers ``mode``."""

    def forced(m, work_per_row, n_threads=None):
        if n_threads is None:
            n_threads = threads._BLAS.user_threads()
        if mode == "one BLAS thread":
            return threads.Plan(1, 1)
        if mode == "BLAS threads":
            return threads.Plan(n_threads, 1)
        if mode == "row workers":
            return threads.Plan(1, max(1, min(n_threads, m // 256)))
        return plan(m, work_per_row, n_threads)

    return forced


def _work_per_row(n_features, hidden):
    sizes = (n_features, *hidden, N_CLASSES)
    return 3 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def bench(solver, m, n_features, hidden, rounds, rng):
    X = rng.normal(size=(m, n_features))
    y = rng.integers(0, N_CLASSES, m)
    params = {"hidden_layer_sizes": hidden, "random_state": 0, "tol": 0}
    if solver == "gd":
        params.update(
            solver="gd",
            batch_size=200,
            max_iter=3,
            learning_rate_init=0.01,
            n_iter_no_change=100,
        )
    else:
        params.update(max_iter=20)
    plan = threads.plan

    def timed(mode):
        def run():
            threads.plan = _forced(mode, plan)
            try:
                fit_quietly(BackpropClassifier(**params), X, y)
            finally:
                threads.plan = plan

        return run

    timings = interleaved_best(
        [timed(mode) for mode in MODES],
        min_rounds=rounds,
        max_rounds=rounds,
        warmup=False,
    )
    rows = 200 if solver == "gd" else m
    chosen = plan(rows, _work_per_row(n_features, hidden))
    return {
        "solver": solver,
        "m": m,
        "sizes": [n_features, *hidden, N_CLASSES],
        "work_per_evaluation": rows * _work_per_row(n_features, hidden),
        "policy": {"blas_threads": chosen.blas_threads, "workers": chosen.workers},
        "seconds": {mode: t.best for mode, t in zip(MODES, timings, strict=True)},
    }


def markdown(results):
    lines = [
        "# Thread policy: whole fits under each use of the cores",
        "",
        *environment_lines(results["system"]),
        "",
        "Each fit forced to one setting for its whole duration (the "
        "optimizer's own BLAS calls included), then under the policy; best "
        f"of {results['rounds']} in turns.  Row workers: one per BLAS thread, "
        "at least 256 rows each.  `work`: multiply-adds per evaluation.",
        "",
    ]
    header = ["solver", "network", "m", "work", *MODES, "policy chose"]
    rows = []
    for r in results["cases"]:
        s = r["seconds"]
        best = min(s[mode] for mode in MODES[:3])
        cells = [
            f"**{s[mode]:.3f}**" if s[mode] == best else f"{s[mode]:.3f}"
            for mode in MODES[:3]
        ]
        p = r["policy"]
        chosen = (
            f"{p['workers']} workers"
            if p["workers"] > 1
            else f"{p['blas_threads']} BLAS thread(s)"
        )
        rows.append(
            [
                r["solver"],
                "-".join(map(str, r["sizes"])),
                r["m"],
                f"{r['work_per_evaluation']:.1e}",
                *cells,
                f"{s['policy']:.3f}",
                chosen,
            ]
        )
    lines += md_table(header, rows, align="lllr" + "r" * 4 + "l")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out", default=str(RESULTS), help="output dir")
    args = parser.parse_args(argv)
    ms = [2_000, 10_000] if args.quick else [2_000, 10_000, 50_000]
    rounds = 1 if args.quick else 3
    rng = np.random.default_rng(0)
    results = {"system": system_info(), "rounds": rounds, "cases": []}
    for solver in ("L-BFGS-B", "gd"):
        for n_features, hidden in NETWORKS:
            for m in ms if solver == "L-BFGS-B" else ms[:2]:
                case = bench(solver, m, n_features, hidden, rounds, rng)
                print(case, flush=True)
                results["cases"].append(case)
    write_outputs(args.out, "threads", results, markdown(results))


if __name__ == "__main__":
    main()
