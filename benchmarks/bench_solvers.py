"""Rprop and scaled conjugate gradients against L-BFGS-B: time to the same loss.

Compares ``solver="rprop"`` (iRprop+) and ``solver="scg"`` (Møller's
scaled conjugate gradients with exact curvature products, both
``curvature="exact"`` and ``"gauss-newton"``) with ``solver="L-BFGS-B"``:

1. **The small-data grid** of ``bench_small.py``: ``make_classification``
   (20 features, 10 classes), m in {500, 2000, 10000, 50000} x hidden
   {(16,), (100,), (256, 256)}, ReLU, ``alpha=1e-4``, float64;
   L-BFGS-B runs ``bench_small.py``'s budget of iterations.
2. **The 40k-row benchmark** of ``bench_fit.py``: 40,000 x 100, 10
   classes, ReLU (256, 256), ``alpha=1e-4``, float64; L-BFGS-B runs 30
   iterations.
3. **Small tanh regressions**: two of ``bench_lm.py`` (the noisy sinc 1-10-1
   and Friedman #1 10-8-1, ``alpha=0``) and the badly scaled problem of
   ``bench_second_order.py`` (Friedman #1, 2,000 rows, features scaled by
   0.01 ... 10, 10-32-1, ``alpha=1e-4``); L-BFGS-B 1,000 iterations, with
   ``"lm"`` for reference.

On each problem and each of the seeds' initial weights (``random_state``),
L-BFGS-B runs its budget with ``tol=0``; the target is its final loss times
``1 + RTOL``.  Every solver, L-BFGS-B included, then runs from the same
weights with ``tol=0`` and is stopped by its callback at the first
iteration whose loss reaches the target, or once it has done
``BUDGET_FACTOR`` times L-BFGS-B's work.  The work is counted in gradient
evaluations: cost/gradient evaluations plus curvature products at their
measured cost (one ``H v`` or ``G v`` in gradients, timed on the problem),
a measure the machine's load does not change, so that a busy moment cannot
cut a run short (``"lm"``, whose passes are not counted, gets that many
times L-BFGS-B's time).  Reported per solver: the median over the seeds of
the time to the target (a run that missed it counts as slower than any
that reached it), of the work and of the iterations to it, and how many
runs reached it.  Each fit runs once per seed: on a shared machine the
times are rough, the work is not.

Writes ``results/solvers.{md,json}``::

    python benchmarks/bench_solvers.py           # full (~30 min on 2 shared cores)
    python benchmarks/bench_solvers.py --quick   # smoke run (~1-2 min)
    python benchmarks/bench_solvers.py --from-json results/solvers.json

``--rprop-options`` and ``--scg-options`` pass ``solver_options`` as JSON,
e.g. ``--quick --out /tmp --rprop-options '{"delta_min": 1e-12}'``.
"""

import argparse
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.preprocessing import LabelBinarizer, StandardScaler

import skbackprop._training.objective
from skbackprop import BackpropClassifier, BackpropRegressor, init_params
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import network_hessp

from _common import (
    RESULTS,
    environment_lines,
    fit_quietly,
    interleaved_best,
    md_table,
    system_info,
    write_outputs,
)
from bench_gradient import HIDDEN as BIG_HIDDEN
from bench_gradient import make_data
from bench_lm import friedman as friedman_regression
from bench_lm import sinc
from bench_small import FULL as SMALL
from bench_small import budget as small_budget
from bench_small import grid_data

RTOL = 1e-2
# A solver's budget: this many times L-BFGS-B's work (gradient evaluations);
# less where L-BFGS-B's run takes long (the 40k rows: tens of seconds).
BUDGET_FACTOR = {"grid": 5.0, "big": 2.0, "regression": 10.0}
# And, whatever the work, this many times L-BFGS-B's time (at least 5 s).
TIME_CAP = 20.0
ALPHA = 1e-4

# (label, solver, curvature)
SOLVERS = [
    ("L-BFGS-B", "L-BFGS-B", "exact"),
    ("rprop", "rprop", "exact"),
    ("scg (H)", "scg", "exact"),
    ("scg (GN)", "scg", "gauss-newton"),
]
LM = ("lm", "lm", "exact")
# solver_options per solver name (--rprop-options, --scg-options).
SOLVER_OPTIONS: dict = {}

FULL = {
    "grid_m": SMALL["m"],
    "grid_hidden": SMALL["hidden"],
    "big_m": 40_000,
    "big_iter": 30,
    "regression_iter": 1000,
    "seeds": 3,
}
QUICK = {
    "grid_m": [500, 2_000],
    "grid_hidden": [(16,), (100,)],
    "big_m": 4_000,
    "big_iter": 10,
    "regression_iter": 300,
    "seeds": 1,
}


