"""alpha="evidence", alpha="ard" and return_std: accuracy, error bars and cost.

Measures, on two regression problems of a few hundred rows (a noisy 1-D
function and Friedman #1, both with known noise), over several seeds:

* the test error of ``alpha="evidence"`` (and of ``alpha="ard"``) against
  the best alpha of a 15-point log grid chosen by test error (an oracle)
  and against ``GridSearchCV`` (5-fold) over the same grid, with their fit
  times;
* ``noise_variance_`` against the true noise variance, and the coverage of
  held-out points by the 95% predictive intervals of
  ``predict(X, return_std=True)``;
* the outer loop with different inner solvers: ``L-BFGS-B`` refitted to
  convergence, ``L-BFGS-B`` cut to 20 iterations (re-estimating every 20
  iterations, as ``trainbr`` re-estimates every Levenberg-Marquardt step),
  and ``lm``;
* the stochastic estimates (Hutchinson, stochastic Lanczos quadrature)
  against the exact values, on networks where both run;
* the cost of one exact re-estimation against the network's size, and the
  cost the last-layer posterior adds to a fit with a float alpha.

BLAS runs on one thread (the machine is shared); every time is the best of
``--repeats`` runs, and time ratios are measured side by side in one
process.  Run ``python benchmarks/bench_evidence.py`` (about 10 minutes on
an idle 2-core machine); it writes ``benchmarks/results/evidence.{md,json}``.
"""

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

import skbackprop._base
import skbackprop._training.evidence as evidence
import skbackprop._training.evidence_terms as evidence_terms
from skbackprop import BackpropRegressor
from skbackprop._engine.network import Network
from skbackprop._training.objective import InMemoryObjective

RESULTS = Path(__file__).parent / "results"
GRID = np.logspace(-5, 2, 15)
Z95 = 1.959963984540054


