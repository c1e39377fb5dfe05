"""skbackprop against the machine's GEMM peak and against scikit-learn's MLP.

One process, one run, side by side:

1. numpy's GEMM throughput (float64, float32): the reference peak;
2. the batch gradient (``J`` and ``D``) of skbackprop's engine and of
   scikit-learn's ``MLPClassifier._loss_grad_lbfgs`` on m rows x 100 features,
   hidden layers (256, 256), 10 classes: evaluations/s, GFLOP/s, fraction of
   the peak, and the time per row (linearity in m);
3. ``fit`` with L-BFGS-B against ``MLPClassifier(solver="lbfgs")``: same
   architecture, alpha, initial weights (same ``random_state``), iteration
   budget (``tol=0``, so both run all ``max_iter`` iterations);
4. mini-batch ``solver="gd"`` against ``MLPClassifier(solver="sgd")`` with the
   same batch size and constant learning rate, no momentum: time per epoch;
5. the peak memory of each L-BFGS fit, each in a fresh subprocess, for every m.

It writes ``results/results.md``, ``results/results.json`` and
``results/results.png`` next to this file.  Usage::

    python benchmarks/run.py            # full run (about 5 minutes, 2 cores)
    python benchmarks/run.py --quick    # smoke run (under a minute)
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

import skbackprop
from skbackprop import BackpropClassifier, init_params
from skbackprop._engine.network import Network

HERE = Path(__file__).resolve().parent
N_FEATURES, HIDDEN, N_CLASSES, ALPHA, SEED = 100, (256, 256), 10, 1e-4, 0
SIZES = (N_FEATURES, *HIDDEN, N_CLASSES)
DTYPES = {"float64": np.float64, "float32": np.float32}

FULL = {
    "gemm_square": 2048,
    "grad_m": [10_000, 40_000, 160_000],
    "grad_min_time": 1.5,
    "fit_m": 40_000,
    "fit_iter": 30,
    "fit_repeats": 2,
    "sgd_m": 40_000,
    "sgd_epochs": 3,
    "sgd_repeats": 3,
    "mem_m": [10_000, 40_000, 160_000],
    "mem_iter": 1,
    "mem_dtypes": ["float64", "float32"],
}
QUICK = {
    "gemm_square": 1024,
    "grad_m": [2_000, 8_000],
    "grad_min_time": 0.2,
    "fit_m": 4_000,
    "fit_iter": 5,
    "fit_repeats": 1,
    "sgd_m": 4_000,
    "sgd_epochs": 2,
    "sgd_repeats": 1,
    "mem_m": [2_000, 8_000],
    "mem_iter": 1,
    "mem_dtypes": ["float64"],
}


# -- helpers -------------------------------------------------------------------
def best_time(f, min_time, min_repeats=3, max_repeats=50):
    """Minimum wall time of ``f()`` over repeats (after one warm-up call)."""
    f()
    times, start = [], time.perf_counter()
    while len(times) < max_repeats and (
        len(times) < min_repeats or time.perf_counter() - start < min_time
    ):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), len(times)


def make_data(m, dtype, n_test=0):
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


def system_info():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = [
        {k: v for k, v in lib.items() if k != "filepath"}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "skbackprop": skbackprop.__version__,
        "blas": blas,
        "load_average_start": os.getloadavg(),
    }


# -- 1. GEMM peak --------------------------------------------------------------
def gemm_gflops(m, k, p, dtype, min_time, parallel=False, rng=None):
    """GFLOP/s of numpy's ``(m x k) @ (k x p)``.

    ``parallel``: one single-threaded product per core at once, the scheme of
    the gradient's row workers (so also a limit for it).
    """
    rng = np.random.default_rng(SEED) if rng is None else rng
    f, flops = gemm_product(m, k, p, dtype, parallel, rng)
    t, _, _ = best_time(f, min_time)
    return flops / t / 1e9


def bench_gemm(cfg):
    n = cfg["gemm_square"]
    shapes = [(4096, 256, 256, False), (4096, 100, 256, False), (n, n, n, False)]
    shapes.append((4096, 256, 256, True))
    rows = []
    for name, dtype in DTYPES.items():
        for m, k, p, par in shapes:
            shape = f"({m}x{k})@({k}x{p})"
            if par:
                shape = f"{os.cpu_count()} x {shape}, 1 BLAS thread each"
            gf = gemm_gflops(m, k, p, dtype, cfg["grad_min_time"] / 2, par)
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


# OpenBLAS's threads spin for about 0.1 s after a multi-threaded call before
# they sleep, on the cores the next timed function needs: each timed call
# starts after this pause, so that none pays for its predecessor's threads.
SETTLE_S = 0.15


def settle():
    """Let BLAS threads woken by earlier calls fall asleep (see SETTLE_S)."""
    time.sleep(SETTLE_S)


def interleaved_best(fns, min_time, min_rounds=3, max_rounds=50):
    """Minimum time of each of ``fns``, run in turns (after one warm-up each).

    Run in turns, every function sees the same changes of load on a shared
    machine, so their ratios are fair even when the load varies.  Each call
    starts on settled cores (:func:`settle`); ``min_time`` counts only the
    timed calls.
    """
    for f in fns:
        f()
    times = [[] for _ in fns]
    while len(times[0]) < max_rounds and (
        len(times[0]) < min_rounds or sum(map(sum, times)) < min_time
    ):
        for f, ts in zip(fns, times, strict=True):
            settle()
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
    return [(min(ts), float(np.median(ts)), len(ts)) for ts in times]


def gemm_reference(dtype, parallel, rng):
    """``(f, flops)``: a (4096x256)@(256x256) GEMM, or one per core at once
    with one BLAS thread each."""
    return gemm_product(4096, 256, 256, dtype, parallel, rng)


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
            # GEMM references measured in turns with the gradients: on a
            # shared machine the load changes during a run.
            refs = [gemm_reference(dtype, par, rng) for par in (False, True)]
            timings = interleaved_best(
                [ours, theirs] + [f for f, _ in refs], cfg["grad_min_time"]
            )
            local = max(
                flops / t[0] / 1e9
                for (_, flops), t in zip(refs, timings[2:], strict=True)
            )
            J = {"skbackprop": ours()[0], "sklearn": theirs()[0]}
            flops = gradient_flops(m)
            for lib, (t, t_med, reps) in zip(J, timings, strict=False):
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


# -- 3. L-BFGS fit -------------------------------------------------------------
class _CountingMLPClassifier(MLPClassifier):
    """scikit-learn's MLP, counting its cost/gradient evaluations."""

    def _loss_grad_lbfgs(self, *args, **kwargs):
        self.n_evals_ = getattr(self, "n_evals_", 0) + 1
        return super()._loss_grad_lbfgs(*args, **kwargs)


