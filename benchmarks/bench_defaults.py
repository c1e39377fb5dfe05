"""The out-of-the-box model: default settings against scikit-learn's MLP.

For iris, wine, breast_cancer, digits (accuracy) and diabetes (R², targets
standardized), and three problems of our own (``make_friedman1``,
``make_classification`` with 10% of the labels flipped, a wide
``make_regression`` with fewer rows than features): 5-fold cross-validation
(``StratifiedKFold``/``KFold``, shuffled, ``random_state=0``) of
``make_pipeline(StandardScaler(), Est())`` with the default settings, for
skbackprop's default estimator, scikit-learn's default (``adam``) and
scikit-learn with ``solver="lbfgs"``; every estimator gets
``random_state=0`` (reproducible), nothing else.  Reports each mean score and
the total time of each cross-validation (fits and scoring; the best of
``--repeats``, the estimators in turns).

Candidate defaults are compared without editing code: ``--param`` settings
make one candidate, each ``--candidate`` another; scikit-learn's estimators
run once per run::

    python benchmarks/bench_defaults.py
    python benchmarks/bench_defaults.py --param alpha=1e-2 --param early_stopping=true
    python benchmarks/bench_defaults.py --candidate "alpha=0.1" --candidate "tol=1e-3"

It writes ``results/defaults.{md,json}`` (``--stem`` to rename).
"""

import argparse
import ast
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_friedman1,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbackprop import BackpropClassifier, BackpropRegressor

from _common import (
    RESULTS,
    blas_setting,
    environment_lines,
    interleaved_best,
    md_table,
    system_info,
    write_outputs,
)

# Within this much of the better of scikit-learn's two defaults counts as
# "at least as good" (accuracy, R²).
TOLERANCE = {"accuracy": 0.005, "r2": 0.01}
SKLEARN = {"sklearn default (adam)": {}, "sklearn lbfgs": {"solver": "lbfgs"}}


def _standardized(X, y):
    return X, (y - y.mean()) / y.std()


DATASETS = {
    # name: (loader -> (X, y), task, bundled with scikit-learn)
    "iris": (lambda: load_iris(return_X_y=True), "classification", True),
    "wine": (lambda: load_wine(return_X_y=True), "classification", True),
    "breast_cancer": (
        lambda: load_breast_cancer(return_X_y=True),
        "classification",
        True,
    ),
    "digits": (lambda: load_digits(return_X_y=True), "classification", True),
    "diabetes": (
        lambda: _standardized(*load_diabetes(return_X_y=True)),
        "regression",
        True,
    ),
    "friedman1": (
        lambda: _standardized(
            *make_friedman1(n_samples=500, noise=1.0, random_state=0)
        ),
        "regression",
        False,
    ),
    "noisy_labels": (
        lambda: make_classification(
            n_samples=1000,
            n_features=20,
            n_informative=10,
            n_classes=5,
            flip_y=0.1,
            random_state=0,
        ),
        "classification",
        False,
    ),
    "wide_regression": (
        lambda: _standardized(
            *make_regression(
                n_samples=100,
                n_features=200,
                n_informative=20,
                noise=10.0,
                random_state=0,
            )
        ),
        "regression",
        False,
    ),
}
OUR_PROBLEMS = (
    "`friedman1`: `make_friedman1(500, noise=1)`; `noisy_labels`: "
    "`make_classification(1000, 20 features, 10 informative, 5 classes, "
    "flip_y=0.1)` (10% of the labels random); `wide_regression`: "
    "`make_regression(100 rows, 200 features, 20 informative, noise=10)`; "
    "all with `random_state=0`."
)
QUICK_DATASETS = ("iris", "wine", "diabetes")


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


def check_settings(settings):
    """Fail now, with scikit-learn's message, on a name or value that the
    estimators do not accept."""
    for cls in (BackpropClassifier, BackpropRegressor):
        est = cls(random_state=0)
        try:
            est.set_params(**settings)
            est._validate_params()
        except ValueError as exc:
            raise SystemExit(f"{cls.__name__}: {exc}") from exc