def sine(seed, n_train=200, n_test=2000, noise=0.2):
    """``sin(2x) + 0.3 x`` on ``[-3, 3]`` plus Gaussian noise."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n_train + n_test, 1))
    y = np.sin(2 * X[:, 0]) + 0.3 * X[:, 0] + noise * rng.randn(len(X))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], noise**2


def friedman(seed, n_train=300, n_test=2000, noise=1.0):
    """Friedman #1 (10 inputs, 5 relevant), inputs and targets standardized
    on the training rows; the noise variance in the standardized units."""
    X, y = make_friedman1(n_train + n_test, noise=noise, random_state=seed)
    mu, sd = X[:n_train].mean(0), X[:n_train].std(0)
    X = (X - mu) / sd
    y_mu, y_sd = y[:n_train].mean(), y[:n_train].std()
    y = (y - y_mu) / y_sd
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], (noise / y_sd) ** 2


PROBLEMS = {
    "noisy sine (1-10-1)": (sine, (10,)),
    "Friedman #1 (10-10-1)": (friedman, (10,)),
}


def timed(repeats, fn, *args, **kwargs):
    """``(best time, last result)`` of ``repeats`` calls ``fn(*args, **kwargs)``."""
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, out


def fit(X, y, hidden, seed, **kwargs):
    return regressor(hidden, seed, **kwargs).fit(X, y)


def mse(est, X, y):
    return float(np.mean((est.predict(X) - y) ** 2))


def regressor(hidden, seed, **kwargs):
    kwargs.setdefault("max_iter", 500)
    return BackpropRegressor(hidden, "tanh", random_state=seed, **kwargs)


# The inner solvers of the main table: the default, and Levenberg-Marquardt
# (MATLAB's trainbr), which forms the same Gauss-Newton matrix.
INNER = {"L-BFGS-B": {}, "lm": {"solver": "lm", "max_iter": 100}}


# Restarts of the evidence fit from different initial weights, the one with
# the largest evidence kept (MacKay 1992b).
N_RESTARTS = 5


def _evidence_fits(X, y, hidden, seed, repeats, kwargs):
    """``{strategy: (time, fitted)}``: one fit, the best evidence of
    ``N_RESTARTS`` (time: all of them), and one ``alpha="ard"`` fit."""
    one = timed(repeats, fit, X, y, hidden, seed, alpha="evidence", **kwargs)
    restarts = [
        timed(1, fit, X, y, hidden, 1000 + 10 * seed + r, alpha="evidence", **kwargs)
        for r in range(N_RESTARTS)
    ]
    best = max(restarts, key=lambda tf: tf[1].evidence_curve_[-1])
    ard = timed(repeats, fit, X, y, hidden, seed, alpha="ard", **kwargs)
    return {
        "one fit": one,
        f"best evidence of {N_RESTARTS}": (sum(t for t, _ in restarts), best[1]),
        'alpha="ard", one fit': ard,
    }, [f for _, f in restarts]


def targets(seeds, repeats):
    """Per problem, seed and solver: the evidence against that solver's grid."""
    rows = []
    for name, (make, hidden) in PROBLEMS.items():
        for seed in seeds:
            X, y, X_test, y_test, noise = make(seed)
            new = []
            for inner, kwargs in INNER.items():
                fits = [
                    timed(repeats, fit, X, y, hidden, seed, alpha=a, **kwargs)
                    for a in GRID
                ]
                errors = [mse(g, X_test, y_test) for _, g in fits]
                start = time.perf_counter()
                search = GridSearchCV(
                    regressor(hidden, seed, **kwargs), {"alpha": GRID}, cv=5
                ).fit(X, y)
                t_cv = time.perf_counter() - start
                evidence_fits, restarts = _evidence_fits(
                    X, y, hidden, seed, repeats, kwargs
                )
                # Does a larger evidence go with a lower test error?
                correlation = float(
                    np.corrcoef(
                        [f.evidence_curve_[-1] for f in restarts],
                        [mse(f, X_test, y_test) for f in restarts],
                    )[0, 1]
                )
                for strategy, (t_ev, ev) in evidence_fits.items():
                    mean, std = ev.predict(X_test, return_std=True)
                    new.append(
                        {
                            "problem": name,
                            "inner": inner,
                            "strategy": strategy,
                            "seed": seed,
                            "evidence_mse": mse(ev, X_test, y_test),
                            "oracle_mse": min(errors),
                            "oracle_alpha": float(GRID[int(np.argmin(errors))]),
                            "cv_mse": mse(search.best_estimator_, X_test, y_test),
                            "cv_alpha": float(search.best_params_["alpha"]),
                            "evidence_alpha": np.asarray(ev.alpha_).tolist(),
                            "log_evidence": ev.evidence_curve_[-1],
                            "restart_correlation": correlation,
                            "noise_ratio": float(ev.noise_variance_ / noise),
                            "coverage_95": float(
                                np.mean(np.abs(y_test - mean) <= Z95 * std)
                            ),
                            "n_effective": ev.n_effective_params_,
                            "n_params": int(
                                sum(c.size for c in ev.coefs_ + ev.intercepts_)
                            ),
                            "outer": len(ev.evidence_curve_),
                            "inner_iterations": ev.n_iter_,
                            "evidence_time": t_ev,
                            "grid_time": sum(t for t, _ in fits),
                            "cv_time": t_cv,
                        }
                    )
            best = min(row["oracle_mse"] for row in new)
            for row in new:
                row["oracle_both_mse"] = best
                rows.append(row)
                print({k: v for k, v in row.items() if k != "problem"})
    return rows


def inner_solvers(seeds, repeats):
    steps = evidence.ARD_STEPS
    variants = [
        ("L-BFGS-B to convergence (max_iter=500)", {"max_iter": 500}, steps),
        ("L-BFGS-B, 20 iterations per re-estimate", {"max_iter": 20}, steps),
        ("lm (max_iter=100)", {"solver": "lm", "max_iter": 100}, steps),
        (
            f'alpha="ard": L-BFGS-B, {steps} iterations per re-estimate (default)',
            {"alpha": "ard", "max_iter": 500},
            steps,
        ),
        (
            'alpha="ard": L-BFGS-B to convergence (max_iter=500)',
            {"alpha": "ard", "max_iter": 500},
            10**9,
        ),
    ]
    rows = []
    for name, (make, hidden) in PROBLEMS.items():
        for label, kwargs, ard_steps in variants:
            runs = []
            kwargs = {"alpha": "evidence", **kwargs}
            for seed in seeds:
                X, y, X_test, y_test, noise = make(seed)
                evidence.ARD_STEPS = ard_steps
                try:
                    t, ev = timed(repeats, fit, X, y, hidden, seed, **kwargs)
                finally:
                    evidence.ARD_STEPS = steps
                runs.append(
                    (t, len(ev.evidence_curve_), ev.n_iter_, mse(ev, X_test, y_test))
                )
            t, outer, inner, err = np.mean(runs, axis=0)
            rows.append(
                {
                    "problem": name,
                    "inner solver": label,
                    "time": t,
                    "outer": outer,
                    "inner": inner,
                    "test_mse": err,
                }
            )
            print(rows[-1])
    return rows


