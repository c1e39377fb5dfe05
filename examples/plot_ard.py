"""
======================================================
Which inputs matter: automatic relevance determination
======================================================

Friedman's regression problem #1 has 10 inputs, of which only the first 5
enter the target.  One penalty for all the weights (``alpha="evidence"``,
or a grid search over ``alpha``) regularizes the weights of the five noise
inputs no more than those of the five that matter, and the network fits
some of the noise through them.  ``alpha="ard"`` gives the weights leaving
each input their own penalty, set by the evidence like the single one (see
:ref:`ard`): the noise inputs get large penalties, which switch them off,
and the fit generalizes better than any single ``alpha``.
"""

# %%
# The data
# --------
# 300 training rows; inputs and targets standardized on them, so that the
# penalties of different inputs compare.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV

from skbackprop import BackpropRegressor

X, y = make_friedman1(n_samples=2300, noise=1.0, random_state=0)
X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
mu, sd = X_train.mean(axis=0), X_train.std(axis=0)
X_train, X_test = (X_train - mu) / sd, (X_test - mu) / sd
y_mu, y_sd = y_train.mean(), y_train.std()
y_train, y_test = (y_train - y_mu) / y_sd, (y_test - y_mu) / y_sd
noise = 1 / y_sd**2
print(f"true noise variance in standardized units: {noise:.4f}")


def network(alpha):
    return BackpropRegressor((10,), "tanh", alpha=alpha, max_iter=500, random_state=0)


# %%
# Three ways to set the penalty
# -----------------------------
# A 5-fold grid search over 15 values of one ``alpha`` (its weakest
# penalties reach ``max_iter``: their warnings are silenced), the evidence's
# single ``alpha``, and one ``alpha`` per input by the evidence.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    search = GridSearchCV(network(1e-4), {"alpha": np.logspace(-5, 2, 15)}, cv=5)
    search.fit(X_train, y_train)
    times = {"GridSearchCV": time.perf_counter() - start}
models = {"GridSearchCV": search}
for alpha in ["evidence", "ard"]:
    start = time.perf_counter()
    models[f"alpha={alpha!r}"] = network(alpha).fit(X_train, y_train)
    times[f"alpha={alpha!r}"] = time.perf_counter() - start
for name, model in models.items():
    test = mean_squared_error(y_test, model.predict(X_test))
    print(f"{name:18s} test MSE {test:.4f}  ({test / noise:.2f} x the noise)", end="")
    print(f"  {times[name]:.2f} s")

# %%
# The inputs' penalties
# ---------------------
# ``alpha_`` of the ARD fit holds one penalty per input, then one for the
# output layer.  Its inverse is the prior variance of the input's weights:
# the five inputs of the target keep variances of about 0.1 to 5 (the
# fifth enters the target linearly, with a small slope), the five noise
# inputs fall below 0.002: their weights are held near zero.  The single
# ``alpha_`` of the evidence is drawn for comparison.
ard, single = models["alpha='ard'"], models["alpha='evidence'"]
relevance = 1 / ard.alpha_[: ard.n_features_in_]
print("1 / alpha_ per input:", np.array2string(relevance, precision=3))
print(f"effective parameters: ARD {ard.n_effective_params_:.0f}, ", end="")
print(f"one alpha {single.n_effective_params_:.0f}, of 121")

fig, ax = plt.subplots(figsize=(7, 3.5))
inputs = np.arange(1, ard.n_features_in_ + 1)
colors = ["C0" if i <= 5 else "0.6" for i in inputs]
ax.bar(inputs, relevance, color=colors)
ax.axhline(1 / single.alpha_, color="C1", ls="--", label="alpha='evidence': 1 / alpha_")
ax.set_yscale("log")
ax.set_xticks(inputs)
ax.set_xlabel("input (1-5 enter the target, 6-10 are noise)")
ax.set_ylabel("1 / alpha_ (prior variance)")
ax.legend(loc="lower left")
ax.set_title("The evidence switches the noise inputs off")
fig.tight_layout()

# %%
# Error bars
# ----------
# Both evidence fits give error bars (``predict(X, return_std=True)``);
# with the noise inputs switched off, the ARD fit's 95% intervals cover the
# held-out targets about as often as they should.
for name in ["alpha='evidence'", "alpha='ard'"]:
    mean, std = models[name].predict(X_test, return_std=True)
    covered = np.mean(np.abs(y_test - mean) <= 1.96 * std)
    print(f"{name:18s} 95% intervals cover {covered:.1%} of the test targets")
plt.show()
