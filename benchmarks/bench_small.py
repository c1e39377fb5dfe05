"""Everyday-size fits against scikit-learn's MLP, side by side in one process.

The grid: m rows in {500, 2000, 10000, 50000} x hidden layers {(16,), (100,),
(256, 256)} x {L-BFGS-B against ``MLPClassifier(solver="lbfgs")``, mini-batch
``solver="gd"`` against ``solver="sgd"``} x {float64, float32}, on
``make_classification`` data (20 features, 10 classes).  Both libraries get
the same architecture, ``alpha``, initial weights (the same ``random_state``
draws the same Glorot weights) and budget (``tol=0``: both run all of it).
Then five everyday fits (digits, a small regression, a mini-batch fit and a
grid search with ``n_jobs=2``).

Per cell: both times (the best of N fits run in turns), the ratio
scikit-learn / skbackprop, iterations and evaluations, final losses, and the
share of the fit spent outside the gradient evaluations (skbackprop's
``InMemoryObjective.cost_grad`` and ``cost_grad_rows``, scikit-learn's
``_backprop``, timed by wrapping them).  Writes
``results/small.{md,json,png}``::

    python benchmarks/bench_small.py            # full grid (~10-15 min, 2 cores)
    python benchmarks/bench_small.py --quick    # smoke run (~1-2 min)
"""

import argparse
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_classification, make_friedman1
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbackprop import BackpropClassifier, BackpropRegressor
from skbackprop._training.objective import InMemoryObjective

from _common import (
    RESULTS,
    CountingMLPClassifier,
    CountingMLPRegressor,
    fit_quietly,
    interleaved_best,
    system_info,
    write_outputs,
)
from _small_report import markdown, plot, targets