def _theta(est):
    return np.concatenate([c.ravel() for c in est.coefs_] + est.intercepts_)


def stochastic_accuracy(n_probe_seeds):
    X, y, *_ = friedman(0, n_train=400)
    Xd, yd = load_digits(return_X_y=True)
    Xd, yd = Xd / 16, (yd - yd.mean()) / yd.std()
    cases = [
        ("Friedman #1, 10-10-1", X, y, (10,)),
        ("Friedman #1, 10-50-1", X, y, (50,)),
        ("digits as regression, 64-20-1", Xd, yd, (20,)),
    ]
    rows = []
    for name, X, y, hidden in cases:
        est = regressor(hidden, 0, alpha="evidence").fit(X, y)
        net = Network((X.shape[1], *hidden, 1), "tanh", "squared_error")
        objective = InMemoryObjective(net, X, y[:, None], None, est.alpha_)
        theta = _theta(est)
        t_exact, exact = timed(
            1, evidence.reestimate, objective, theta, evidence_terms.Exact()
        )
        errors, log_ev, times = [], [], []
        for seed in range(n_probe_seeds):
            curvature = evidence_terms.Stochastic(
                np.random.RandomState(seed), net.n_params
            )
            t, got = timed(1, evidence.reestimate, objective, theta, curvature)
            errors.append(got.gamma / exact.gamma - 1)
            log_ev.append(got.log_evidence - exact.log_evidence)
            times.append(t)
        rows.append(
            {
                "network": name,
                "n_params": net.n_params,
                "gamma": exact.gamma,
                "gamma_rel_error_max": float(np.max(np.abs(errors))),
                "gamma_rel_error_rms": float(np.sqrt(np.mean(np.square(errors)))),
                "log_evidence": exact.log_evidence,
                "log_evidence_error_rms": float(np.sqrt(np.mean(np.square(log_ev)))),
                "exact_time": t_exact,
                "stochastic_time": float(np.mean(times)),
            }
        )
        print(rows[-1])
    return rows


def exact_cost(repeats):
    """One exact re-estimation (G, Cholesky, trace) against one gradient."""
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 20)
    y = np.sin(X[:, 0]) + 0.1 * rng.randn(1000)
    rows = []
    for hidden in [(10,), (25,), (50,), (100,), (200,)]:
        net = Network((20, *hidden, 1), "tanh", "squared_error")
        objective = InMemoryObjective(net, X, y[:, None], None, 0.1)
        theta = np.random.RandomState(1).randn(net.n_params) * 0.3
        t_grad, _ = timed(5 * repeats, objective.cost_grad, theta)
        t_re, _ = timed(
            repeats, evidence.reestimate, objective, theta, evidence_terms.Exact()
        )
        rows.append(
            {
                "n_params": net.n_params,
                "gradient_time": t_grad,
                "reestimate_time": t_re,
                "ratio": t_re / t_grad,
            }
        )
        print(rows[-1])
    return rows


def posterior_overhead(repeats):
    """The time of the last-layer posterior inside a fit with a float alpha,
    against the rest of the fit (best of ``repeats`` fits)."""
    rows = []
    original = skbackprop._base.fit_posterior
    spent = []

    def timed_posterior(*args):
        start = time.perf_counter()
        original(*args)
        spent.append(time.perf_counter() - start)

    skbackprop._base.fit_posterior = timed_posterior
    try:
        for m, hidden in [(1000, (100,)), (5000, (100,)), (2000, (50, 50))]:
            X, y = make_friedman1(m, noise=1.0, random_state=0)
            best = (np.inf, np.inf)
            for _ in range(repeats):
                start = time.perf_counter()
                BackpropRegressor(hidden, random_state=0).fit(X, y)
                total = time.perf_counter() - start
                best = min(best, (total, spent[-1]))
            total, posterior = best
            rows.append(
                {
                    "fit": f"{m} x 10, hidden {hidden}",
                    "fit_time": total,
                    "posterior_time": posterior,
                    "overhead": posterior / (total - posterior),
                }
            )
            print(rows[-1])
    finally:
        skbackprop._base.fit_posterior = original
    return rows