def fit_lbfgs(lib, X, y, max_iter):
    common = {"alpha": ALPHA, "max_iter": max_iter, "tol": 0.0, "random_state": 0}
    if lib == "skbackprop":
        est = BackpropClassifier(HIDDEN, solver="L-BFGS-B", **common)
    else:
        est = _CountingMLPClassifier(HIDDEN, solver="lbfgs", **common)
    return est, timed_fit(est, X, y)


def n_evals(est):
    """Cost/gradient evaluations of a fitted L-BFGS estimator."""
    if isinstance(est, BackpropClassifier):
        return int(est.optimize_result_.nfev)
    return est.n_evals_


def timed_fit(est, X, y):
    """Seconds of ``est.fit(X, y)`` (budget-exhaustion warnings expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        settle()
        t = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t


def bench_fit(cfg):
    rows = []
    for name, dtype in DTYPES.items():
        X, y, X_test, y_test = make_data(cfg["fit_m"], dtype, n_test=10_000)
        res, fitted = {}, {}
        # Fits in turns, the fastest of each kept: the same load for both.
        for _ in range(cfg["fit_repeats"]):
            for lib in ("skbackprop", "sklearn"):
                est, t = fit_lbfgs(lib, X, y, cfg["fit_iter"])
                if lib not in fitted or t < fitted[lib][1]:
                    fitted[lib] = est, t
        for lib, (est, t) in fitted.items():
            evals = n_evals(est)
            res[lib] = {
                "lib": lib,
                "dtype": name,
                "m": cfg["fit_m"],
                "max_iter": cfg["fit_iter"],
                "n_iter": int(est.n_iter_),
                "n_evals": evals,
                "seconds": t,
                "seconds_per_eval": t / evals,
                "repeats": cfg["fit_repeats"],
                "loss": float(est.loss_),
                "train_accuracy": float(est.score(X, y)),
                "test_accuracy": float(est.score(X_test, y_test)),
                "coef_dtype": str(est.coefs_[0].dtype),
            }
            r = res[lib]
            print(
                f"fit L-BFGS {lib:10s} {name}: {t:7.2f} s  {r['n_iter']} iter  "
                f"loss={r['loss']:.6f}  test acc={r['test_accuracy']:.4f}"
            )
        ratio = res["sklearn"]["seconds"] / res["skbackprop"]["seconds"]
        rel = res["skbackprop"]["loss"] / res["sklearn"]["loss"] - 1
        # scikit-learn's float32 loss clips probabilities at float32's eps, so
        # its float32 path differs from its float64 one: compare with both.
        sklearn64 = next(
            r["loss"]
            for r in rows + [res["sklearn"]]
            if r["lib"] == "sklearn" and r["dtype"] == "float64"
        )
        for r in res.values():
            r["speedup_vs_sklearn"] = ratio
            r["loss_rel_diff"] = rel
            r["loss_rel_diff_vs_sklearn_float64"] = r["loss"] / sklearn64 - 1
        rows.extend(res.values())
    return rows


# -- 4. mini-batch gradient descent --------------------------------------------
def bench_sgd(cfg, batch_size=200, learning_rate=0.01):
    rows = []
    epochs = cfg["sgd_epochs"]
    common = {
        "alpha": ALPHA,
        "batch_size": batch_size,
        "learning_rate": "constant",
        "learning_rate_init": learning_rate,
        "momentum": 0.0,
        "nesterovs_momentum": False,
        "max_iter": epochs,
        "tol": 0.0,
        "n_iter_no_change": epochs + 1,
        "shuffle": True,
        "random_state": 0,
    }
    for name, dtype in DTYPES.items():
        X, y, _, _ = make_data(cfg["sgd_m"], dtype)
        times = {lib: {} for lib in ("skbackprop", "sklearn")}
        fitted = {}
        # The time per epoch is the difference between a fit of 1 + epochs
        # epochs and one of 1 epoch: set-up costs cancel.  Fits in turns, the
        # fastest of each kept: the same load for both libraries.
        for _ in range(cfg["sgd_repeats"]):
            for lib in times:
                for n_epochs in (1, 1 + epochs):
                    params = {**common, "max_iter": n_epochs}
                    if lib == "skbackprop":
                        est = BackpropClassifier(HIDDEN, solver="gd", **params)
                    else:
                        est = MLPClassifier(HIDDEN, solver="sgd", **params)
                    t = timed_fit(est, X, y)
                    times[lib][n_epochs] = min(t, times[lib].get(n_epochs, np.inf))
                    fitted[lib] = est
        res = {}
        for lib, est in fitted.items():
            per_epoch = (times[lib][1 + epochs] - times[lib][1]) / epochs
            res[lib] = {
                "lib": lib,
                "dtype": name,
                "m": cfg["sgd_m"],
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "epochs": int(est.n_iter_),
                "seconds_per_epoch": per_epoch,
                "seconds_total": times[lib][1 + epochs],
                "loss": float(est.loss_),
            }
            print(
                f"mini-batch {lib:10s} {name}: {per_epoch:6.2f} s/epoch, "
                f"{times[lib][1 + epochs]:6.2f} s for {1 + epochs} epochs, "
                f"loss={est.loss_:.4f}"
            )
        ratio = (
            res["sklearn"]["seconds_per_epoch"] / res["skbackprop"]["seconds_per_epoch"]
        )
        for r in res.values():
            r["speedup_vs_sklearn"] = ratio
        rows.extend(res.values())
    return rows


# -- 5. memory (each fit in a fresh process) -----------------------------------
def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def child(spec):
    """Run one fit and print its memory use as JSON (called in a subprocess)."""
    import resource

    X, y, _, _ = make_data(spec["m"], DTYPES[spec["dtype"]])
    data_mib = (X.nbytes + y.nbytes) / 2**20
    try:  # reset the peak RSS to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    rss_before = _status_kib("VmRSS")
    tracemalloc.start()
    fit_lbfgs(spec["lib"], X, y, spec["max_iter"])
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _status_kib("VmHWM") if reset else None
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                **spec,
                "data_mib": data_mib,
                "rss_before_mib": rss_before / 1024 if rss_before else None,
                "peak_rss_mib": hwm / 1024,
                "rss_increase_mib": (hwm - rss_before) / 1024 if rss_before else None,
                "traced_peak_mib": traced_peak / 2**20,
                "peak_rss_reset": reset,
            }
        )
    )


def bench_memory(cfg):
    rows = []
    for m in cfg["mem_m"]:
        for name in cfg["mem_dtypes"]:
            for lib in ("skbackprop", "sklearn"):
                spec = {"lib": lib, "m": m, "dtype": name, "max_iter": cfg["mem_iter"]}
                out = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(spec)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(r)
                print(
                    f"memory {lib:10s} m={m:6d} {name}: fit allocates "
                    f"{r['traced_peak_mib']:7.1f} MiB (traced), RSS +"
                    f"{r['rss_increase_mib']:7.1f} MiB (data {r['data_mib']:.0f} MiB)"
                )
    return rows


def check_targets(results):
    """The issue's targets, each with the measured value and whether it is met."""
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
    for r in results["fit"]:
        if r["lib"] == "skbackprop":
            want = 2.0 if r["dtype"] == "float64" else 4.0
            # Both make about the same evaluations, which take nearly all of a
            # fit's time: the speed-up wants evaluations `want` times faster
            # than scikit-learn's in its fit, i.e. this gradient throughput.
            theirs = next(
                f
                for f in results["fit"]
                if f["lib"] == "sklearn" and f["dtype"] == r["dtype"]
            )
            needed = gradient_flops(r["m"]) / (theirs["seconds_per_eval"] / want)
            needed /= 1e9
            checks.append(
                (
                    f"L-BFGS fit >= {want:g}x faster than sklearn, {r['dtype']}",
                    f"{r['speedup_vs_sklearn']:.2f}x ({r['n_evals']} vs "
                    f"{theirs['n_evals']} evaluations; {want:g}x needs "
                    f"{needed:.0f} GFLOP/s per evaluation, "
                    f"{needed / results['peak'][r['dtype']]:.0%} of the peak)",
                    r["speedup_vs_sklearn"] >= want,
                )
            )
            checks.append(
                (
                    f"final loss within 1% of sklearn's, {r['dtype']}",
                    f"{r['loss_rel_diff']:+.2%}",
                    abs(r["loss_rel_diff"]) <= 0.01,
                )
            )
            if r["dtype"] != "float64":
                checks.append(
                    (
                        f"final loss within 1% of sklearn's float64 fit, {r['dtype']}",
                        f"{r['loss_rel_diff_vs_sklearn_float64']:+.2%}",
                        abs(r["loss_rel_diff_vs_sklearn_float64"]) <= 0.01,
                    )
                )
    mem = results["memory"]
    for name in DTYPES:
        ours = sorted(
            (r for r in mem if r["lib"] == "skbackprop" and r["dtype"] == name),
            key=lambda r: r["m"],
        )
        theirs = {
            r["m"]: r for r in mem if r["lib"] == "sklearn" and r["dtype"] == name
        }
        if len(ours) < 2:
            continue
        lo, hi = ours[0], ours[-1]
        # tracemalloc starts after the data are made: the peaks exclude them.
        extra = [r["traced_peak_mib"] for r in (lo, hi)]
        per_row = (extra[1] - extra[0]) * 2**20 / (hi["m"] - lo["m"])
        checks.append(
            (
                f"fit memory beyond the data independent of m, {name}: "
                f"allocated during fit at m={lo['m']} -> m={hi['m']}",
                f"{extra[0]:.0f} -> {extra[1]:.0f} MiB ({per_row:.0f} B per "
                f"extra row; the data take {hi['data_mib'] * 2**20 / hi['m']:.0f})",
                None,
            )
        )
        worse = [
            r["m"]
            for r in ours
            if r["traced_peak_mib"] > theirs[r["m"]]["traced_peak_mib"]
        ]
        checks.append(
            (
                f"fit memory at most sklearn's, {name}",
                "yes" if not worse else f"more at m={worse}",
                not worse,
            )
        )
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
    return [{"target": t, "measured": v, "met": ok} for t, v, ok in checks]


