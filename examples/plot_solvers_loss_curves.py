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
    "gd, mini-batch 64 + momentum 0.9": dict(
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
        f"{name:34s} {clf.n_iter_:4d} iterations  {elapsed[-1]:6.2f} s  "
        f"loss {clf.loss_:.5f}  training accuracy {clf.score(X, y):.3f}"
    )

# %%
# Loss against iterations and against time
# ----------------------------------------
# An iteration means different work for each method: one gradient for
# gradient descent, a line search (a few gradients) for the quasi-Newton
# methods, several Hessian-vector products for the Newton-type methods, a
# full pass over the data in mini-batches for mini-batch gradient descent.
# The time axis compares what matters.
fig, (ax_iter, ax_time) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
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
ax_time.legend(fontsize="small")
fig.suptitle("1,000 samples, 20-16-3 tanh network, alpha=1e-2")
fig.tight_layout()
plt.show()

# %%
# What to take away: per iteration, the Newton-type methods with exact
# curvature products and TNC go furthest, and the quasi-Newton methods are
# close behind; per second, L-BFGS-B's cheap iterations usually win on a
# problem of this size, which is why it is the default.  BFGS pays for its
# dense matrix.  Gradient descent, full batch or in mini-batches, needs many
# more epochs and a well-chosen step size; mini-batches pay off on data sets
# much larger than this one.  The user guide's :ref:`solvers` page has the
# rules of thumb.
