"""Where the time of an ``alpha="evidence"`` fit goes, on real tables.

One fit per table, on the training rows of the first fold of
``bench_defaults.py``'s cross-validation (inputs standardized on them, as
the pipeline does; ``--standardize-y`` standardizes the targets too, as
``TransformedTargetRegressor`` does), with ``random_state=0``.  Clocks
around the parts of the evidence loop (:mod:`skbackprop._training.evidence`)
split the fit's time into the inner solver's runs (and their cost/gradient
evaluations) and the re-estimations of ``alpha`` (the Gauss-Newton matrix,
its Cholesky factor, the triangular inverse for ``tr(P M^-1)``, or the
stochastic estimates), and count the outer loops; cProfile lists the
functions that take the most time of their own.  The clocks and the
profiler slow the fit a little (the wall time is that of the profiled fit).

    python benchmarks/profile_evidence.py --data digits,breast_cancer
    python benchmarks/profile_evidence.py --data hprice2 --standardize-y
    python benchmarks/profile_evidence.py --data recid,mroz --alpha auto

It writes ``results/evidence_profile.{md,json}`` (``--stem`` to rename).
"""

import argparse
import cProfile
import functools
import io
import os
import pstats
import time
import warnings
from collections import defaultdict

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbackprop import BackpropClassifier, BackpropRegressor
from skbackprop._engine import data_space, hutchinson, laplace
from skbackprop._training import evidence, solve
from skbackprop._training.objective import InMemoryObjective

from _common import RESULTS, environment_lines, md_table, system_info, write_outputs
from _real_data import TABLES

# The clocked parts: (name, owner, attribute).
PARTS = [
    ("re-estimation", evidence, "reestimate"),
    ("Gauss-Newton matrix", InMemoryObjective, "gauss_newton"),
    ("Cholesky", laplace, "factor"),
    ("triangular inverse", laplace, "weight_variances"),
    ("stochastic estimates", hutchinson, "diagonal_and_log_det"),
    ("data-space terms", data_space, "terms"),
    ("cost and gradient", InMemoryObjective, "cost_grad"),
    ("Gauss-Newton product", InMemoryObjective, "hessp"),
]
TOP = 15


class Clocks:
    """Calls and seconds of the clocked parts, and the inner runs."""

    def __init__(self):
        self.calls = defaultdict(int)
        self.seconds = defaultdict(float)
        self.inner = []  # (iterations, seconds) per inner run
        self.saved = []

    def _wrap(self, name, f):
        @functools.wraps(f)
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - t

        return timed

    def __enter__(self):
        for name, owner, attr in PARTS:
            f = owner.__dict__[attr]
            self.saved.append((owner, attr, f))
            setattr(owner, attr, self._wrap(name, f))
        run_evidence = solve.run_evidence

        def clocked_run(objective, theta, settings, rng, fit):
            def inner(*args, **kwargs):
                t = time.perf_counter()
                result = fit(*args, **kwargs)
                self.inner.append((result.n_iter, time.perf_counter() - t))
                return result

            return run_evidence(objective, theta, settings, rng, inner)

        self.saved.append((solve, "run_evidence", run_evidence))
        solve.run_evidence = clocked_run
        return self

    def __exit__(self, *exc):
        for owner, attr, f in reversed(self.saved):
            setattr(owner, attr, f)


def training_rows(name, standardize_y):
    table = TABLES[name]
    X, y = table.load()
    if table.task == "classification":
        cv = StratifiedKFold(5, shuffle=True, random_state=0)
    else:
        cv = KFold(5, shuffle=True, random_state=0)
    train, _ = next(cv.split(X, y))
    X, y = StandardScaler().fit_transform(X[train]), y[train]
    if standardize_y and table.task == "regression":
        y = (y - y.mean()) / y.std()
    return table.task, X, y