ALPHA = 1e-4
BATCH, MOMENTUM, LEARNING_RATE = 200, 0.9, 0.01
FULL = {
    "m": [500, 2_000, 10_000, 50_000],
    "hidden": [(16,), (100,), (256, 256)],
    "dtypes": ["float64", "float32"],
    "repeats": 3,
    # Budgets: about this many multiply-adds (m x weights x iterations) per
    # fit, within the bounds: every cell costs about the same.
    "lbfgs_work": 5e9,
    "lbfgs_iter": (10, 200),
    "gd_work": 1.5e9,
    "gd_epochs": (2, 50),
}
QUICK = {
    **FULL,
    "m": [500, 2_000],
    "hidden": [(16,), (100,)],
    "repeats": 1,
    "lbfgs_iter": (10, 50),
    "gd_epochs": (2, 20),
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- gradient clocks -----------------------------------------------------------
class Clock:
    """Seconds and calls of the wrapped gradient functions since ``reset``."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.seconds, self.calls = 0.0, 0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t
                self.calls += 1

        return timed


OURS, THEIRS = Clock(), Clock()


@contextmanager
def gradient_clocks():
    """Time skbackprop's objective evaluations into :data:`OURS`."""
    cls = InMemoryObjective
    saved = cls.cost_grad, cls.cost_grad_rows
    cls.cost_grad, cls.cost_grad_rows = map(OURS.wrap, saved)
    try:
        yield
    finally:
        cls.cost_grad, cls.cost_grad_rows = saved


class _TimedBackprop:
    """Times scikit-learn's gradient (``_backprop``) into :data:`THEIRS`."""

    def _backprop(self, *args, **kwargs):
        return THEIRS.wrap(super()._backprop)(*args, **kwargs)


class TimedMLPClassifier(_TimedBackprop, CountingMLPClassifier):
    pass


class TimedMLPRegressor(_TimedBackprop, CountingMLPRegressor):
    pass


# -- one comparison ------------------------------------------------------------
def _record(lib, est, seconds, clock):
    """What a fitted estimator and its gradient clock say about the fit."""
    if lib == "skbackprop":
        result = est.optimize_result_
        evals = int(result.nfev) if result is not None else clock.calls
    else:
        evals = getattr(est, "n_evals_", clock.calls)
    return {
        "seconds": seconds,
        "n_iter": int(est.n_iter_),
        "n_evals": evals,
        "gradient_calls": clock.calls,
        "gradient_seconds": clock.seconds,
        "outside_gradient": 1 - clock.seconds / seconds,
        "loss": float(est.loss_),
    }


def compare(make_ours, make_theirs, X, y, repeats):
    """Fit both, in turns, ``repeats`` times; the fastest of each is reported.

    Returns ``{"skbackprop": record, "sklearn": record, "ratio": float}``.
    """

    makers = {"skbackprop": (make_ours, OURS), "sklearn": (make_theirs, THEIRS)}

    def fit(lib):
        make, clock = makers[lib]
        est = make()
        clock.reset()
        t = time.perf_counter()
        fit_quietly(est, X, y)
        t = time.perf_counter() - t
        return _record(lib, est, t, clock)

    libs = tuple(makers)
    timings = interleaved_best(
        [lambda lib=lib: fit(lib) for lib in libs],
        min_rounds=repeats,
        max_rounds=repeats,
        warmup=False,
    )
    # The records of the fastest fits; their shares outside the gradient
    # are of their own times.
    out = {
        lib: {**t.value, "seconds": t.best, "seconds_median": t.median}
        for lib, t in zip(libs, timings, strict=True)
    }
    out["ratio"] = out["sklearn"]["seconds"] / out["skbackprop"]["seconds"]
    return out


def lbfgs_pair(est_ours, est_theirs, hidden, max_iter, **extra):
    common = {
        "alpha": ALPHA,
        "max_iter": max_iter,
        "tol": 0.0,
        "random_state": 0,
        **extra,
    }
    return (
        lambda: est_ours(hidden_layer_sizes=hidden, solver="L-BFGS-B", **common),
        lambda: est_theirs(hidden_layer_sizes=hidden, solver="lbfgs", **common),
    )


def gd_pair(hidden, epochs):
    common = {
        "alpha": ALPHA,
        "batch_size": BATCH,
        "learning_rate": "constant",
        "learning_rate_init": LEARNING_RATE,
        "momentum": MOMENTUM,
        "nesterovs_momentum": False,
        "max_iter": epochs,
        "tol": 0.0,
        "n_iter_no_change": epochs + 1,
        "shuffle": True,
        "random_state": 0,
    }
    return (
        lambda: BackpropClassifier(hidden, solver="gd", **common),
        lambda: TimedMLPClassifier(hidden, solver="sgd", **common),
    )


# -- the grid ------------------------------------------------------------------
def n_weights(hidden, n_in=20, n_out=10):
    sizes = (n_in, *hidden, n_out)
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def budget(work, bounds, m, hidden):
    """Iterations for about ``work`` multiply-adds, within ``bounds``."""
    lo, hi = bounds
    return int(np.clip(round(work / (m * n_weights(hidden))), lo, hi))


def grid_data(m, dtype):
    X, y = make_classification(
        n_samples=m,
        n_features=20,
        n_informative=10,
        n_redundant=5,
        n_classes=10,
        n_clusters_per_class=1,
        random_state=0,
    )
    return X.astype(dtype), y


def bench_grid(cfg):
    cells = []
    for solver in ("L-BFGS-B", "gd"):
        for m in cfg["m"]:
            for hidden in cfg["hidden"]:
                for name in cfg["dtypes"]:
                    X, y = grid_data(m, np.dtype(name))
                    if solver == "L-BFGS-B":
                        k = budget(cfg["lbfgs_work"], cfg["lbfgs_iter"], m, hidden)
                        pair = lbfgs_pair(
                            BackpropClassifier, TimedMLPClassifier, hidden, k
                        )
                    else:
                        k = budget(cfg["gd_work"], cfg["gd_epochs"], m, hidden)
                        pair = gd_pair(hidden, k)
                    res = compare(*pair, X, y, cfg["repeats"])
                    cell = {
                        "solver": solver,
                        "m": m,
                        "hidden": list(hidden),
                        "dtype": name,
                        "budget": k,
                        **res,
                    }
                    cells.append(cell)
                    print(
                        f"{solver:8s} m={m:6d} {str(hidden):10s} {name}: "
                        f"{res['skbackprop']['seconds']:7.3f} s vs "
                        f"{res['sklearn']['seconds']:7.3f} s, "
                        f"{res['ratio']:.2f}x ({k} it)"
                    )
    return cells


# -- the five everyday fits ----------------------------------------------------
def digits(dtype=np.float64):
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(dtype), y


def friedman():
    X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X, (y - y.mean()) / y.std()


GRID = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "hidden_layer_sizes": [(50,), (100,)]}


