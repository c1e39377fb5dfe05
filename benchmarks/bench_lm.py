"""Levenberg-Marquardt and least_squares against L-BFGS-B on small networks.

Measures, side by side in one run (BLAS on one thread: the machine is
shared, and it makes per-call costs comparable):

1. **Dense Jacobian blocks**: the package's construction (one backward pass
   per output unit, ``Linearization.dense``) against the forward R-operator
   (one ``J e_j`` pass per parameter), on each problem's network.
2. **Time to L-BFGS-B's loss**: on each problem and each of ``--seeds``
   initial weights, L-BFGS-B runs 3,000 iterations (``tol=0``, ``ftol=0``);
   its final loss is the target.  ``lm`` (trainlm and Nielsen damping,
   each without and with geodesic acceleration),
   ``least_squares`` (trf) and ``trust-ncg`` with Gauss-Newton products
   then start from the same weights (same ``random_state``) and stop, by
   their callback, at the first iteration whose loss reaches the target, or
   after a time budget.  Each fit runs ``--repeats`` times in turns; every
   time is the minimum.  Speed-up = L-BFGS-B's time to its 3,000th iteration
   over the solver's time to the target.
3. **Crossover**: the same on Friedman #1 (1,000 rows) with one hidden layer
   of 8 to 400 tanh units (97 to 4,801 weights): where L-BFGS-B wins.
4. **Robust regression**: the noisy sinc with 10% of the targets moved by
   +-5; squared error against ``soft_l1`` (``f_scale=0.1``, the noise level)
   and the other robust losses; mean squared error on clean test points.
5. **Memory**: peak Python/numpy allocations (tracemalloc) during an ``lm``
   fit on 1k to 100k rows, each in a fresh subprocess.

Run ``python benchmarks/bench_lm.py`` (about 15 minutes on 2 cores) or
``--quick`` (a minute); it writes ``benchmarks/results/lm.{md,json}``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skbackprop._training.solvers.lm
from skbackprop import BackpropRegressor, init_params
from skbackprop._engine.jacobian import Linearization, jacobian_rows
from skbackprop._engine.network import Network

RESULTS = Path(__file__).parent / "results"


def _lm(damping, geodesic):
    return {"solver_options": {"damping": damping, "geodesic": geodesic}}


SOLVERS = [
    ("lm (trainlm)", "lm", _lm("trainlm", False)),
    ("lm (nielsen)", "lm", _lm("nielsen", False)),
    ("lm (trainlm, geodesic)", "lm", _lm("trainlm", True)),
    ("lm (nielsen, geodesic)", "lm", _lm("nielsen", True)),
    ("least_squares (trf)", "least_squares", {}),
    ("trust-ncg (GN)", "trust-ncg", {"curvature": "gauss-newton"}),
]
TARGET_ITERS = 3000
# The crossover compares the plain steps with the geodesic ones, the default
# ("auto") for these tanh networks.
CROSSOVER = [SOLVERS[1], SOLVERS[3]]


# -- problems ------------------------------------------------------------------
def sinc(n=300, noise=0.1, seed=0):
    """sin(10 x) / (10 x) on [-1, 1] (the sinc on [-10, 10], scaled) plus noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, n)[:, None]
    return x, np.sinc(10 * x.ravel() / np.pi) + noise * rng.normal(size=n)


