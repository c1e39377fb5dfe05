"""
===============================================
Robust regression: outliers and least_squares
===============================================

Squared error lets a few wild targets drag a fit far from the rest of the
data.  ``solver="least_squares"`` hands the network's residuals to
:func:`scipy.optimize.least_squares`, whose robust losses (``"soft_l1"``,
``"huber"``, ``"cauchy"``, ``"arctan"``) count large residuals less than
quadratically.  ``f_scale`` is the residual, in the targets' units, where
the robust loss leaves its quadratic zone: about the noise level of the
good targets.

Here 10% of the targets of a noisy sinc are moved by +-5.
"""

# %%
# Data with outliers
# ------------------
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skbackprop import BackpropRegressor

rng = np.random.default_rng(0)
X = np.linspace(-1, 1, 300)[:, None]
y = np.sinc(10 * X.ravel() / np.pi) + 0.1 * rng.normal(size=300)
moved = rng.choice(300, 30, replace=False)
y[moved] += rng.choice([-5.0, 5.0], 30)

X_test = np.linspace(-1, 1, 1000)[:, None]
y_test = np.sinc(10 * X_test.ravel() / np.pi)

# %%
# Squared error against soft_l1
# -----------------------------
# The same network, initial weights and solver; only the loss differs.
# ``loss_`` is the package's cost ``J`` (half the mean squared error) in both
# cases: the robust fit has the larger one, as it ignores the outliers that
# squared error tries to follow.
losses = {
    "squared error": None,
    "soft_l1, f_scale=0.1": {"loss": "soft_l1", "f_scale": 0.1},
}
fits = {}
for name, options in losses.items():
    est = BackpropRegressor(
        (10,),
        "tanh",
        solver="least_squares",
        solver_options=options,
        alpha=0.0,
        tol=1e-8,
        max_iter=1000,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits[name] = est.fit(X, y)
    error = np.mean((est.predict(X_test) - y_test) ** 2)
    print(f"{name:22s} loss_ = {est.loss_:.4f}, error on clean points = {error:.4f}")

# %%
# The fits
# --------
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(X, y, ".", color="0.6", label="data (10% moved by +-5)")
ax.plot(X_test, y_test, "k--", label="sinc")
for name, est in fits.items():
    ax.plot(X_test, est.predict(X_test), label=name)
ax.set(xlabel="x", ylim=(-2, 2), title="Squared error against a robust loss")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