def profile_fit(name, standardize_y, alpha="evidence"):
    task, X, y = training_rows(name, standardize_y)
    cls = BackpropClassifier if task == "classification" else BackpropRegressor
    est = cls(alpha=alpha, random_state=0)
    profiler = cProfile.Profile()
    with Clocks() as clocks, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        profiler.enable()
        est.fit(X, y)
        profiler.disable()
        wall = time.perf_counter() - t
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime")
    top = []
    for func in stats.fcn_list[:TOP]:
        _, _, tottime, cumtime, _ = stats.stats[func]
        calls = stats.stats[func][1]
        top.append(
            {
                "function": f"{os.path.basename(func[0])}:{func[1]}({func[2]})",
                "calls": calls,
                "tottime": tottime,
                "cumtime": cumtime,
            }
        )
    n_params = sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
    inner_iters = [n for n, _ in clocks.inner]
    out = {
        "table": name,
        "task": task,
        "rows": X.shape[0],
        "features": X.shape[1],
        "n_params": int(n_params),
        "standardize_y": bool(standardize_y and task == "regression"),
        "seconds": wall,
        "outer_loops": len(clocks.inner),
        "inner_iterations": inner_iters,
        "inner_seconds": [s for _, s in clocks.inner],
        "alpha_": float(np.atleast_1d(est.alpha_)[0]),
        "parts": {
            name: {"calls": clocks.calls[name], "seconds": clocks.seconds[name]}
            for name, _, _ in PARTS
        },
        "top": top,
    }
    inner_total = sum(out["inner_seconds"])
    reest = out["parts"]["re-estimation"]["seconds"]
    print(
        f"{name}: {wall:.2f} s, {out['outer_loops']} outer loops, inner "
        f"{inner_total:.2f} s ({sum(inner_iters)} iterations), re-estimation "
        f"{reest:.2f} s",
        flush=True,
    )
    return out


def _share(x, total):
    return f"{x:.2f} s ({100 * x / total:.0f}%)" if total else "—"


def markdown(results):
    rows = []
    for r in results["fits"]:
        p, wall = r["parts"], r["seconds"]
        inner = sum(r["inner_seconds"])
        reest = p["re-estimation"]["seconds"]
        cg = p["cost and gradient"]
        rows.append(
            [
                r["table"] + (" (y standardized)" if r["standardize_y"] else ""),
                f"{r['rows']} x {r['features']}, {r['n_params']:,} params",
                f"{wall:.2f} s",
                str(r["outer_loops"]),
                f"{sum(r['inner_iterations'])} ("
                + ", ".join(map(str, r["inner_iterations"]))
                + ")",
                _share(inner, wall),
                f"{cg['calls']} x {1e3 * cg['seconds'] / max(cg['calls'], 1):.2f} ms",
                _share(reest, wall),
                ", ".join(
                    f"{k} {p[k]['calls']} x {p[k]['seconds'] / p[k]['calls']:.3f} s"
                    for k in (
                        "Gauss-Newton matrix",
                        "Cholesky",
                        "triangular inverse",
                        "stochastic estimates",
                        "data-space terms",
                    )
                    if p[k]["calls"]
                ),
                _share(wall - inner - reest, wall),
            ]
        )
    header = [
        "table",
        "size",
        "fit",
        "outer loops",
        "inner iterations (per loop)",
        "inner runs",
        "cost/gradient evaluations",
        "re-estimations",
        "of which (calls x mean)",
        "rest (set-up, posterior)",
    ]
    out = [
        f'# Where the time of an `alpha="{results.get("alpha", "evidence")}"` fit goes',
        "",
        *environment_lines(results["system"]),
        f"- BLAS threads: {results['blas_threads']}",
        "",
        "One fit per table on the first fold's training rows (inputs "
        "standardized), `random_state=0`, under cProfile and clocks around "
        "the evidence loop's parts.  Inner runs: the solver at fixed alpha "
        "(L-BFGS-B); re-estimations: the Gauss-Newton matrix, its Cholesky "
        "factor and triangular inverse (or the stochastic estimates above "
        "5,000 parameters); the rest: set-up and the posterior after the "
        "loop.  Times on a shared machine: rough.",
        "",
        *md_table(header, rows, "l" * len(header)),
        "",
    ]
    for r in results["fits"]:
        out += [
            f"## {r['table']}: the {TOP} functions with the most time of their own",
            "",
            *md_table(
                ["function", "calls", "own time", "cumulative"],
                [
                    [
                        f"`{t['function']}`",
                        str(t["calls"]),
                        f"{t['tottime']:.2f} s",
                        f"{t['cumtime']:.2f} s",
                    ]
                    for t in r["top"]
                ],
            ),
            "",
        ]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="comma-separated table names")
    parser.add_argument("--standardize-y", action="store_true")
    parser.add_argument("--alpha", default="evidence", help="evidence, ard or auto")
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--stem", default="evidence_profile")
    args = parser.parse_args(argv)
    with threadpool_limits(args.blas_threads, user_api="blas"):
        results = {
            "system": system_info(),
            "blas_threads": args.blas_threads,
            "alpha": args.alpha,
            "fits": [
                profile_fit(n, args.standardize_y, args.alpha)
                for n in args.data.split(",")
            ],
        }
    write_outputs(args.out, args.stem, results, markdown(results))


if __name__ == "__main__":
    main()
