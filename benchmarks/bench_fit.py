"""Training time against scikit-learn's MLP on the suite's large network.

3. ``fit`` with L-BFGS-B against ``MLPClassifier(solver="lbfgs")``: same
   architecture, alpha, initial weights (same ``random_state``), iteration
   budget (``tol=0``, so both run all ``max_iter`` iterations);
4. mini-batch ``solver="gd"`` against ``MLPClassifier(solver="sgd")`` with the
   same batch size and constant learning rate, no momentum: time per epoch.

Part of ``run.py``'s suite, which writes the results; run alone it prints
its tables::

    python benchmarks/bench_fit.py [--quick]
"""

import argparse

import numpy as np
from sklearn.neural_network import MLPClassifier

from skbackprop import BackpropClassifier

from _common import CountingMLPClassifier, fit_quietly, interleaved_best
from bench_gradient import ALPHA, DTYPES, HIDDEN, gradient_flops, make_data

FULL = {
    "fit_m": 40_000,
    "fit_iter": 30,
    "fit_repeats": 2,
    "sgd_m": 40_000,
    "sgd_epochs": 3,
    "sgd_repeats": 3,
}
QUICK = {
    "fit_m": 4_000,
    "fit_iter": 5,
    "fit_repeats": 1,
    "sgd_m": 4_000,
    "sgd_epochs": 2,
    "sgd_repeats": 1,
}


# -- 3. L-BFGS fit -------------------------------------------------------------
def lbfgs_estimator(lib, max_iter):
    """The suite's L-BFGS estimator of ``lib``; scikit-learn's counts its
    evaluations."""
    common = {"alpha": ALPHA, "max_iter": max_iter, "tol": 0.0, "random_state": 0}
    if lib == "skbackprop":
        return BackpropClassifier(HIDDEN, solver="L-BFGS-B", **common)
    return CountingMLPClassifier(HIDDEN, solver="lbfgs", **common)


def n_evals(est):
    """Cost/gradient evaluations of a fitted L-BFGS estimator."""
    if isinstance(est, BackpropClassifier):
        return int(est.optimize_result_.nfev)
    return est.n_evals_


def bench_fit(cfg):
    rows = []
    for name, dtype in DTYPES.items():
        X, y, X_test, y_test = make_data(cfg["fit_m"], dtype, n_test=10_000)
        libs = ("skbackprop", "sklearn")
        # Fits in turns, the fastest of each kept: the same load for both.
        timings = interleaved_best(
            [
                lambda lib=lib, X=X, y=y: fit_quietly(
                    lbfgs_estimator(lib, cfg["fit_iter"]), X, y
                )
                for lib in libs
            ],
            min_rounds=cfg["fit_repeats"],
            max_rounds=cfg["fit_repeats"],
            warmup=False,
        )
        res = {}
        for lib, (t, _, _, est) in zip(libs, timings, strict=True):
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

    def fit(lib, n_epochs, X, y):
        params = {**common, "max_iter": n_epochs}
        if lib == "skbackprop":
            est = BackpropClassifier(HIDDEN, solver="gd", **params)
        else:
            est = MLPClassifier(HIDDEN, solver="sgd", **params)
        return fit_quietly(est, X, y)

    for name, dtype in DTYPES.items():
        X, y, _, _ = make_data(cfg["sgd_m"], dtype)
        # The time per epoch is the difference between a fit of 1 + epochs
        # epochs and one of 1 epoch: set-up costs cancel.  Fits in turns, the
        # fastest of each kept: the same load for both libraries.
        cases = [(lib, n) for lib in ("skbackprop", "sklearn") for n in (1, 1 + epochs)]
        timings = dict(
            zip(
                cases,
                interleaved_best(
                    [lambda c=c, X=X, y=y: fit(*c, X, y) for c in cases],
                    min_rounds=cfg["sgd_repeats"],
                    max_rounds=cfg["sgd_repeats"],
                    warmup=False,
                ),
                strict=True,
            )
        )
        res = {}
        for lib in ("skbackprop", "sklearn"):
            long, short = timings[lib, 1 + epochs], timings[lib, 1]
            est = long.value
            per_epoch = (long.best - short.best) / epochs
            res[lib] = {
                "lib": lib,
                "dtype": name,
                "m": cfg["sgd_m"],
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "epochs": int(est.n_iter_),
                "seconds_per_epoch": per_epoch,
                "seconds_total": long.best,
                "loss": float(est.loss_),
            }
            print(
                f"mini-batch {lib:10s} {name}: {per_epoch:6.2f} s/epoch, "
                f"{long.best:6.2f} s for {1 + epochs} epochs, "
                f"loss={est.loss_:.4f}"
            )
        ratio = (
            res["sklearn"]["seconds_per_epoch"] / res["skbackprop"]["seconds_per_epoch"]
        )
        for r in res.values():
            r["speedup_vs_sklearn"] = ratio
        rows.extend(res.values())
    return rows