def friedman(n=1000):
    X, y = make_friedman1(n_samples=n, noise=1.0, random_state=0)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def peaks(n=2000):
    """MATLAB's peaks surface on [-3, 3]^2 (inputs scaled to [-1, 1]) plus noise."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (n, 2))
    a, b = 3 * X[:, 0], 3 * X[:, 1]
    z = (
        3 * (1 - a) ** 2 * np.exp(-(a**2) - (b + 1) ** 2)
        - 10 * (a / 5 - a**3 - b**5) * np.exp(-(a**2) - b**2)
        - np.exp(-((a + 1) ** 2) - b**2) / 3
    )
    z /= z.std()
    return X, z + 0.05 * rng.normal(size=n)


def problems():
    X_f, y_f = friedman()
    return {
        "sinc 1-10-1": {
            "title": "noisy sinc, 300 points, 1-10-1 tanh (31 weights)",
            "data": sinc(),
            "hidden": (10,),
        },
        "Friedman 10-8-1": {
            "title": "Friedman #1, 1,000 rows, 10-8-1 tanh (97 weights)",
            "data": (X_f, y_f),
            "hidden": (8,),
        },
        "peaks 2-20-20-1": {
            "title": "peaks surface, 2,000 points, 2-20-20-1 tanh (501 weights)",
            "data": peaks(),
            "hidden": (20, 20),
        },
    }


# -- fits to a target ------------------------------------------------------------
def run(X, y, hidden, solver, seed, target, budget, max_iter, **params):
    """One fit stopped at ``target`` or ``budget`` seconds: (times, losses, est)."""
    times, losses = [], []

    def callback(state):
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        losses.append(float(state.fun))
        return bool(state.fun <= target or elapsed > budget)

    est = BackpropRegressor(
        hidden,
        "tanh",
        solver=solver,
        alpha=0.0,
        tol=0.0,
        max_iter=max_iter,
        random_state=seed,
        callback=callback,
        **params,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return np.array(times), np.array(losses), est


def lbfgs(X, y, hidden, seed):
    options = {"solver_options": {"ftol": 0.0, "maxfun": 10**6}}
    return run(X, y, hidden, "L-BFGS-B", seed, -np.inf, np.inf, TARGET_ITERS, **options)


def reach(times, losses, target):
    hit = np.flatnonzero(losses <= target)
    return (int(hit[0]) + 1, float(times[hit[0]])) if hit.size else (None, None)


def compare(problem, seed, repeats, budget_factor=3.0, solvers=SOLVERS):
    """L-BFGS-B's target and every solver's time to it, best of ``repeats``."""
    X, y = problem["data"]
    hidden = problem["hidden"]
    best = {}
    target = None
    for _ in range(repeats):
        times, losses, est = lbfgs(X, y, hidden, seed)
        target = losses[-1] if target is None else target
        row = best.setdefault("L-BFGS-B", {"iters": len(losses), "time": np.inf})
        row["time"] = min(row["time"], float(times[-1]))
        row["loss"] = float(losses[-1])
        budget = max(budget_factor * best["L-BFGS-B"]["time"], 1.0)
        for label, solver, params in solvers:
            times, losses, est = run(
                X, y, hidden, solver, seed, target, budget, 100_000, **params
            )
            iters, t = reach(times, losses, target)
            row = best.setdefault(label, {"times": []})
            row.update(iters=iters, final_loss=float(losses[-1]), n_iter=len(losses))
            row["budget"] = budget
            if iters is not None:  # the path is deterministic: only the time varies
                row["times"].append(t)
            if est.optimize_result_ is not None and "nfev" in est.optimize_result_:
                row["nfev"] = int(est.optimize_result_["nfev"])
    for label, row in best.items():
        if label != "L-BFGS-B":
            row["time"] = min(row.pop("times"), default=None)
            if row["time"]:
                row["speedup"] = best["L-BFGS-B"]["time"] / row["time"]
    return {"target": float(target), "solvers": best}


# -- Jacobian construction --------------------------------------------------------
def best_time(fn, repeats=20):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def jacobian_construction(problem):
    """Seconds to build one block's dense Jacobian, backward vs forward."""
    X, _ = problem["data"]
    sizes = (X.shape[1], *problem["hidden"], 1)
    net = Network(sizes, "tanh", "squared_error")
    theta = init_params(sizes, "tanh", 0)
    rows = min(jacobian_rows(net), X.shape[0])
    lin = Linearization(net, net.unpack(theta), X[:rows])
    eye = np.eye(net.n_params)

    def forward():
        return np.stack([lin.jvp(e) for e in eye], axis=-1)

    np.testing.assert_allclose(forward(), lin.dense(), atol=1e-12)
    backward_s, forward_s = best_time(lin.dense), best_time(forward, 5)
    return {
        "rows": rows,
        "n_params": net.n_params,
        "backward_ms": 1e3 * backward_s,
        "forward_ms": 1e3 * forward_s,
        "ratio": forward_s / backward_s,
    }


