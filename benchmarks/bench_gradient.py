"""The GEMM peak and the batch gradient against scikit-learn's.

1. numpy's GEMM throughput (float64, float32) on the network's shapes, a large
   square product, and one single-threaded product per core at once (the
   scheme of the gradient's row workers): the reference peak;
2. the batch gradient (``J`` and ``D``) of skbackprop's engine and of
   scikit-learn's ``MLPClassifier._loss_grad_lbfgs`` on m rows x 100 features,
   hidden layers (256, 256), 10 classes: evaluations/s, GFLOP/s, fraction of
   the peak, and the time per row (linearity in m).

Part of ``run.py``'s suite, which writes the results; run alone it prints
its tables::

    python benchmarks/bench_gradient.py [--quick]
"""

import argparse
import os
import threading
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from skbackprop import init_params
from skbackprop._engine.network import Network

from _common import interleaved_best

# The network of run.py's suite.
N_FEATURES, HIDDEN, N_CLASSES, ALPHA, SEED = 100, (256, 256), 10, 1e-4, 0
SIZES = (N_FEATURES, *HIDDEN, N_CLASSES)
DTYPES = {"float64": np.float64, "float32": np.float32}

FULL = {"gemm_square": 2048, "grad_m": [10_000, 40_000, 160_000], "grad_min_time": 1.5}
QUICK = {"gemm_square": 1024, "grad_m": [2_000, 8_000], "grad_min_time": 0.2}


def make_data(m, dtype, n_test=0):
    """``(X, y, X_test, y_test)``: synthetic classification data of the suite."""
    X, y = make_classification(
        n_samples=m + n_test,
        n_features=N_FEATURES,
        n_informative=50,
        n_redundant=10,
        n_classes=N_CLASSES,
        n_clusters_per_class=2,
        random_state=SEED,
    )
    X = X.astype(dtype)
    return X[:m], y[:m], X[m:], y[m:]


def gradient_flops(m, sizes=SIZES):
    """Exact GEMM flops of one gradient: forward, Delta, and the hidden signals.

    ``2 m sum_l n_{l-1} n_l`` each for the forward products and ``Delta(l)``,
    plus ``2 m sum_{l>1} n_{l-1} n_l`` for ``d(l-1) = d(l) W(l)'`` (no signal
    is propagated into the inputs).  The rule of thumb ``6 m n_weights``
    counts that last product too.
    """
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return 2 * m * (2 * sum(products) + sum(products[1:]))


