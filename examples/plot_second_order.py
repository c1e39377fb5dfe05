"""
=====================================================
First- and second-order solvers on the training loss
=====================================================

The estimators hand the regularized batch gradient ``D`` to any method of
:func:`scipy.optimize.minimize`.  The Newton-type methods ``"Newton-CG"``,
``"trust-ncg"``, ``"trust-krylov"`` and ``"trust-constr"`` also receive exact
curvature products, computed by Pearlmutter's R-operator: the Hessian times a
vector, ``H v`` (``curvature="exact"``), or the positive semi-definite
Gauss-Newton product ``G v`` (``curvature="gauss-newton"``).

Here we follow the training loss of L-BFGS-B, CG, Newton-CG and trust-ncg,
against wall time and against iterations, on a small classification and a
small regression problem.  The ``callback`` records the loss and a timestamp
after every iteration and stops a fit after a fixed time budget.
"""

# %%
# Two small problems
# ------------------
# Scaled inputs in both cases: 600 handwritten digits (10 classes) and
# 500 samples of Friedman's regression problem #1.
import time
import timeit
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    cost_grad,
    gauss_newton_vector_product,
    hessian_vector_product,
    init_params,
)

X_digits, y_digits = load_digits(return_X_y=True)
X_digits = StandardScaler().fit_transform(X_digits[:600])
y_digits = y_digits[:600]

X_friedman, y_friedman = make_friedman1(n_samples=500, noise=0.5, random_state=0)
X_friedman = StandardScaler().fit_transform(X_friedman)
y_friedman = (y_friedman - y_friedman.mean()) / y_friedman.std()

problems = {
    "classification (digits)": (BackpropClassifier, X_digits, y_digits),
    "regression (Friedman #1)": (BackpropRegressor, X_friedman, y_friedman),
}

# %%
# Loss curves
# -----------
# Every fit starts from the same initial weights (``random_state=0``) and
# runs until it converges, for 1.5 s or for 2000 iterations.
# BLAS runs on one thread: on problems this small, threads cost more than
# they save (L-BFGS-B's own vector operations suffer most), which would
# blur the comparison.
solvers = [
    ("L-BFGS-B", "L-BFGS-B", "exact"),
    ("CG", "CG", "exact"),
    ("Newton-CG, H", "Newton-CG", "exact"),
    ("Newton-CG, Gauss-Newton", "Newton-CG", "gauss-newton"),
    ("trust-ncg, H", "trust-ncg", "exact"),
    ("trust-ncg, Gauss-Newton", "trust-ncg", "gauss-newton"),
]