def _table(rows, columns):
    head = "| " + " | ".join(title for title, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(row) for _, fmt in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _summaries(rows):
    out = []
    strategies = list(dict.fromkeys(row["strategy"] for row in rows))
    for name, inner, strategy in [
        (p, i, st) for p in PROBLEMS for i in INNER for st in strategies
    ]:
        r = [
            row
            for row in rows
            if (row["problem"], row["inner"], row["strategy"])
            == (name, inner, strategy)
        ]

        def med(key, r=r):
            return float(np.median([row[key] for row in r]))

        out.append(
            {
                "problem": name,
                "inner": inner,
                "strategy": strategy,
                "seeds": len(r),
                "ratio_oracle": float(
                    np.median([x["evidence_mse"] / x["oracle_mse"] for x in r])
                ),
                "ratio_oracle_max": float(
                    np.max([x["evidence_mse"] / x["oracle_mse"] for x in r])
                ),
                "ratio_cv": float(
                    np.median([x["evidence_mse"] / x["cv_mse"] for x in r])
                ),
                "ratio_both": float(
                    np.median([x["evidence_mse"] / x["oracle_both_mse"] for x in r])
                ),
                "noise_ratio": med("noise_ratio"),
                "noise_range": (
                    min(x["noise_ratio"] for x in r),
                    max(x["noise_ratio"] for x in r),
                ),
                "coverage": med("coverage_95"),
                "coverage_range": (
                    min(x["coverage_95"] for x in r),
                    max(x["coverage_95"] for x in r),
                ),
                "evidence_time": med("evidence_time"),
                "grid_time": med("grid_time"),
                "cv_time": med("cv_time"),
                "outer": med("outer"),
                "correlation": (
                    min(x["restart_correlation"] for x in r),
                    max(x["restart_correlation"] for x in r),
                ),
            }
        )
    return out


def write(results):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "evidence.json").write_text(json.dumps(results, indent=1))
    summary = _summaries(results["targets"])
    lines = [
        '# alpha="evidence", alpha="ard" and return_std',
        "",
        f"{results['machine']}; BLAS on one thread; `python "
        "benchmarks/bench_evidence.py`.",
        "",
        f"## Test error, noise and error bars (median over {len(results['seeds'])} "
        "seeds)",
        "",
        'Test MSE of `alpha="evidence"` (and `"ard"`) over that of the best '
        "alpha of a 15-point log grid (1e-5 to 1e2) chosen by test error (an "
        "oracle) and over that of `GridSearchCV` (5-fold) on the same grid, "
        "both with the same solver, and over the better of the two solvers' "
        "oracles; fit times (best of "
        f"{results['repeats']} for the evidence and each grid fit, one run of "
        "GridSearchCV's 76 fits); `noise_variance_` over the true noise "
        "variance; share of 2000 held-out points inside the 95% predictive "
        "interval `mean +- 1.96 std`.  `one fit`: the evidence fit from the "
        "grid's initial weights; `best evidence of 5`: five evidence fits from "
        "other initial weights, the one with the largest final log evidence "
        'kept (its time: all five); `alpha="ard", one fit`: one penalty per '
        "input and for the output layer, from the grid's initial weights.",
        "",
        _table(
            summary,
            [
                ("problem", lambda r: r["problem"]),
                ("solver", lambda r: r["inner"]),
                ("evidence fits", lambda r: r["strategy"]),
                (
                    "MSE / oracle (max)",
                    lambda r: f"{r['ratio_oracle']:.2f} ({r['ratio_oracle_max']:.2f})",
                ),
                ("MSE / GridSearchCV", lambda r: f"{r['ratio_cv']:.2f}"),
                ("MSE / oracle of both solvers", lambda r: f"{r['ratio_both']:.2f}"),
                (
                    "noise / true (range)",
                    lambda r: (
                        f"{r['noise_ratio']:.2f} "
                        f"({r['noise_range'][0]:.2f}-{r['noise_range'][1]:.2f})"
                    ),
                ),
                (
                    "95% coverage (range)",
                    lambda r: (
                        f"{r['coverage']:.1%} "
                        f"({r['coverage_range'][0]:.1%}-{r['coverage_range'][1]:.1%})"
                    ),
                ),
                ("outer iterations", lambda r: f"{r['outer']:.0f}"),
                (
                    "corr(evidence, test MSE) over the 5",
                    lambda r: f"{r['correlation'][0]:.2f} to {r['correlation'][1]:.2f}",
                ),
                ("evidence fit (s)", lambda r: f"{r['evidence_time']:.2f}"),
                ("15 fits (s)", lambda r: f"{r['grid_time']:.2f}"),
                ("GridSearchCV (s)", lambda r: f"{r['cv_time']:.2f}"),
            ],
        ),
        "",
        "## Inner solvers (mean over seeds)",
        "",
        "Refitting to convergence at each alpha, against re-estimating every 20 "
        "iterations (as MATLAB's trainbr re-estimates every Levenberg-Marquardt "
        'step); and the same choice for `alpha="ard"`.',
        "",
        _table(
            results["inner_solvers"],
            [
                ("problem", lambda r: r["problem"]),
                ("inner solver", lambda r: r["inner solver"]),
                ("time (s)", lambda r: f"{r['time']:.2f}"),
                ("outer iterations", lambda r: f"{r['outer']:.1f}"),
                ("inner iterations", lambda r: f"{r['inner']:.0f}"),
                ("test MSE", lambda r: f"{r['test_mse']:.4f}"),
            ],
        ),
        "",
        "## Stochastic estimates against the exact values",
        "",
        f"{evidence_terms.N_PROBES} Rademacher probes, conjugate gradients to "
        f"{evidence_terms.CG_RTOL:g}; errors over {results['probe_seeds']} probe "
        "seeds, at "
        'the fitted parameters of an `alpha="evidence"` fit.',
        "",
        _table(
            results["stochastic"],
            [
                ("network", lambda r: r["network"]),
                ("parameters", lambda r: str(r["n_params"])),
                ("gamma", lambda r: f"{r['gamma']:.1f}"),
                (
                    "gamma rel. error rms (max)",
                    lambda r: (
                        f"{r['gamma_rel_error_rms']:.2%}"
                        f" ({r['gamma_rel_error_max']:.2%})"
                    ),
                ),
                ("log evidence", lambda r: f"{r['log_evidence']:.1f}"),
                ("its error rms", lambda r: f"{r['log_evidence_error_rms']:.1f}"),
                ("exact (s)", lambda r: f"{r['exact_time']:.3f}"),
                ("stochastic (s)", lambda r: f"{r['stochastic_time']:.2f}"),
            ],
        ),
        "",
        "## One exact re-estimation against one gradient (1000 rows, 20 inputs)",
        "",
        _table(
            results["exact_cost"],
            [
                ("parameters", lambda r: str(r["n_params"])),
                ("gradient (ms)", lambda r: f"{1e3 * r['gradient_time']:.2f}"),
                ("re-estimation (ms)", lambda r: f"{1e3 * r['reestimate_time']:.1f}"),
                ("ratio", lambda r: f"{r['ratio']:.0f}"),
            ],
        ),
        "",
        "## Cost of the last-layer posterior in a float-alpha fit (relu, default "
        "settings)",
        "",
        _table(
            results["posterior_overhead"],
            [
                ("fit", lambda r: r["fit"]),
                ("fit (s)", lambda r: f"{r['fit_time']:.3f}"),
                (
                    "of which the posterior (ms)",
                    lambda r: f"{1e3 * r['posterior_time']:.1f}",
                ),
                ("overhead", lambda r: f"{r['overhead']:.1%}"),
            ],
        ),
        "",
    ]
    (RESULTS / "evidence.md").write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--probe-seeds", type=int, default=5)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite evidence.md from evidence.json without measuring",
    )
    args = parser.parse_args()
    if args.report_only:
        write(json.loads((RESULTS / "evidence.json").read_text()))
        return
    seeds = list(range(args.seeds))
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        results = {
            "machine": f"{platform.processor() or platform.machine()}, Python "
            f"{platform.python_version()}, NumPy {np.__version__}, SciPy "
            f"{scipy.__version__}, scikit-learn {sklearn.__version__}",
            "probe_seeds": args.probe_seeds,
            "repeats": args.repeats,
            "seeds": seeds,
            "targets": targets(seeds, args.repeats),
            "inner_solvers": inner_solvers(seeds, 1),
            "stochastic": stochastic_accuracy(args.probe_seeds),
            "exact_cost": exact_cost(args.repeats),
            "posterior_overhead": posterior_overhead(args.repeats),
        }
    write(results)


if __name__ == "__main__":
    main()