# -- problems ------------------------------------------------------------------
def problems(cfg):
    """``[(section, name, problem)]``: data, estimator, parameters, budget."""
    out = []
    for m in cfg["grid_m"]:
        for hidden in cfg["grid_hidden"]:
            X, y = grid_data(m, np.float64)
            k = small_budget(SMALL["lbfgs_work"], SMALL["lbfgs_iter"], m, hidden)
            out.append(
                (
                    "grid",
                    f"m={m} {hidden}",
                    {
                        "X": X,
                        "y": y,
                        "estimator": BackpropClassifier,
                        "params": {
                            "hidden_layer_sizes": hidden,
                            "activation": "relu",
                            "alpha": ALPHA,
                        },
                        "lbfgs_iter": k,
                        "solvers": SOLVERS,
                    },
                )
            )
    X, y, _, _ = make_data(cfg["big_m"], np.float64)
    out.append(
        (
            "big",
            f"{cfg['big_m']:,} x 100, {BIG_HIDDEN}",
            {
                "X": X,
                "y": y,
                "estimator": BackpropClassifier,
                "params": {
                    "hidden_layer_sizes": BIG_HIDDEN,
                    "activation": "relu",
                    "alpha": ALPHA,
                },
                "lbfgs_iter": cfg["big_iter"],
                "solvers": SOLVERS,
            },
        )
    )
    for name, (X, y), hidden, alpha in (
        ("noisy sinc 1-10-1", sinc(), (10,), 0.0),
        ("Friedman #1 10-8-1", friedman_regression(), (8,), 0.0),
        ("badly scaled 10-32-1", badly_scaled(), (32,), ALPHA),
    ):
        out.append(
            (
                "regression",
                name,
                {
                    "X": X,
                    "y": y,
                    "estimator": BackpropRegressor,
                    "params": {
                        "hidden_layer_sizes": hidden,
                        "activation": "tanh",
                        "alpha": alpha,
                    },
                    "lbfgs_iter": cfg["regression_iter"],
                    "solvers": [*SOLVERS, LM],
                },
            )
        )
    return out