def grid_search(est, solver):
    """GridSearchCV: 8 candidates x 3 folds, ``n_jobs=2``, 100 L-BFGS
    iterations (``tol=0``), refit on all rows."""
    est.set_params(solver=solver, max_iter=100, tol=0.0, random_state=0)
    return GridSearchCV(est, GRID, cv=3, n_jobs=2)


def bench_everyday(cfg):
    """The five everyday fits: a :func:`compare` result each, with its label."""
    rows = []
    repeats = cfg["repeats"]
    for label, dtype in (("float64", np.float64), ("float32", np.float32)):
        X, y = digits(dtype)
        pair = lbfgs_pair(BackpropClassifier, TimedMLPClassifier, (100,), 150)
        label = f"digits (1797 x 64), (100,), L-BFGS-B 150 it, {label}"
        rows.append((label, f"digits\n{dtype.__name__}", pair, X, y))
    X, y = friedman()
    pair = lbfgs_pair(BackpropRegressor, TimedMLPRegressor, (100,), 300)
    label = "regression 2000 x 10 (Friedman #1), (100,), L-BFGS-B 300 it"
    rows.append((label, "regression\n2000 x 10", pair, X, y))
    X, y = digits()
    label = f"digits, mini-batch {BATCH}, 30 epochs, momentum {MOMENTUM} (vs sgd)"
    rows.append((label, "digits\nmini-batch", gd_pair((100,), 30), X, y))
    out = []
    for label, short, pair, X, y in rows:
        res = compare(*pair, X, y, repeats)
        out.append({"fit": label, "short": short, **res})
        print(f"{label}: {res['ratio']:.2f}x")
    out.append(bench_grid_search(*digits(), repeats))
    return out


def bench_grid_search(X, y, repeats):
    """GridSearchCV on digits with both libraries, in turns, after a warm-up
    run each (the first starts the worker processes and their imports)."""
    searches = {
        "skbackprop": lambda: grid_search(BackpropClassifier(), "L-BFGS-B"),
        "sklearn": lambda: grid_search(MLPClassifier(), "lbfgs"),
    }
    timings = interleaved_best(
        [lambda s=s: fit_quietly(s(), X, y) for s in searches.values()],
        min_rounds=repeats,
        max_rounds=repeats,
    )
    res = {}
    for lib, t in zip(searches, timings, strict=True):
        res[lib] = {
            "seconds": t.best,
            "seconds_median": t.median,
            "best_score": float(t.value.best_score_),
            "best_params": {k: str(v) for k, v in t.value.best_params_.items()},
        }
    res["ratio"] = res["sklearn"]["seconds"] / res["skbackprop"]["seconds"]
    label = "GridSearchCV digits, 8 candidates x 3 folds, n_jobs=2"
    print(f"{label}: {res['ratio']:.2f}x")
    return {"fit": label, "short": "GridSearchCV\ndigits", **res}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out", default=str(RESULTS), help="output dir")
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="run everything under threadpool_limits(N) (a user's setting); "
        "writes small_blasN.* instead of small.*",
    )
    parser.add_argument("--from-json", help="rewrite the report from a small.json")
    args = parser.parse_args(argv)
    stem = "small" if args.blas_threads is None else f"small_blas{args.blas_threads}"
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        results["targets"] = targets(results)
        write_outputs(args.out, stem, results, markdown(results), plot)
        return
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    with threadpool_limits(args.blas_threads, user_api="blas"), gradient_clocks():
        info = system_info()
        info["thread_variables"] = {v: os.environ.get(v) for v in THREAD_VARIABLES}
        info["blas_threads_limit"] = args.blas_threads
        results = {"quick": args.quick, "config": cfg, "system": info}
        results["cells"] = bench_grid(cfg)
        results["everyday"] = bench_everyday(cfg)
    info["load_average_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - start
    results["targets"] = targets(results)
    write_outputs(args.out, stem, results, markdown(results), plot)


if __name__ == "__main__":
    main()