def run(cfg):
    """The L-BFGS and mini-batch results of ``cfg`` (keys of :data:`FULL`)."""
    return {"fit": bench_fit(cfg), "sgd": bench_sgd(cfg)}


# -- report --------------------------------------------------------------------
def targets(results):
    """``(target, measured, met)``: L-BFGS fits >= 2x (float64) and 4x
    (float32) faster than scikit-learn, final losses within 1%."""
    checks = []
    for r in results["fit"]:
        if r["lib"] != "skbackprop":
            continue
        want = 2.0 if r["dtype"] == "float64" else 4.0
        theirs = next(
            f
            for f in results["fit"]
            if f["lib"] == "sklearn" and f["dtype"] == r["dtype"]
        )
        measured = (
            f"{r['speedup_vs_sklearn']:.2f}x ({r['n_evals']} vs "
            f"{theirs['n_evals']} evaluations"
        )
        if "peak" in results:
            # Both make about the same evaluations, which take nearly all of
            # a fit's time: the speed-up wants evaluations `want` times
            # faster than scikit-learn's in its fit, i.e. this throughput.
            needed = gradient_flops(r["m"]) / (theirs["seconds_per_eval"] / want)
            needed /= 1e9
            measured += (
                f"; {want:g}x needs {needed:.0f} GFLOP/s per evaluation, "
                f"{needed / results['peak'][r['dtype']]:.0%} of the peak"
            )
        checks.append(
            (
                f"L-BFGS fit >= {want:g}x faster than sklearn, {r['dtype']}",
                measured + ")",
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
    return checks


def _fmt(row, key, spec, suffix=""):
    """``row[key]`` formatted on skbackprop's rows, empty on scikit-learn's."""
    return format(row[key], spec) + suffix if row["lib"] == "skbackprop" else ""


def markdown(results, cfg):
    """The L-BFGS and mini-batch sections of ``results.md``."""
    out = [
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
    return out


def plot(ax, results):
    """Bars: L-BFGS fit and mini-batch epoch times of both libraries."""
    labels, ours, theirs = [], [], []
    for name in DTYPES:
        for kind, rows, key in (
            ("L-BFGS fit", results["fit"], "seconds"),
            ("epoch (mini-batch)", results["sgd"], "seconds_per_epoch"),
        ):
            labels.append(f"{kind}\n{name}")
            by_lib = {r["lib"]: r[key] for r in rows if r["dtype"] == name}
            ours.append(by_lib["skbackprop"])
            theirs.append(by_lib["sklearn"])
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ours, 0.4, label="skbackprop")
    ax.bar(x + 0.2, theirs, 0.4, label="sklearn")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title("Training time")
    ax.legend(fontsize=8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    results = run(cfg)
    print("\n".join(markdown(results, cfg)))
    for target, measured, met in targets(results):
        print(f"{target}: {measured} ({'met' if met else 'not met'})")


if __name__ == "__main__":
    main()