def badly_scaled():
    """``bench_second_order.py``'s ill-conditioned problem: Friedman #1 (2,000
    rows, noise 0.5), standardized, then feature j scaled by 10^(-2 + j/3)."""
    X, y = make_friedman1(n_samples=2000, noise=0.5, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X * np.logspace(-2, 1, X.shape[1]), (y - y.mean()) / y.std()


# -- counting and timing -------------------------------------------------------
@contextmanager
def counted_passes():
    """Count cost/gradient evaluations and curvature products of every fit."""
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


def run(problem, solver, curvature, seed, target, max_iter, budget=None):
    """One fit from ``random_state=seed``, stopped at ``target`` or past
    ``budget`` (``{"work": gradients, "ratio": one product in gradients,
    "seconds": s}``, each optional): rows ``(seconds, loss, n_cost_grad,
    n_hessp)`` after each iteration, and the estimator."""
    trace = []
    budget = budget or {}
    work_limit = budget.get("work", np.inf)
    ratio = budget.get("ratio", 0.0)
    time_limit = budget.get("seconds", np.inf)
    with counted_passes() as counts:

        def callback(state):
            elapsed = time.perf_counter() - start
            trace.append((elapsed, float(state.fun), counts["fg"], counts["hessp"]))
            work = counts["fg"] + ratio * counts["hessp"]
            return bool(
                state.fun <= target or work > work_limit or elapsed > time_limit
            )

        est = problem["estimator"](
            **problem["params"],
            solver=solver,
            solver_options=SOLVER_OPTIONS.get(solver),
            curvature=curvature,
            tol=0.0,
            max_iter=max_iter,
            random_state=seed,
            callback=callback,
        )
        start = time.perf_counter()
        fit_quietly(est, problem["X"], problem["y"])
    return trace, est


def first_reach(trace, target):
    """``{iters, time, fg, hessp}`` at the first loss <= ``target``, or None."""
    for i, (t, loss, fg, hv) in enumerate(trace):
        if loss <= target:
            return {"iters": i + 1, "time": t, "fg": fg, "hessp": hv}
    return None


def product_costs(problem, repeats=5):
    """One ``H v`` and one ``G v`` in cost/gradient evaluations, at the start."""
    X, y = problem["X"], problem["y"]
    if problem["estimator"] is BackpropClassifier:
        Y, loss = LabelBinarizer().fit_transform(y).astype(X.dtype), "log_loss"
    else:
        Y, loss = y.reshape(-1, 1), "squared_error"
    params = problem["params"]
    sizes = (X.shape[1], *params["hidden_layer_sizes"], Y.shape[1])
    net = Network(sizes, params["activation"], loss)
    theta = init_params(sizes, params["activation"], random_state=0)
    v = np.random.default_rng(0).normal(size=theta.size)
    alpha = params["alpha"]
    fns = [
        lambda: net.cost_grad(theta, X, Y, None, alpha),
        lambda: network_hessp(net, theta, v, X, Y, None, alpha, "exact"),
        lambda: network_hessp(net, theta, v, X, Y, None, alpha, "gauss-newton"),
    ]
    g, h, gn = (t.best for t in interleaved_best(fns, 0, repeats, repeats))
    return {"n_params": int(theta.size), "exact": h / g, "gauss-newton": gn / g}


def bench_problem(problem, seeds, log, budget_factor):
    """Every solver on every seed: targets, first reaches, final losses."""
    costs = product_costs(problem)
    runs = []
    for seed in range(seeds):
        trace, _ = run(
            problem, "L-BFGS-B", "exact", seed, -np.inf, problem["lbfgs_iter"]
        )
        seconds, final, lbfgs_work, _ = trace[-1]
        target = final * (1 + RTOL)
        row = {"seed": seed, "lbfgs_final": final, "target": target, "solvers": {}}
        for label, solver, curvature in problem["solvers"]:
            ratio = costs[curvature] if solver == "scg" else 0.0
            if solver == "lm":  # its passes are not counted: a time budget
                budget = {"seconds": max(budget_factor * seconds, 1.0)}
            else:
                budget = {
                    "work": budget_factor * lbfgs_work,
                    "ratio": ratio,
                    "seconds": max(TIME_CAP * seconds, 5.0),
                }
            trace, est = run(problem, solver, curvature, seed, target, 10**6, budget)
            hit = first_reach(trace, target)
            if hit is not None:
                hit["work"] = (
                    None if solver == "lm" else hit["fg"] + ratio * hit["hessp"]
                )
            row["solvers"][label] = {
                "reach": hit,
                "n_iter": len(trace),
                "final_loss": trace[-1][1] if trace else None,
                "seconds": trace[-1][0] if trace else None,
            }
            log(
                f"  seed {seed} {label:10s} "
                + (
                    f"{hit['time']:.3f} s, {hit['iters']} it, work {hit['work']}"
                    if hit
                    else f"not reached ({len(trace)} it, loss {trace[-1][1]:.5g})"
                )
            )
        runs.append(row)
    return {"costs": costs, "runs": runs}


# -- summary and report --------------------------------------------------------
def summarize(bench, labels):
    """Per solver: reached runs, median time and work to the target (a miss
    counts as infinitely slow), median speed-up against L-BFGS-B."""
    out = {}
    for label in labels:
        rows = [r["solvers"][label] for r in bench["runs"]]
        lbfgs = [r["solvers"]["L-BFGS-B"]["reach"] for r in bench["runs"]]
        times = [x["reach"]["time"] if x["reach"] else np.inf for x in rows]
        work = [(x["reach"]["work"] or np.nan) if x["reach"] else np.inf for x in rows]
        iters = [x["reach"]["iters"] if x["reach"] else np.inf for x in rows]
        ups = [
            (b["time"] / t if b and np.isfinite(t) else 0.0)
            for b, t in zip(lbfgs, times, strict=True)
        ]
        out[label] = {
            "reached": int(np.isfinite(times).sum()),
            "runs": len(rows),
            "time": float(np.median(times)),
            "work": float(np.median(work)),
            "iters": float(np.median(iters)),
            "speedup": float(np.median(ups)),
        }
    return out


def _cell(s):
    if not np.isfinite(s["time"]):
        return f"missed ({s['reached']}/{s['runs']})"
    reached = "" if s["reached"] == s["runs"] else f" ({s['reached']}/{s['runs']})"
    work = "" if np.isnan(s["work"]) else f"{s['work']:.0f} g, "
    return (
        f"{s['time']:.3g} s, {work}{s['iters']:.0f} it, "
        f"**{s['speedup']:.2f}x**{reached}"
    )


def markdown(results):
    cfg = results["config"]
    lines = [
        "# Rprop and scaled conjugate gradients against L-BFGS-B",
        "",
        *environment_lines(results["system"]),
        f"- Total run time: {results['total_seconds']:.0f} s",
        "",
        "Written by `benchmarks/bench_solvers.py`.  On each problem and each of "
        f"{cfg['seeds']} initial weights (`random_state` 0..{cfg['seeds'] - 1}), "
        "L-BFGS-B runs its iteration budget with `tol=0`; the target is its "
        f"final loss times 1 + {RTOL:g}.  Every solver, L-BFGS-B included, then "
        "runs from the same weights and stops at the first iteration whose loss "
        "reaches the target, or once its work exceeds L-BFGS-B's "
        f"{BUDGET_FACTOR['grid']:g}x on the grid, {BUDGET_FACTOR['big']:g}x on "
        f"the 40k rows, {BUDGET_FACTOR['regression']:g}x on the regressions "
        "(`lm`: its time).  Cells: the median over the seeds of the time to the target "
        "(a missed target counts as slower than any time), of the work to it in "
        "gradient evaluations (`g`: cost/gradient evaluations plus curvature "
        "products at their measured cost, given per problem; independent of the "
        "machine's load), of the iterations, and of the speed-up in time "
        "against L-BFGS-B (a miss counts as 0); `(k/n)`: only k of the n runs "
        'reached the target.  `scg (H)` uses `curvature="exact"`, `scg (GN)` '
        '`curvature="gauss-newton"`.  Each fit runs once per seed on a shared '
        "machine: the times are rough, the work is not.",
        "",
    ]
    titles = {
        "grid": "## 1. The small-data grid (`bench_small.py`'s problems)",
        "big": "## 2. The 40k-row benchmark (`bench_fit.py`'s problem)",
        "regression": "## 3. Small tanh regressions (`bench_lm.py`'s problems)",
    }
    notes = {
        "grid": "`make_classification` (20 features, 10 classes), ReLU, "
        f"`alpha={ALPHA:g}`, float64; L-BFGS-B's budget is `bench_small.py`'s.",
        "big": f"100 features, 10 classes, ReLU, `alpha={ALPHA:g}`, float64.",
        "regression": "tanh; `alpha=0` (sinc, Friedman), `alpha=1e-4` (badly "
        "scaled: standardized features multiplied by 0.01 ... 10); `lm` for "
        "reference (its passes are not counted: no work figure).",
    }
    for section, title in titles.items():
        cells = [c for c in results["problems"] if c["section"] == section]
        if not cells:
            continue
        labels = list(cells[0]["summary"])
        lines += [title, "", notes[section], ""]
        header = ["problem", "weights", "L-BFGS-B it", "H v / G v (g)", *labels]
        rows = []
        for c in cells:
            costs = c["costs"]
            rows.append(
                [
                    c["name"],
                    f"{costs['n_params']:,}",
                    str(c["lbfgs_iter"]),
                    f"{costs['exact']:.2f} / {costs['gauss-newton']:.2f}",
                    *(_cell(c["summary"][label]) for label in labels),
                ]
            )
        lines += md_table(header, rows, "lrrr" + "l" * len(labels))
        lines.append("")
    lines += ["## Summary", ""]
    every = [c for c in results["problems"]]
    for label, _, _ in SOLVERS[1:]:
        ups = [c["summary"][label]["speedup"] for c in every]
        works = [
            c["summary"]["L-BFGS-B"]["work"] / c["summary"][label]["work"]
            for c in every
        ]
        reached = sum(c["summary"][label]["reached"] for c in every)
        runs = sum(c["summary"][label]["runs"] for c in every)
        faster = sum(u > 1 for u in ups)
        lines.append(
            f"- {label}: reached the target in {reached} of {runs} runs; faster "
            f"than L-BFGS-B (median over seeds) on {faster} of {len(every)} "
            f"problems; median speed-up {np.median(ups):.2f}x (range "
            f"{min(ups):.2f}x to {max(ups):.2f}x); L-BFGS-B's work over its "
            f"work: median {np.median(works):.2f}x."
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out", default=str(RESULTS), help="output dir")
    parser.add_argument("--from-json", help="rewrite the report from a solvers.json")
    parser.add_argument("--only", help="run only this section (grid, big, regression)")
    for name in ("rprop", "scg"):
        parser.add_argument(
            f"--{name}-options",
            type=json.loads,
            help=f'solver_options of "{name}", as JSON',
        )
    args = parser.parse_args(argv)
    for name in ("rprop", "scg"):
        if getattr(args, f"{name}_options"):
            SOLVER_OPTIONS[name] = getattr(args, f"{name}_options")
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        write_outputs(args.out, "solvers", results, markdown(results))
        return
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    info = system_info()
    results = {
        "quick": args.quick,
        "config": cfg,
        "solver_options": SOLVER_OPTIONS,
        "system": info,
        "problems": [],
    }
    for section, name, problem in problems(cfg):
        if args.only and section != args.only:
            continue
        print(f"[{section}] {name}", flush=True)
        bench = bench_problem(problem, cfg["seeds"], print, BUDGET_FACTOR[section])
        labels = [label for label, _, _ in problem["solvers"]]
        results["problems"].append(
            {
                "section": section,
                "name": name,
                "lbfgs_iter": problem["lbfgs_iter"],
                **bench,
                "summary": summarize(bench, labels),
            }
        )
    info["load_average_end"] = os.getloadavg()
    results["total_seconds"] = time.perf_counter() - start
    write_outputs(args.out, "solvers", results, markdown(results))


if __name__ == "__main__":
    main()