def label(settings):
    if not settings:
        return "skbackprop default"
    return "skbackprop " + ", ".join(f"{k}={v!r}" for k, v in settings.items())


# -- the cross-validations ---------------------------------------------------
def estimators(task, candidates):
    """``{label: estimator}``: skbackprop's configurations, then scikit-learn's."""
    ours = BackpropClassifier if task == "classification" else BackpropRegressor
    theirs = MLPClassifier if task == "classification" else MLPRegressor
    out = {label(s): ours(random_state=0, **s) for s in candidates}
    out.update({name: theirs(random_state=0, **s) for name, s in SKLEARN.items()})
    return out


def cross_validation(est, X, y, task):
    """Scores of a 5-fold CV of ``StandardScaler`` + ``est``, and the number
    of fits that ended with a ConvergenceWarning."""
    if task == "classification":
        cv, scoring = StratifiedKFold(5, shuffle=True, random_state=0), "accuracy"
    else:
        cv, scoring = KFold(5, shuffle=True, random_state=0), "r2"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), est)
        scores = cross_validate(pipe, X, y, cv=cv, scoring=scoring)
    not_converged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "metric": scoring,
        "fold_scores": [float(s) for s in scores["test_score"]],
        "score": float(np.mean(scores["test_score"])),
        "fit_seconds": float(np.sum(scores["fit_time"])),
        "convergence_warnings": not_converged,
    }


def bench_dataset(name, candidates, repeats):
    loader, task, bundled = DATASETS[name]
    X, y = loader()
    ests = estimators(task, candidates)
    timings = interleaved_best(
        [lambda e=e: cross_validation(e, X, y, task) for e in ests.values()],
        min_rounds=repeats,
        max_rounds=repeats,
        warmup=False,
    )
    runs = {}
    for (est_label, est), t in zip(ests.items(), timings, strict=True):
        runs[est_label] = {**t.value, "seconds": t.best, "params": est.get_params()}
        runs[est_label]["params"] = {
            k: repr(v) for k, v in runs[est_label]["params"].items()
        }
        print(
            f"{name:28.28s} {est_label:40.40s} {t.value['score']:8.4f} {t.best:7.2f} s"
        )
    metric = runs[next(iter(SKLEARN))]["metric"]
    return {
        "dataset": name,
        "task": task,
        "bundled": bundled,
        "shape": list(X.shape),
        "metric": metric,
        "runs": runs,
    }


# -- report --------------------------------------------------------------------
def verdicts(results):
    """Per skbackprop configuration, the issue's rule on the bundled data sets:
    each score within the tolerance of the better of scikit-learn's two, in
    less total time than scikit-learn's default."""
    rows = []
    bundled = [d for d in results["datasets"] if d["bundled"]]
    for config in results["configurations"]:
        short, gaps = [], []
        for d in bundled:
            best = max(d["runs"][s]["score"] for s in SKLEARN)
            gap = d["runs"][config]["score"] - best
            gaps.append(gap)
            if gap < -TOLERANCE[d["metric"]]:
                short.append(f"{d['dataset']} {gap:+.4f}")
        ours = sum(d["runs"][config]["seconds"] for d in bundled)
        theirs = sum(d["runs"][next(iter(SKLEARN))]["seconds"] for d in bundled)
        rows.append(
            {
                "configuration": config,
                "short_of_sklearn": short,
                "seconds": ours,
                "sklearn_default_seconds": theirs,
                "met": not short and ours < theirs,
            }
        )
    return rows


def _score(r):
    return f"{r['score']:.4f}"


