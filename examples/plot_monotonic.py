"""
=====================
Monotonic constraints
=====================

When the target is known to rise with one feature and fall with another,
``monotonic_cst`` makes the network's prediction do so too, whatever the
other features, instead of following the noise.  Here a small noisy
training set drawn from a function increasing in ``x0``, decreasing in
``x1`` and periodic in ``x2``: a network fitted without constraints next to
one with ``monotonic_cst=[1, -1, 0]``.
"""

# %%
# The data
# --------
# 200 training rows with noise of standard deviation 0.5 around
# ``3 sqrt(x0) - 2 x1^2 + 0.5 sin(2 pi x2)``.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import PartialDependenceDisplay

from skbackprop import BackpropRegressor

rng = np.random.default_rng(0)


def make_data(n):
    X = rng.uniform(0, 1, size=(n, 3))
    f = 3 * np.sqrt(X[:, 0]) - 2 * X[:, 1] ** 2 + 0.5 * np.sin(2 * np.pi * X[:, 2])
    return X, f + rng.normal(scale=0.5, size=n)


X_train, y_train = make_data(200)
X_test, y_test = make_data(2000)

# %%
# Two fits
# --------
# The same network, with and without the constraints.  The constrained one
# keeps the first-layer weights of ``x0`` non-negative and those of ``x1``
# non-positive, and every later weight non-negative; ``"tanh"`` is monotone,
# so the prediction is nondecreasing in ``x0`` and nonincreasing in ``x1``.
# The unconstrained fit is still chasing the noise when it reaches
# ``max_iter``: its ConvergenceWarning is silenced here.
params = {"hidden_layer_sizes": (16,), "activation": "tanh", "alpha": 1e-2}
free = BackpropRegressor(**params, max_iter=500, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    free.fit(X_train, y_train)
monotone = BackpropRegressor(
    **params, monotonic_cst=[1, -1, 0], max_iter=500, random_state=0
)
monotone.fit(X_train, y_train)
for name, model in [("unconstrained", free), ("monotone", monotone)]:
    print(f"{name:>13}: test R^2 = {model.score(X_test, y_test):.3f}")

# %%
# Each thin line follows one test row as ``x0`` (left) or ``x1`` (right)
# varies, the other features fixed (individual conditional expectation); the
# thick line is their average, the partial dependence.  The unconstrained
# network bends its lines to the noise; the monotone one cannot.
fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharex=True, sharey=True)
for row, (model, color, name) in enumerate(
    [(free, "tab:orange", "unconstrained"), (monotone, "tab:blue", "monotone")]
):
    PartialDependenceDisplay.from_estimator(
        model,
        X_test[:60],
        features=[0, 1],
        kind="both",
        ax=axes[row],
        ice_lines_kw={"color": color, "alpha": 0.3, "linewidth": 0.8},
        pd_line_kw={"color": "black", "linewidth": 2},
    )
    axes[row, 0].set_ylabel(f"{name}\nprediction")
    axes[row, 1].set_ylabel("")
    for ax in axes[row]:
        ax.get_legend().remove()
fig.tight_layout()

# %%
# The guarantee, checked
# ----------------------
# Along 1000 random lines parallel to ``x0`` the monotone prediction never
# decreases; the unconstrained one does on many of them.
grid = np.linspace(0, 1, 50)
lines = np.repeat(rng.uniform(0, 1, size=(1000, 3)), len(grid), axis=0)
lines[:, 0] = np.tile(grid, 1000)
for name, model in [("unconstrained", free), ("monotone", monotone)]:
    steps = np.diff(model.predict(lines).reshape(1000, len(grid)), axis=1)
    print(f"{name:>13}: {np.mean(steps.min(axis=1) < 0):.0%} of the lines decrease")

# %%
# The price and the choice of activation
# ---------------------------------------
# Non-negative weights after the first layer limit what the network can
# represent.  With a convex activation (``"relu"``, ``"leaky_relu"``,
# ``"elu"``, ``"softplus"``) the constrained network is a convex function of
# its inputs; a bounded one such as ``"tanh"`` has no such limit and is the
# better default under constraints.  On a small noisy sample like this one,
# a true constraint usually improves the test score; see the user guide's
# :ref:`extensions` for measurements on larger data.
