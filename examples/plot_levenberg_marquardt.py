"""
============================================================
Levenberg-Marquardt against L-BFGS-B on a small network
============================================================

``solver="lm"`` trains a network by Levenberg-Marquardt, MATLAB's
``trainlm``: every iteration forms the Gauss-Newton matrix ``G`` and solves
``(G + mu I) p = -D``.  On networks of a few dozen to a few hundred weights
its few, expensive iterations often reach a low loss much sooner than the
many cheap ones of L-BFGS-B.

Here a 1-10-1 tanh network fits a noisy sinc, the classic demonstration of
MATLAB's fitting networks, with L-BFGS-B, trust-ncg on Gauss-Newton
products (the matrix-free use of the same curvature) and ``lm``, all from
the same initial weights.
"""

# %%
# The data: 300 noisy samples of sin(10 x) / (10 x)
# --------------------------------------------------
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skbackprop import BackpropRegressor

rng = np.random.default_rng(0)
X = np.linspace(-1, 1, 300)[:, None]
y = np.sinc(10 * X.ravel() / np.pi) + 0.1 * rng.normal(size=300)

# %%
# Loss against wall time
# ----------------------
# Each fit runs for at most two seconds; the ``callback`` timestamps every
# iteration.  BLAS runs on one thread: on matrices this small, threads cost
# more than they save and would blur the comparison.
solvers = {
    "L-BFGS-B": {"solver": "L-BFGS-B", "solver_options": {"ftol": 0.0}},
    "trust-ncg, Gauss-Newton": {"solver": "trust-ncg", "curvature": "gauss-newton"},
    "lm": {"solver": "lm"},
}


def loss_curve(params, budget=2.0):
    times, losses = [], []

    def callback(state):
        times.append(time.perf_counter() - start)
        losses.append(state.fun)
        return times[-1] > budget

    est = BackpropRegressor(
        (10,),
        "tanh",
        alpha=0.0,
        tol=0.0,
        max_iter=100_000,
        random_state=0,
        callback=callback,
        **params,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, np.array(times), np.array(losses)


fits = {}
with threadpool_limits(1):
    for name, params in solvers.items():
        fits[name] = loss_curve(params)

fig, (ax_loss, ax_fit) = plt.subplots(1, 2, figsize=(11, 4))
for name, (_, times, losses) in fits.items():
    ax_loss.loglog(times, losses, label=f"{name} ({len(losses)} it.)")
    print(f"{name:24s} {len(losses):6d} iterations, final loss {losses[-1]:.6f}")
ax_loss.set(xlabel="seconds", ylabel="training loss J", title="Training loss")
ax_loss.legend()

# %%
# Time to L-BFGS-B's final loss
# -----------------------------
# How long each solver took to reach the loss L-BFGS-B ended with.
target = fits["L-BFGS-B"][2][-1]
print(f"L-BFGS-B's final loss: {target:.6f}")
for name, (_, times, losses) in fits.items():
    hit = np.flatnonzero(losses <= target)
    if hit.size:
        print(f"{name:24s} reaches it after {times[hit[0]]:.3f} s, {hit[0] + 1} it.")
    else:
        print(f"{name:24s} does not reach it in 2 s")

# %%
# The fitted curves
# -----------------
# All three fit the sinc; the differences lie in how fast they get there.
grid = np.linspace(-1, 1, 400)[:, None]
ax_fit.plot(X, y, ".", color="0.7", label="data")
ax_fit.plot(grid, np.sinc(10 * grid / np.pi), "k--", label="sinc")
for name, (est, _, _) in fits.items():
    ax_fit.plot(grid, est.predict(grid), label=name)
ax_fit.set(xlabel="x", title="Fits")
ax_fit.legend()
fig.tight_layout()
plt.show()
