"""
=========================================
Error bars from the Laplace approximation
=========================================

``alpha="evidence"`` chooses the penalty from the training data alone, by
MacKay's evidence framework, and estimates the noise level on the way;
``predict(X, return_std=True)`` then gives each prediction a standard
deviation, ``sqrt(noise_variance_ + g' A^-1 g)``: the noise plus the
uncertainty of the weights, ``g`` the output's gradient with respect to them
and ``A`` the posterior precision (see :ref:`bayesian`).  Here a network
learns a noisy 1-D function from data with a gap; its 95% band widens where
no training point constrains it.
"""

# %%
# The data
# --------
# ``sin(2x) + 0.3 x`` plus Gaussian noise of standard deviation 0.2
# (variance 0.04), sampled on ``[-3, 3]`` except ``(-0.5, 0.8)``.
import matplotlib.pyplot as plt
import numpy as np

from skbackprop import BackpropRegressor


def f(x):
    return np.sin(2 * x) + 0.3 * x


rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, size=400)
x = x[(x < -0.5) | (x > 0.8)]
y = f(x) + 0.2 * rng.normal(size=x.size)
X_train, y_train = x[:150, None], y[:150]
X_test, y_test = x[150:, None], y[150:]

# %%
# Fit with the penalty set by the evidence
# ----------------------------------------
# Each outer iteration fits the network at fixed ``alpha`` (warm-started)
# and re-estimates ``alpha``, the noise and the number of well-determined
# parameters, until they settle.
reg = BackpropRegressor(
    hidden_layer_sizes=(10,),
    activation="tanh",
    alpha="evidence",
    max_iter=500,
    random_state=0,
).fit(X_train, y_train)
print(f"alpha_ = {reg.alpha_:.4g} after {len(reg.evidence_curve_)} outer iterations")
print(f"noise_variance_ = {reg.noise_variance_:.4f} (true 0.04)")
print(
    f"n_effective_params_ = {reg.n_effective_params_:.1f} of "
    f"{sum(c.size for c in reg.coefs_ + reg.intercepts_)} parameters"
)

# %%
# Coverage of held-out points
# ---------------------------
# When the model fits the data, about 95% of new points fall inside
# ``mean +- 1.96 std``.
mean, std = reg.predict(X_test, return_std=True)
inside = np.abs(y_test - mean) <= 1.96 * std
print(f"{inside.mean():.1%} of {inside.size} held-out points inside the 95% band")

# %%
# The band
# --------
# Left: the predictive mean and its 95% band, and the part the noise alone
# contributes.  Right: the log evidence of each outer iteration's fit.
grid = np.linspace(-3.5, 3.5, 400)[:, None]
mean, std = reg.predict(grid, return_std=True)
noise = 1.96 * np.sqrt(reg.noise_variance_)

fig, (ax, ax_ev) = plt.subplots(
    1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2.2, 1]}
)
ax.fill_between(
    grid[:, 0], mean - 1.96 * std, mean + 1.96 * std, alpha=0.3, label="95% band"
)
ax.plot(grid[:, 0], mean - noise, "C0:", lw=1, label="noise alone")
ax.plot(grid[:, 0], mean + noise, "C0:", lw=1)
ax.plot(grid[:, 0], mean, "C0", label="predictive mean")
ax.plot(grid[:, 0], f(grid[:, 0]), "k--", lw=1, label="true function")
ax.plot(X_train[:, 0], y_train, "k.", ms=3, label="training data")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="upper left", fontsize=8)
ax_ev.plot(np.arange(1, len(reg.evidence_curve_) + 1), reg.evidence_curve_, "o-")
ax_ev.set_xlabel("outer iteration")
ax_ev.set_ylabel("log evidence")
fig.tight_layout()
plt.show()
