"""
=================================
Loss curves of every solver
=================================

The same network, data, penalty and initial weights, trained by each
solver: SciPy's quasi-Newton and conjugate-gradient methods, its Newton-type
methods with exact Hessian-vector products, and gradient descent on the
batch gradient, full batch and in mini-batches with momentum.  Only the
optimizer changes; every one of them is driven by the same cost ``J`` and
gradient ``D`` (see :ref:`solvers`).
"""

# %%
# One problem for all
# -------------------
# A synthetic three-class problem with 20 features, scaled, and a network
# with one hidden layer of 16 tanh units: 387 parameters.  (The network is
# kept small for BFGS, whose dense inverse-Hessian update costs
# :math:`O(n_\text{params}^3)` per iteration in SciPy.)
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier

X, y = make_classification(
    n_samples=1000, n_features=20, n_informative=10, n_classes=3, random_state=0
)
X = StandardScaler().fit_transform(X)

common = dict(hidden_layer_sizes=(16,), activation="tanh", alpha=1e-2, random_state=0)
solvers = {
    "L-BFGS-B": dict(solver="L-BFGS-B", max_iter=100),
    "CG": dict(solver="CG", max_iter=100),
    "BFGS": dict(solver="BFGS", max_iter=100),
    "TNC": dict(solver="TNC", max_iter=100),
    "Newton-CG (exact H v)": dict(solver="Newton-CG", max_iter=40),
    "trust-ncg (exact H v)": dict(solver="trust-ncg", max_iter=60),
    "gd, full batch": dict(solver="gd", learning_rate_init=0.5, max_iter=100),
    "gd, mini-batch 64, momentum 0.9": dict(
        solver="gd", batch_size=64, learning_rate_init=0.01, momentum=0.9, max_iter=30
    ),
}

# %%
# Training with a fixed budget
# ----------------------------
# A callback records the wall-clock time of every iteration (an epoch for
# gradient descent).  A budget is the point of this comparison, so the
# convergence warnings of the solvers that use it all are silenced.
curves = {}
print(f"{'solver':32s} {'iter.':>5s} {'time':>7s} {'loss':>8s} {'train acc.':>10s}")
for name, params in solvers.items():
    times = []
    clf = BackpropClassifier(
        **common,
        **params,
        callback=lambda state, times=times: times.append(time.perf_counter()),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(X, y)
    elapsed = [t - start for t in times]
    curves[name] = (elapsed, clf.loss_curve_)
    print(
        f"{name:32s} {clf.n_iter_:5d} {elapsed[-1]:6.2f}s {clf.loss_:8.5f} "
        f"{clf.score(X, y):10.3f}"
    )

# %%
# Loss against iterations and against time
# ----------------------------------------
# An iteration means different work for each method: one gradient for
# gradient descent, a line search (a few gradients) for the quasi-Newton
# methods, several Hessian-vector products for the Newton-type methods, a
# full pass over the data in mini-batches for mini-batch gradient descent.
# The time axis compares what matters.
fig, (ax_iter, ax_time) = plt.subplots(
    1, 2, figsize=(11, 5.5), sharey=True, layout="constrained"
)
for name, (elapsed, loss) in curves.items():
    style = "--" if name.startswith("gd") else "-"
    ax_iter.plot(range(1, len(loss) + 1), loss, style, label=name)
    ax_time.plot(elapsed, loss, style, label=name)
ax_iter.set_xscale("log")
ax_iter.set_yscale("log")
ax_iter.set_xlabel("iteration (epoch for gd)")
ax_iter.set_ylabel("training cost J")
ax_time.set_xscale("log")
ax_time.set_xlabel("wall-clock time (s)")
# One legend for both panels, below them, where it covers no curve.
fig.legend(*ax_iter.get_legend_handles_labels(), loc="outside lower center", ncol=4)
fig.suptitle("1,000 samples, 20-16-3 tanh network, alpha=1e-2")
plt.show()

# %%
# Who gets there first
# --------------------
# The iterations and the time each solver needs to reach two training
# losses, and which one is first by each measure:
targets = [0.05, 0.02]
reach = {}
for name, (elapsed, loss) in curves.items():
    hits = [np.flatnonzero(np.asarray(loss) <= target) for target in targets]
    reach[name] = [(h[0] + 1, elapsed[h[0]]) if h.size else None for h in hits]
print(f"{'loss':32s}" + "".join(f"{t:>16g}" for t in targets))
for name, hits in reach.items():
    cells = [f"{h[0]} ({1e3 * h[1]:.0f} ms)" if h else "-" for h in hits]
    print(f"{name:32s}" + "".join(f"{c:>16s}" for c in cells))
for k, target in enumerate(targets):
    reached = {name: hits[k] for name, hits in reach.items() if hits[k]}
    fewest = min(reached, key=lambda name: reached[name][0])
    fastest = min(reached, key=lambda name: reached[name][1])
    print(f"to {target:g}: fewest iterations {fewest}; least time {fastest}")

# %%
# What to take away: per iteration, the Newton-type methods with exact
# curvature products and TNC go furthest (each of their iterations does the
# most work); per second, L-BFGS-B's cheap iterations win on a problem of
# this size, which is why it is the default (the lines printed above name
# the winners of this run).  BFGS pays for its dense matrix.  Gradient
# descent, full batch or in mini-batches, needs many more epochs and a
# well-chosen step size; mini-batches pay off on data sets much larger than
# this one.  The user guide's :ref:`solvers` page has the rules of thumb.