# -- robust regression ----------------------------------------------------------
ROBUST = [
    ("squared error (least_squares)", "least_squares", {}),
    ("squared error (lm)", "lm", None),
    ("soft_l1", "least_squares", {"loss": "soft_l1", "f_scale": 0.1}),
    ("huber", "least_squares", {"loss": "huber", "f_scale": 0.1}),
    ("cauchy", "least_squares", {"loss": "cauchy", "f_scale": 0.1}),
]


def robust(seed):
    rng = np.random.default_rng(seed)
    X, y = sinc(seed=seed)
    moved = rng.choice(len(y), len(y) // 10, replace=False)
    y = y.copy()
    y[moved] += rng.choice([-5.0, 5.0], moved.size)
    X_test = rng.uniform(-1, 1, (1000, 1))
    y_test = np.sinc(10 * X_test.ravel() / np.pi)
    errors = {}
    for label, solver, options in ROBUST:
        est = BackpropRegressor(
            (10,),
            "tanh",
            solver=solver,
            alpha=0.0,
            max_iter=1000,
            tol=1e-8,
            random_state=seed,
            solver_options=options,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        errors[label] = float(np.mean((est.predict(X_test) - y_test) ** 2))
    return errors


# -- memory --------------------------------------------------------------------
MEMORY_FITS = [
    ("lm", {"solver": "lm", "solver_options": {"geodesic": False}}),
    ("lm, geodesic", {"solver": "lm", "solver_options": {"geodesic": True}}),
    ("lm, chunk_size=1024", {"solver": "lm", "chunk_size": 1024}),
    ("L-BFGS-B", {"solver": "L-BFGS-B"}),
]


def memory_child(m, which):
    """Peak allocations (tracemalloc) of a 5-iteration fit on ``m`` rows."""
    import tracemalloc

    X, y = make_friedman1(n_samples=m, noise=1.0, random_state=0)
    params = dict(MEMORY_FITS)[which]
    est = BackpropRegressor((8,), "tanh", max_iter=5, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[:100], y[:100])  # imports and first-call caches
        tracemalloc.start()
        est.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(json.dumps({"peak_MiB": peak / 2**20, "data_MiB": X.nbytes / 2**20}))


def memory(sizes):
    """Each fit in a fresh subprocess, with one BLAS thread (one row worker)."""
    rows = []
    for m in sizes:
        row = {"m": m}
        for which, _ in MEMORY_FITS:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(m), which],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            row[which] = result["peak_MiB"]
            row["data_MiB"] = result["data_MiB"]
        rows.append(row)
    return rows


# -- report --------------------------------------------------------------------
def fmt_time(row):
    if row.get("time") is None:
        return f"not reached ({row['n_iter']} it., loss {row['final_loss']:.5g})"
    return f"{row['time']:.3f} s"


def report(results):
    lines = [
        "# Levenberg-Marquardt and least_squares against L-BFGS-B",
        "",
        f"{results['when']}; {results['machine']}; numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
        "BLAS on 1 thread.  Written by `benchmarks/bench_lm.py`.",
        "",
        "## Dense Jacobian blocks: backward (one pass per output) vs forward "
        "(one R-operator pass per parameter)",
        "",
        "| problem | rows | n_params | backward ms | forward ms | forward / backward |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["jacobian"].items():
        lines.append(
            f"| {name} | {row['rows']} | {row['n_params']} | "
            f"{row['backward_ms']:.3f} | {row['forward_ms']:.2f} | "
            f"{row['ratio']:.0f}x |"
        )
    lines += [
        "",
        f"## Time to the loss L-BFGS-B reaches after {TARGET_ITERS} iterations",
        "",
        "Same initial weights (`random_state` = seed), `alpha=0`, tanh.  "
        "Speed-up = L-BFGS-B's time to its last iteration / the solver's time "
        "to the target; iterations in parentheses.",
        "",
    ]
    labels = ["L-BFGS-B"] + [label for label, _, _ in SOLVERS]
    for name, runs in results["targets"].items():
        lines += [
            f"### {results['titles'][name]}",
            "",
            "| seed | target | " + " | ".join(labels) + " |",
            "|---:|---:|" + "---|" * len(labels),
        ]
        for seed, run_ in runs.items():
            cells = []
            for label in labels:
                row = run_["solvers"][label]
                cell = fmt_time(row)
                if row.get("iters"):
                    cell += f" ({row['iters']} it.)"
                if "speedup" in row:
                    cell += f", **{row['speedup']:.1f}x**"
                cells.append(cell)
            lines.append(
                f"| {seed} | {run_['target']:.6g} | " + " | ".join(cells) + " |"
            )
        medians = []
        for label in labels[1:]:
            ups = [run_["solvers"][label].get("speedup", 0.0) for run_ in runs.values()]
            medians.append(f"{label} {np.median(ups):.1f}x")
        lines += [
            "",
            "Median speed-up (not reached counts as 0): " + ", ".join(medians),
            "",
        ]
    lines += [
        "## Crossover: Friedman #1, 1,000 rows, 10-h-1 tanh",
        "",
        "| h | n_params | L-BFGS-B 3000 it. | "
        + " | ".join(f"{label} | speed-up" for label, _, _ in CROSSOVER)
        + " |",
        "|---:|---:|---:|---|---:|---|---:|",
    ]
    for row in results["crossover"]:
        s = row["solvers"]
        cells = []
        for label, _, _ in CROSSOVER:
            r = s[label]
            cell = fmt_time(r) + (f" ({r['iters']} it.)" if r.get("iters") else "")
            cells += [cell, f"{r['speedup']:.2f}x" if "speedup" in r else "-"]
        lines.append(
            f"| {row['hidden']} | {row['n_params']} | "
            f"{s['L-BFGS-B']['time']:.2f} s | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "## Robust regression: sinc with 10% of the targets moved by +-5",
        "",
        "Mean squared error on 1,000 clean test points; 1-10-1 tanh, "
        "`f_scale=0.1` (the noise level).",
        "",
        "| seed | "
        + " | ".join(label for label, _, _ in ROBUST)
        + " | soft_l1 / squared |",
        "|---:|" + "---:|" * (len(ROBUST) + 1),
    ]
    for seed, errors in results["robust"].items():
        ratio = errors["soft_l1"] / errors["squared error (least_squares)"]
        lines.append(
            f"| {seed} | "
            + " | ".join(f"{errors[label]:.4f}" for label, _, _ in ROBUST)
            + f" | {ratio:.3f} |"
        )
    names = [which for which, _ in MEMORY_FITS]
    lines += [
        "",
        "## Memory (Friedman #1, 10-8-1, 5 iterations, one row worker)",
        "",
        "Peak Python/numpy allocations during `fit` (tracemalloc), MiB.",
        "",
        "| rows | the data X | " + " | ".join(names) + " |",
        "|---:|---:|" + "---:|" * len(names),
    ]
    for row in results["memory"]:
        lines.append(
            f"| {row['m']:,} | {row['data_MiB']:.2f} | "
            + " | ".join(f"{row[n]:.2f}" for n in names)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--memory-child", nargs=2, default=None)
    args = parser.parse_args()
    threadpool_limits(1)
    if args.memory_child is not None:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return
    if args.quick:
        args.seeds, args.repeats = 1, 1
    probs = problems()
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "titles": {name: p["title"] for name, p in probs.items()},
        "jacobian": {name: jacobian_construction(p) for name, p in probs.items()},
        "targets": {},
    }
    for name, problem in probs.items():
        results["targets"][name] = {
            seed: compare(problem, seed, args.repeats) for seed in range(args.seeds)
        }
        print(name, "done", flush=True)
    X_f, y_f = friedman()
    widths = (8, 32, 128) if args.quick else (8, 16, 32, 64, 128, 256, 400)
    results["crossover"] = []
    # Measure beyond the size lm refuses, to show why it refuses there.
    skbackprop._training.solvers.lm.MAX_PARAMS = 10**9
    for h in widths:
        problem = {"data": (X_f, y_f), "hidden": (h,)}
        row = compare(problem, 0, 1, budget_factor=2.0, solvers=CROSSOVER)
        row.update(hidden=h, n_params=12 * h + 1)
        results["crossover"].append(row)
        print("crossover", h, "done", flush=True)
    results["robust"] = {seed: robust(seed) for seed in range(args.seeds)}
    results["memory"] = memory(
        (1000, 10_000) if args.quick else (1000, 10_000, 100_000)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lm.json").write_text(json.dumps(results, indent=1, default=str))
    (args.out / "lm.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
