"""Time and iterations to reach a training loss: first- vs second-order solvers.

Compares, on one classification and one regression problem, the SciPy
methods the estimators accept with exact derivatives:

* first order: ``L-BFGS-B`` and ``CG`` (gradient ``D`` only);
* Newton type: ``Newton-CG``, ``trust-ncg`` and ``trust-krylov``, each with
  the exact Hessian-vector product ``H v`` and the Gauss-Newton product
  ``G v`` (``curvature="exact"`` / ``"gauss-newton"``);

side by side with scikit-learn's ``MLPClassifier``/``MLPRegressor`` with
``solver="lbfgs"`` (same initial weights for the same ``random_state``).

Each of our fits stops through the estimator's ``callback`` as soon as the
training loss reaches the tighter of two targets, or after a time budget;
the callback timestamps every iteration and reads counters of cost/gradient
and curvature-product evaluations.  scikit-learn has no callback: its time to
a target is that of a fit with the smallest ``max_iter`` whose final loss
reaches it (found by bisection; L-BFGS-B's trajectory does not depend on
``max_iter``).  The targets are the losses L-BFGS-B reaches after a fixed
number of iterations.  Every time is the minimum over ``--repeats`` runs.
BLAS runs on one thread (the machine is shared; it also makes the per-call
costs comparable).

Run ``python benchmarks/bench_second_order.py`` (about 5 minutes on an idle
2-core machine); it writes ``benchmarks/results/second_order.{md,json,png}``.
"""

import argparse
import json
import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_digits, make_friedman1
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from threadpoolctl import threadpool_limits

import skbackprop._training.objective
from skbackprop import BackpropClassifier, BackpropRegressor, init_params
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import network_hessp

from _common import fit_quietly, interleaved_best
from _second_order_report import SKLEARN, merge, plot, thin, write_markdown

RESULTS = Path(__file__).parent / "results"

# (label, solver, curvature)
SOLVERS = [
    ("L-BFGS-B", "L-BFGS-B", "exact"),
    ("CG", "CG", "exact"),
    ("Newton-CG (H)", "Newton-CG", "exact"),
    ("Newton-CG (GN)", "Newton-CG", "gauss-newton"),
    ("trust-ncg (H)", "trust-ncg", "exact"),
    ("trust-ncg (GN)", "trust-ncg", "gauss-newton"),
    ("trust-krylov (H)", "trust-krylov", "exact"),
    ("trust-krylov (GN)", "trust-krylov", "gauss-newton"),
]