def markdown(results):
    info = results["system"]
    configs = results["configurations"]
    names = configs + list(SKLEARN)
    head = ["data set", *names, *(f"{n} time" for n in names)]
    rows = []
    for d in results["datasets"]:
        metric = "R²" if d["metric"] == "r2" else "accuracy"
        shape = "x".join(map(str, d["shape"]))
        rows.append(
            [
                f"{d['dataset']} ({shape}, {metric})",
                *(_score(d["runs"][n]) for n in names),
                *(f"{d['runs'][n]['seconds']:.2f} s" for n in names),
            ]
        )
    checks = [
        [
            v["configuration"],
            "; ".join(v["short_of_sklearn"]) or "none",
            f"{v['seconds']:.2f} s vs {v['sklearn_default_seconds']:.2f} s",
            "yes" if v["met"] else "**no**",
        ]
        for v in results["verdicts"]
    ]
    warned = [
        f"{d['dataset']}: "
        + ", ".join(
            f"{n} {d['runs'][n]['convergence_warnings']}"
            for n in names
            if d["runs"][n]["convergence_warnings"]
        )
        for d in results["datasets"]
        if any(d["runs"][n]["convergence_warnings"] for n in names)
    ]
    out = [
        "# Default settings: skbackprop against scikit-learn's MLP",
        "",
        *environment_lines(info),
        f"- BLAS threads: {blas_setting(info)}",
        f"- Total run time: {results['total_seconds']:.0f} s",
        "",
        "5-fold cross-validation (`StratifiedKFold` for classification, "
        "`KFold` for regression, shuffled, `random_state=0`) of "
        "`make_pipeline(StandardScaler(), Est())`: the default settings plus "
        "`random_state=0`, and the settings in the column names.  Regression "
        "targets standardized.  Scores: the mean over the folds (accuracy, "
        "R²).  Times: one cross-validation (5 fits and scorings), the best "
        f"of {results['repeats']}, the estimators in turns.",
        "",
        *md_table(head, rows),
        "",
        "The five data sets bundled with scikit-learn first, then three "
        "problems of our own: " + OUR_PROBLEMS,
        "",
        "## The rule of the defaults issue (the five bundled data sets)",
        "",
        "Every score at least the better of scikit-learn's two minus "
        f"{TOLERANCE['accuracy']} (accuracy) or {TOLERANCE['r2']} (R²), and "
        "less total time than scikit-learn's default.",
        "",
        *md_table(
            ["configuration", "short of scikit-learn", "total time", "met"],
            checks,
            "llll",
        ),
        "",
        "Fits that ended with a ConvergenceWarning (of 5 per cell): "
        + ("; ".join(warned) if warned else "none")
        + ".",
        "",
    ]
    return "\n".join(out)


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
        help="another candidate: space-separated settings (repeatable)",
    )
    parser.add_argument("--no-default", action="store_true", help="only the candidates")
    parser.add_argument("--data", help="comma-separated prefixes of data set names")
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
    parser.add_argument("--from-json", help="rewrite the report from a JSON file")
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        results["verdicts"] = verdicts(results)
        write_outputs(args.out, args.stem, results, markdown(results))
        return

    candidates = [] if args.no_default else [{}]
    if args.param:
        candidates.append(parse_settings(args.param))
    candidates += [parse_settings(c.split()) for c in args.candidate]
    if not candidates:
        parser.error("nothing to compare: --no-default without candidates")
    for settings in candidates:
        check_settings(settings)
    names = list(DATASETS)
    if args.quick:
        names, args.repeats = list(QUICK_DATASETS), 1
    if args.data:
        prefixes = args.data.split(",")
        names = [n for n in names if n.startswith(tuple(prefixes))]

    start = time.perf_counter()
    with threadpool_limits(args.blas_threads, user_api="blas"):
        results = {
            "system": {**system_info(), "blas_threads_limit": args.blas_threads},
            "repeats": args.repeats,
            "configurations": [label(s) for s in candidates],
            "candidates": [{k: repr(v) for k, v in s.items()} for s in candidates],
            "datasets": [bench_dataset(n, candidates, args.repeats) for n in names],
        }
    results["system"]["load_average_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - start
    results["verdicts"] = verdicts(results)
    write_outputs(args.out, args.stem, results, markdown(results))


if __name__ == "__main__":
    main()