def loss_curve(Estimator, X, y, solver, curvature, budget=1.5):
    """``(seconds, loss)`` after every iteration of one fit."""
    times, losses = [], []

    def callback(state):
        times.append(time.perf_counter() - start)
        losses.append(state.fun)
        return times[-1] > budget

    est = Estimator(
        hidden_layer_sizes=(16,),
        activation="tanh",
        alpha=1e-4,
        solver=solver,
        curvature=curvature,
        max_iter=2000,
        tol=1e-8,
        random_state=0,
        callback=callback,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return np.array(times), np.array(losses)


with threadpool_limits(1):
    curves = {
        name: {
            label: loss_curve(Estimator, X, y, solver, curvature)
            for label, solver, curvature in solvers
        }
        for name, (Estimator, X, y) in problems.items()
    }

fig, axes = plt.subplots(2, 2, figsize=(11, 8))
for col, (name, by_solver) in enumerate(curves.items()):
    for i, (label, (times, losses)) in enumerate(by_solver.items()):
        style = "--" if "Gauss" in label else "-"
        iterations = np.arange(1, len(losses) + 1)
        axes[0, col].plot(times, losses, style, color=f"C{i}", label=label)
        axes[1, col].plot(iterations, losses, style, color=f"C{i}", label=label)
    axes[0, col].set_title(name)
    axes[0, col].set_xlabel("wall time (s)")
    axes[1, col].set_xlabel("iterations")
    for ax in axes[:, col]:
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_ylabel("training loss")
axes[0, 0].legend(fontsize=8)
fig.tight_layout()

# %%
# The final losses and the number of iterations:
for name, by_solver in curves.items():
    print(name)
    for label, (times, losses) in by_solver.items():
        print(
            f"  {label:24s} {len(losses):4d} iterations in {times[-1]:.2f} s, "
            f"loss {losses[-1]:.3g}"
        )

# %%
# Iterations and time to a training loss
# --------------------------------------
# Each solver's first iteration (and its time) at or below a few target
# losses, and how the Newton-type solvers compare with L-BFGS-B: the
# sentences below are computed from the curves above.
targets = {
    "classification (digits)": [1e-2, 1e-3, 1e-4],
    "regression (Friedman #1)": [1e-2, 3e-3],
}


def first_reach(times, losses, target):
    """``(iterations, seconds)`` to reach ``target``, or None."""
    hits = np.flatnonzero(losses <= target)
    return (hits[0] + 1, times[hits[0]]) if hits.size else None


def compare(newton, lbfgs):
    """How many iterations the Newton-type solvers need, next to L-BFGS-B."""
    ratio = lbfgs / np.median(newton)
    if ratio >= 1.5:
        return f"{ratio:.0f}x fewer"
    if ratio <= 1 / 1.5:
        return f"{1 / ratio:.0f}x more"
    return "about as many"


for name, by_solver in curves.items():
    reach = {
        label: [first_reach(times, losses, target) for target in targets[name]]
        for label, (times, losses) in by_solver.items()
    }
    print(f"{name}: iterations (time) to reach a training loss")
    print(f"  {'loss':24s}" + "".join(f"{t:>14g}" for t in targets[name]))
    for label, hits in reach.items():
        cells = [f"{h[0]} ({1e3 * h[1]:.0f} ms)" if h else "-" for h in hits]
        print(f"  {label:24s}" + "".join(f"{c:>14s}" for c in cells))
    for k, target in enumerate(targets[name]):
        lbfgs = reach["L-BFGS-B"][k]
        iters = [
            hits[k][0]
            for label, hits in reach.items()
            if label.startswith(("Newton", "trust")) and hits[k] is not None
        ]
        if lbfgs and iters:
            print(
                f"  to {target:g}: Newton-type {min(iters)}-{max(iters)} iterations, "
                f"L-BFGS-B {lbfgs[0]}: {compare(iters, lbfgs[0])}"
            )

# %%
# What one curvature product costs
# --------------------------------
# A Newton-type iteration is cheap in count but not in work: it solves a
# linear system by conjugate gradients (or Lanczos steps), with one
# curvature product per inner step.  Timed on the digits problem, with the
# public functions the estimators use:
sizes = (X_digits.shape[1], 16, 10)
args = (X_digits, np.eye(10)[y_digits], sizes, "tanh", "log_loss", 1e-4)
theta = init_params(sizes, "tanh", random_state=0)
v = np.random.default_rng(0).normal(size=theta.size)


def best_time(fun, *fun_args):
    return min(timeit.repeat(lambda: fun(*fun_args), number=20, repeat=5)) / 20


with threadpool_limits(1):
    t_grad = best_time(cost_grad, theta, *args)
    t_hv = best_time(hessian_vector_product, theta, v, *args)
    t_gv = best_time(gauss_newton_vector_product, theta, v, *args)
print(f"one (J, D): {1e3 * t_grad:.2f} ms")
print(f"one H v:    {1e3 * t_hv:.2f} ms = {t_hv / t_grad:.1f} gradients")
print(f"one G v:    {1e3 * t_gv:.2f} ms = {t_gv / t_grad:.1f} gradients")

# %%
# When to use which
# -----------------
# Per iteration, the Newton-type solvers make about as much progress as
# L-BFGS-B or more (lower panels; the comparison printed above says by how much on
# each problem), but each of their iterations runs many curvature products,
# each costing a gradient's worth of work or more (the ratios printed
# above).  In wall time (upper panels) that decides the race on problems
# like these.  The benchmark ``benchmarks/bench_second_order.py`` measures
# the same on larger problems (see :ref:`second_order_benchmark`), with one
# exception: badly scaled inputs.
#
# * Use ``"L-BFGS-B"`` (the default) for almost everything, on
#   standardized inputs.
# * Consider ``"Newton-CG"`` or ``"trust-krylov"`` with the exact Hessian
#   when L-BFGS-B needs thousands of iterations, as on badly conditioned
#   problems (inputs on very different scales that you cannot
#   standardize): Newton steps are invariant to such scalings, L-BFGS-B's
#   are not.  In the benchmark's badly scaled regression they need a few
#   percent of L-BFGS-B's iterations and about the same time; they are not
#   faster on standardized inputs.
# * Between the curvatures: the Gauss-Newton product is positive
#   semi-definite, so Newton-CG never meets negative curvature with it; the
#   trust-region methods handle negative curvature by design and did much
#   better with the exact Hessian in the benchmark's badly scaled problem
#   and on digits.
# * SciPy's Newton-CG stops ("Optimization terminated successfully") once
#   the curvature along its direction falls below an absolute threshold,
#   which happens near a very small loss: see its final losses on digits,
#   printed above.
# * ``"CG"`` rarely beats L-BFGS-B; ``"trust-constr"`` also accepts the
#   products but carries more overhead per iteration than ``"trust-ncg"``.