def problems():
    """``name -> dict`` with data, estimators and the two target iterations."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xr, yr = make_friedman1(n_samples=2000, noise=0.5, random_state=0)
    Xr = StandardScaler().fit_transform(Xr)
    yr = (yr - yr.mean()) / yr.std()
    regression = {
        "ours": BackpropRegressor,
        "sklearn": MLPRegressor,
        "params": {"hidden_layer_sizes": (32,), "activation": "tanh"},
        "target_iters": (100, 1000),
    }
    return {
        "classification": {
            "title": "digits (1797 x 64, 10 classes, scaled), relu (64,)",
            "short": "digits, relu (64,)",
            "X": X,
            "y": y,
            "ours": BackpropClassifier,
            "sklearn": MLPClassifier,
            "params": {"hidden_layer_sizes": (64,), "activation": "relu"},
            "target_iters": (25, 100),
        },
        "regression": {
            "title": "make_friedman1 (2000 x 10, noise 0.5, scaled), tanh (32,)",
            "short": "Friedman #1, tanh (32,)",
            "X": Xr,
            "y": yr,
            **regression,
        },
        # The same data with feature scales from 0.01 to 10 (as if not
        # standardized): an ill-conditioned problem.
        "regression, badly scaled": {
            "title": "the same with features scaled by 0.01 ... 10",
            "short": "feature scales 0.01 ... 10",
            "X": Xr * np.logspace(-2, 1, Xr.shape[1]),
            "y": yr,
            **regression,
            # L-BFGS-B's progress slows down here: follow it further.
            "target_iters": (300, 3000),
            "budget_factor": 2.0,
        },
    }


COMMON = {"alpha": 1e-4, "random_state": 0, "tol": 0.0}


@contextmanager
def counted_passes():
    """Count cost/gradient and curvature-product evaluations of every fit."""
    counts = {"fg": 0, "hessp": 0}
    cls = skbackprop._training.objective.InMemoryObjective
    cost_grad, hessp = cls.cost_grad, cls.hessp

    def counted_cost_grad(self, theta):
        counts["fg"] += 1
        return cost_grad(self, theta)

    def counted_hessp(self, theta, v, curvature):
        counts["hessp"] += 1
        return hessp(self, theta, v, curvature)

    cls.cost_grad, cls.hessp = counted_cost_grad, counted_hessp
    try:
        yield counts
    finally:
        cls.cost_grad, cls.hessp = cost_grad, hessp


def run_ours(problem, solver, curvature, target, budget, max_iter=100_000):
    """One fit stopped at ``target`` or after ``budget`` s: the trace per iteration.

    Returns ``(trace, message)``; ``trace`` rows are ``(seconds, loss,
    n_cost_grad, n_hessp)`` after each iteration.
    """
    trace = []
    with counted_passes() as counts:

        def callback(state):
            elapsed = time.perf_counter() - start
            trace.append((elapsed, float(state.fun), counts["fg"], counts["hessp"]))
            return state.fun <= target or elapsed > budget

        est = problem["ours"](
            **problem["params"],
            **COMMON,
            solver=solver,
            curvature=curvature,
            max_iter=max_iter,
            callback=callback,
        )
        start = time.perf_counter()
        fit_quietly(est, problem["X"], problem["y"])
    result = est.optimize_result_
    if result is None:
        message = "reached target" if trace[-1][1] <= target else "time budget"
    else:
        message = f"stopped by {solver}: {result.message}"
    return trace, message


def first_reach(trace, target):
    """``(iterations, seconds, n_cost_grad, n_hessp)`` at the first loss <= target."""
    for i, (t, loss, fg, hv) in enumerate(trace):
        if loss <= target:
            return {"iters": i + 1, "time": t, "fg": fg, "hessp": hv}
    return None


def lbfgs_targets(problem):
    """The losses L-BFGS-B reaches after the problem's target iterations."""
    n = max(problem["target_iters"])
    trace, _ = run_ours(problem, "L-BFGS-B", "exact", -np.inf, np.inf, max_iter=n)
    return [trace[k - 1][1] for k in problem["target_iters"]]


def fit_sklearn(problem, max_iter, repeats=1):
    """``(seconds, loss, iterations)`` of scikit-learn's fit with ``max_iter``,
    the seconds the best of ``repeats``."""
    est = problem["sklearn"](**problem["params"], **COMMON, solver="lbfgs")
    est.set_params(max_iter=max_iter)
    (timing,) = interleaved_best(
        [lambda: fit_quietly(est, problem["X"], problem["y"])],
        min_rounds=repeats,
        max_rounds=repeats,
        warmup=False,
    )
    return timing.best, float(est.loss_), int(est.n_iter_)


def sklearn_reach(problem, target, repeats, points, hint):
    """Smallest ``max_iter`` whose fit reaches ``target``, and its best time.

    Our L-BFGS-B and scikit-learn's follow the same trajectory up to
    rounding, so the search starts at our iteration count ``hint``, and
    brackets the answer by steps doubling downwards or upwards.
    """
    stalled = []

    def reaches(k):
        t, loss, n = fit_sklearn(problem, k)
        points.append((n, t, loss))
        if n < k and loss > target:
            stalled.append(k)  # converged above the target
        return loss <= target

    hi, step = hint, 1
    if reaches(hi):
        lo = hi - step
        while lo > 0 and reaches(lo):
            hi, step = lo, 2 * step
            lo = max(hi - step, 0)
    else:
        lo, hi = hi, hi + step
        while not reaches(hi):
            if stalled or hi > 100_000:
                return None
            lo, step = hi, 2 * step
            hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid
    t, loss, n = fit_sklearn(problem, hi, repeats)
    points.append((n, t, loss))
    return {"iters": hi, "time": t, "fg": None, "hessp": None}