def _fmt(row, key, spec, suffix=""):
    """``row[key]`` formatted on skbackprop's rows, empty on scikit-learn's."""
    return format(row[key], spec) + suffix if row["lib"] == "skbackprop" else ""


# -- report --------------------------------------------------------------------
def markdown(results):
    info, cfg = results["system"], results["config"]
    blas = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads, "
        f"{b.get('architecture')})"
        for b in info["blas"]
    )
    out = [
        "# skbackprop benchmark",
        "",
        f"- Date: {info['date']}{' (quick run)' if results['quick'] else ''}",
        f"- Machine: {info['cpu']}, {info['cores']} cores; load average "
        f"{info['load_average_start'][0]:.2f} at start, "
        f"{info['load_average_end'][0]:.2f} at end",
        f"- Python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"scikit-learn {info['sklearn']}, skbackprop {info['skbackprop']}",
        f"- BLAS: {blas}",
        f"- Network: {N_FEATURES} features, hidden {HIDDEN}, {N_CLASSES} classes, "
        f"ReLU, softmax + log-loss, alpha={ALPHA}; synthetic make_classification data",
        f"- Total run time: {results['total_seconds']:.0f} s",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(
            f"| {c['target']} | {c['measured']} | "
            f"{ {True: 'yes', False: '**no**', None: 'see value'}[c['met']] } |"
            for c in results["targets"]
        ),
        "",
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
    out += [
        "",
        f"## fit: L-BFGS-B, m={cfg['fit_m']}, max_iter={cfg['fit_iter']}, tol=0",
        "",
        "Same architecture, alpha, initial weights (random_state=0) and iteration "
        f"budget.  The faster of {cfg.get('fit_repeats', 1)} fit(s) of each, run in "
        "turns.  "
        "Test accuracy on 10,000 held-out rows.",
        "",
        "| dtype | library | seconds | iterations | evaluations | s / eval "
        "| final loss | train acc "
        "| test acc | weights | sklearn / skbackprop | loss diff |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results["fit"]:
        out.append(
            f"| {r['dtype']} | {r['lib']} | {r['seconds']:.2f} | {r['n_iter']} | "
            f"{r['n_evals']} | {r['seconds_per_eval']:.3f} | "
            f"{r['loss']:.6f} | {r['train_accuracy']:.4f} | "
            f"{r['test_accuracy']:.4f} | {r['coef_dtype']} | "
            f"{_fmt(r, 'speedup_vs_sklearn', '.2f', 'x')} | "
            f"{_fmt(r, 'loss_rel_diff', '+.2%')} |"
        )
    sgd = results["sgd"]
    out += [
        "",
        f"## Mini-batch: solver='gd' vs sklearn solver='sgd', m={cfg['sgd_m']}, "
        f"batch {sgd[0]['batch_size']}, constant learning rate, no momentum",
        "",
        "Seconds per epoch: (time of a fit of 1 + n epochs - time of a fit of "
        f"1 epoch) / n, each the fastest of {cfg['sgd_repeats']} run in turns.  "
        "The penalty differs: skbackprop scales alpha by the "
        "batch's share of the data (unbiased for the full-batch gradient), "
        "scikit-learn does not.",
        "",
        "| dtype | library | s / epoch | total s | epochs | final loss "
        "| sklearn / skbackprop |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in sgd:
        out.append(
            f"| {r['dtype']} | {r['lib']} | {r['seconds_per_epoch']:.2f} | "
            f"{r['seconds_total']:.2f} | {r['epochs']} | {r['loss']:.4f} | "
            f"{_fmt(r, 'speedup_vs_sklearn', '.2f', 'x')} |"
        )
    out += [
        "",
        f"## Peak memory of an L-BFGS fit (max_iter={cfg['mem_iter']}), "
        "each in a fresh process",
        "",
        "`traced`: peak of numpy/Python allocations during fit, the data "
        "excluded (tracemalloc); "
        "`RSS +`: peak resident memory during fit minus the resident memory "
        "before it (the data included).",
        "",
        "| m | dtype | library | data MiB | traced MiB | RSS + MiB |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for r in results["memory"]:
        out.append(
            f"| {r['m']} | {r['dtype']} | {r['lib']} | {r['data_mib']:.1f} | "
            f"{r['traced_peak_mib']:.1f} | {r['rss_increase_mib']:.1f} |"
        )
    return "\n".join(out) + "\n"


DTYPE_COLORS = (("float64", "C0"), ("float32", "C1"))
LIB_STYLES = (("skbackprop", "o-"), ("sklearn", "s--"))


def _plot_against_m(ax, rows, key):
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


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    _plot_against_m(ax, results["gradient"], "gflops")
    for name, color in DTYPE_COLORS:
        ax.axhline(results["peak"][name], color=color, lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("rows m")
    ax.set_ylabel("GFLOP/s (dotted: GEMM peak)")
    ax.set_title("Gradient evaluation")
    ax.legend(fontsize=8)

    ax = axes[1]
    labels, ours, theirs = [], [], []
    for name in DTYPES:
        for kind, rows, key in (
            ("L-BFGS fit", results["fit"], "seconds"),
            ("epoch (mini-batch)", results["sgd"], "seconds_per_epoch"),
        ):
            labels.append(f"{kind}\n{name}")
            ours.append(
                next(
                    r[key]
                    for r in rows
                    if r["lib"] == "skbackprop" and r["dtype"] == name
                )
            )
            theirs.append(
                next(
                    r[key] for r in rows if r["lib"] == "sklearn" and r["dtype"] == name
                )
            )
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ours, 0.4, label="skbackprop")
    ax.bar(x + 0.2, theirs, 0.4, label="sklearn")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title("Training time")
    ax.legend(fontsize=8)

    ax = axes[2]
    _plot_against_m(ax, results["memory"], "traced_peak_mib")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows m")
    ax.set_ylabel("MiB allocated during fit (peak)")
    ax.set_title("Peak memory of an L-BFGS fit")
    ax.legend(fontsize=8)
    fig.suptitle(
        f"{results['system']['cpu']}, {results['system']['cores']} cores, "
        f"{results['system']['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out", default=str(HERE / "results"), help="output dir")
    parser.add_argument(
        "--from-json", help="rewrite the table and plot from a results.json"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        results["targets"] = check_targets(results)
        write(results, Path(args.out))
        return
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    results = {"quick": args.quick, "config": cfg, "system": system_info()}
    results["gemm"] = bench_gemm(cfg)
    results["gradient"] = bench_gradient(cfg)
    # The peak: the best GEMM of the whole run, the ones measured alongside
    # the gradients included.
    results["peak"] = {
        name: max(
            [r["gflops"] for r in results["gemm"] if r["dtype"] == name]
            + [r["gemm_alongside"] for r in results["gradient"] if r["dtype"] == name]
        )
        for name in DTYPES
    }
    for r in results["gradient"]:
        r["fraction_of_peak"] = r["gflops"] / results["peak"][r["dtype"]]
    results["fit"] = bench_fit(cfg)
    results["sgd"] = bench_sgd(cfg)
    results["memory"] = bench_memory(cfg)
    results["system"]["load_average_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - start
    results["targets"] = check_targets(results)
    write(results, Path(args.out))


def write(results, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown(results))
    plot(results, out / "results.png")
    print(markdown(results))
    print(f"Wrote {out / 'results.md'}, results.json and results.png")


if __name__ == "__main__":
    main()