# -- 1. GEMM peak --------------------------------------------------------------
def gemm_product(m, k, p, dtype, parallel, rng):
    """``(f, flops)``: ``f()`` runs an ``(m x k) @ (k x p)`` GEMM, or one per
    core at once with one BLAS thread each."""
    n = (os.cpu_count() or 1) if parallel else 1
    mats = [
        (
            rng.random((m, k)).astype(dtype),
            rng.random((k, p)).astype(dtype),
            np.empty((m, p), dtype),
        )
        for _ in range(n)
    ]
    if not parallel:
        A, B, C = mats[0]
        return (lambda: np.matmul(A, B, out=C)), 2 * m * k * p

    def run():
        with threadpool_limits(1, user_api="blas"):
            threads = [
                threading.Thread(target=np.matmul, args=(A, B), kwargs={"out": C})
                for A, B, C in mats
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    return run, n * 2 * m * k * p


def bench_gemm(cfg):
    n = cfg["gemm_square"]
    shapes = [(4096, 256, 256, False), (4096, 100, 256, False), (n, n, n, False)]
    shapes.append((4096, 256, 256, True))
    rng = np.random.default_rng(SEED)
    rows = []
    for name, dtype in DTYPES.items():
        for m, k, p, par in shapes:
            shape = f"({m}x{k})@({k}x{p})"
            if par:
                shape = f"{os.cpu_count()} x {shape}, 1 BLAS thread each"
            f, flops = gemm_product(m, k, p, dtype, par, rng)
            (timing,) = interleaved_best([f], cfg["grad_min_time"] / 2)
            gf = flops / timing.best / 1e9
            rows.append({"dtype": name, "shape": shape, "gflops": gf})
            print(f"GEMM {name} {shape}: {gf:.1f} GFLOP/s")
    return rows


# -- 2. gradient ---------------------------------------------------------------
def sklearn_gradient(X, y, dtype):
    """A callable evaluating scikit-learn's ``_loss_grad_lbfgs`` at its init."""
    clf = MLPClassifier(HIDDEN, alpha=ALPHA, solver="lbfgs", max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # A tiny fit sets up the layout (_coef_indptr, n_layers_, ...).
        first = np.unique(y, return_index=True)[1]
        clf.fit(X[np.r_[first, :200]], y[np.r_[first, :200]])
    Y = clf._label_binarizer.transform(y).astype(dtype)
    theta = init_params(SIZES, random_state=SEED, dtype=dtype)
    n = clf.n_layers_ - 1
    acts = [X] + [None] * n
    deltas, cg, ig = [None] * n, [None] * n, [None] * n

    def run():
        return clf._loss_grad_lbfgs(theta, X, Y, None, acts, deltas, cg, ig)

    return run


def bench_gradient(cfg):
    rows = []
    rng = np.random.default_rng(SEED)
    for m in cfg["grad_m"]:
        for name, dtype in DTYPES.items():
            X, y, _, _ = make_data(m, dtype)
            Y = np.eye(N_CLASSES, dtype=dtype)[y]
            net = Network(SIZES, "relu", "log_loss", dtype=dtype)
            theta = init_params(SIZES, random_state=SEED, dtype=dtype)
            D = np.empty(net.n_params, dtype)

            def ours(net=net, theta=theta, X=X, Y=Y, D=D):
                return net.cost_grad(theta, X, Y, None, ALPHA, out=D)

            theirs = sklearn_gradient(X, y, dtype)
            # GEMM references (a (4096x256)@(256x256) product, multi-threaded
            # and one per core) measured in turns with the gradients: on a
            # shared machine the load changes during a run.
            refs = [
                gemm_product(4096, 256, 256, dtype, par, rng) for par in (False, True)
            ]
            timings = interleaved_best(
                [ours, theirs] + [f for f, _ in refs], cfg["grad_min_time"]
            )
            local = max(
                flops / t.best / 1e9
                for (_, flops), t in zip(refs, timings[2:], strict=True)
            )
            J = {"skbackprop": ours()[0], "sklearn": theirs()[0]}
            flops = gradient_flops(m)
            for lib, (t, t_med, reps, _) in zip(J, timings, strict=False):
                gf = flops / t / 1e9
                rows.append(
                    {
                        "lib": lib,
                        "m": m,
                        "dtype": name,
                        "seconds": t,
                        "seconds_median": t_med,
                        "repeats": reps,
                        "evals_per_s": 1 / t,
                        "gflops": gf,
                        "gflops_6mn": 6 * m * net.n_coefs / t / 1e9,
                        "gemm_alongside": local,
                        "fraction_of_gemm_alongside": gf / local,
                        "us_per_row": t / m * 1e6,
                        "J": float(J[lib]),
                    }
                )
                print(
                    f"gradient {lib:10s} m={m:6d} {name}: {t * 1e3:8.1f} ms  "
                    f"{gf:6.1f} GFLOP/s  {gf / local:.0%} of GEMM alongside "
                    f"({local:.1f})  J={J[lib]:.6f}"
                )
    return rows


def add_peak(results):
    """The peak (the best GEMM of the run, those measured alongside the
    gradients included) and each gradient's fraction of it."""
    results["peak"] = {
        name: max(
            [r["gflops"] for r in results["gemm"] if r["dtype"] == name]
            + [r["gemm_alongside"] for r in results["gradient"] if r["dtype"] == name]
        )
        for name in DTYPES
    }
    for r in results["gradient"]:
        r["fraction_of_peak"] = r["gflops"] / results["peak"][r["dtype"]]


def run(cfg):
    """The GEMM and gradient results of ``cfg`` (keys of :data:`FULL`)."""
    results = {"gemm": bench_gemm(cfg), "gradient": bench_gradient(cfg)}
    add_peak(results)
    return results


# -- report --------------------------------------------------------------------
def targets(results):
    """``(target, measured, met)``: the gradient at >= 75% of the GEMM peak on
    the two largest m; the cost linear in m."""
    checks = []
    grad = [r for r in results["gradient"] if r["lib"] == "skbackprop"]
    large = sorted({r["m"] for r in grad})[-2:]
    for r in grad:
        if r["m"] in large:
            checks.append(
                (
                    f"gradient at >= 75% of GEMM peak, m={r['m']}, {r['dtype']}",
                    f"{r['fraction_of_peak']:.0%} of the run's best GEMM, "
                    f"{r['fraction_of_gemm_alongside']:.0%} of the GEMM measured "
                    "alongside",
                    r["fraction_of_peak"] >= 0.75,
                )
            )
    return checks


def linearity_targets(results):
    """``(target, measured, met)``: the time per row flat in m."""
    checks = []
    grad = [r for r in results["gradient"] if r["lib"] == "skbackprop"]
    for name in DTYPES:
        rows = sorted((r for r in grad if r["dtype"] == name), key=lambda r: r["m"])
        ratio = rows[-1]["us_per_row"] / rows[0]["us_per_row"]
        checks.append(
            (
                f"cost linear in m, {name}: time per row at m={rows[-1]['m']} "
                f"/ at m={rows[0]['m']}",
                f"{ratio:.2f}",
                ratio <= 1.15,
            )
        )
    return checks


def markdown(results):
    """The GEMM and gradient sections of ``results.md``."""
    out = [
        "## GEMM peak (numpy matmul)",
        "",
        "| dtype | shape | GFLOP/s |",
        "|---|---|---:|",
    ]
    for r in results["gemm"]:
        out.append(f"| {r['dtype']} | {r['shape']} | {r['gflops']:.1f} |")
    out += [
        "",
        "Peak (the best GEMM of the run, those measured alongside the gradients "
        "included): "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in results["peak"].items())
        + ".",
        "",
        "## Gradient evaluation (J and D, reused buffers)",
        "",
        "GFLOP/s count the exact matrix-product flops "
        "(`2m(2 sum n_(l-1) n_l + sum_(l>1) n_(l-1) n_l)`); `6 m n_weights` is "
        "about 10% more.  Minimum over repeats.",
        "",
        "`of peak`: of the best GEMM of the run; `of GEMM now`: of the best "
        "(4096x256)@(256x256) GEMM (multi-threaded, or one single-threaded per "
        "core) timed in turns with the two gradients (the load of a shared "
        "machine changes during a run; in turns, all see the same).",
        "",
        "| m | dtype | library | ms / eval | evals/s | GFLOP/s | of peak "
        "| of GEMM now | µs / row | sklearn / skbackprop |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    grad = results["gradient"]
    for r in grad:
        other = next(
            g
            for g in grad
            if g["m"] == r["m"] and g["dtype"] == r["dtype"] and g["lib"] == "sklearn"
        )
        ratio = other["seconds"] / r["seconds"] if r["lib"] == "skbackprop" else None
        out.append(
            f"| {r['m']} | {r['dtype']} | {r['lib']} | {r['seconds'] * 1e3:.1f} | "
            f"{r['evals_per_s']:.2f} | {r['gflops']:.1f} | "
            f"{r['fraction_of_peak']:.0%} | {r['fraction_of_gemm_alongside']:.0%} | "
            f"{r['us_per_row']:.2f} | "
            f"{'' if ratio is None else f'{ratio:.2f}x'} |"
        )
    return out


DTYPE_COLORS = (("float64", "C0"), ("float32", "C1"))
LIB_STYLES = (("skbackprop", "o-"), ("sklearn", "s--"))


def plot_against_m(ax, rows, key):
    """One line per dtype and library: ``row[key]`` against the rows m."""
    for name, color in DTYPE_COLORS:
        for lib, style in LIB_STYLES:
            mine = [r for r in rows if r["lib"] == lib and r["dtype"] == name]
            ax.plot(
                [r["m"] for r in mine],
                [r[key] for r in mine],
                style,
                color=color,
                label=f"{lib} {name}",
            )


def plot(ax, results):
    """Gradient GFLOP/s against m, the GEMM peaks dotted."""
    plot_against_m(ax, results["gradient"], "gflops")
    for name, color in DTYPE_COLORS:
        ax.axhline(results["peak"][name], color=color, lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("rows m")
    ax.set_ylabel("GFLOP/s (dotted: GEMM peak)")
    ax.set_title("Gradient evaluation")
    ax.legend(fontsize=8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL)
    print("\n".join(markdown(results)))


if __name__ == "__main__":
    main()