def product_costs(problem, repeats=7):
    """Seconds of one cost/gradient and of one ``H v`` / ``G v`` at the start."""
    X, y = problem["X"], problem["y"]
    if problem["ours"] is BackpropClassifier:
        Y, loss = LabelBinarizer().fit_transform(y).astype(X.dtype), "log_loss"
    else:
        Y, loss = y.reshape(-1, 1), "squared_error"
    params = problem["params"]
    sizes = (X.shape[1], *params["hidden_layer_sizes"], Y.shape[1])
    net = Network(sizes, params["activation"], loss)
    theta = init_params(sizes, params["activation"], random_state=0)
    v = np.random.default_rng(0).normal(size=theta.size)
    alpha = COMMON["alpha"]

    products = {
        "cost_grad": lambda: net.cost_grad(theta, X, Y, None, alpha),
        "hessp_exact": lambda: network_hessp(net, theta, v, X, Y, None, alpha, "exact"),
        "hessp_gauss_newton": lambda: network_hessp(
            net, theta, v, X, Y, None, alpha, "gauss-newton"
        ),
    }
    # In turns, 5 calls per sample: the same load for the three products.
    timings = interleaved_best(
        list(products.values()), min_rounds=repeats, max_rounds=repeats, number=5
    )
    return {
        "n_params": int(theta.size),
        **{key: t.best for key, t in zip(products, timings, strict=True)},
    }


def bench_problem(name, problem, repeats, budget, log):
    targets = lbfgs_targets(problem)
    tight = min(targets)
    log(f"[{name}] targets {targets} (L-BFGS-B after {problem['target_iters']})")
    out = {
        "title": problem["title"],
        "short": problem["short"],
        "target_iters": list(problem["target_iters"]),
        "targets": targets,
        "costs": product_costs(problem),
        "solvers": {},
    }
    for label, solver, curvature in SOLVERS:
        runs = []
        limit = budget * problem.get("budget_factor", 1)
        for r in range(repeats):
            trace, message = run_ours(problem, solver, curvature, tight, limit)
            runs.append((trace, message))
            log(
                f"[{name}] {label:18s} run {r}: {len(trace)} it, "
                f"{trace[-1][0]:.2f} s, loss {trace[-1][1]:.4g} ({message})"
            )
            if first_reach(trace, tight) is None:
                break  # not reached: do not spend the budget again
        reach = []
        for target in targets:
            hits = [first_reach(trace, target) for trace, _ in runs]
            hits = [h for h in hits if h is not None]
            reach.append(min(hits, key=lambda h: h["time"]) if hits else None)
        best_trace, message = min(runs, key=lambda run: run[0][-1][0])
        out["solvers"][label] = {
            "solver": solver,
            "curvature": curvature,
            "reach": reach,
            "trace": best_trace,
            "end": message,
        }
    points, reach = [], []
    for target, hint in zip(targets, problem["target_iters"], strict=True):
        hit = sklearn_reach(problem, target, repeats, points, hint)
        reach.append(hit)
        log(f"[{name}] {SKLEARN}: target {target:.4g} -> {hit}")
    out["solvers"][SKLEARN] = {
        "reach": reach,
        "points": sorted(points),
        "end": "bisection on max_iter",
    }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=float, default=12.0, help="s per fit")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the Markdown and the plot from the saved JSON",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="instead of running, keep the best times of these saved JSON runs",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "second_order.json"
    if args.merge:
        results, env = merge([json.loads(p.read_text()) for p in args.merge])
        json_path.write_text(json.dumps({"env": env, "results": thin(results)}))
    if args.report_only or args.merge:
        saved = json.loads(json_path.read_text())
        write_markdown(saved["results"], saved["env"], args.out / "second_order.md")
        plot(saved["results"], args.out / "second_order.png")
        return
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    start = time.perf_counter()
    results = {}
    with threadpool_limits(1):
        for name, problem in problems().items():
            results[name] = bench_problem(
                name, problem, args.repeats, args.budget, print
            )
    env["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    env["seconds"] = time.perf_counter() - start
    print(f"total {env['seconds']:.0f} s")
    json_path.write_text(json.dumps({"env": env, "results": thin(results)}))
    write_markdown(results, env, args.out / "second_order.md")
    plot(results, args.out / "second_order.png")


if __name__ == "__main__":
    main()
