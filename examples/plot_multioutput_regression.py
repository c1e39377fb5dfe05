"""
============================
Multi-output regression
============================

:class:`~skbackprop.BackpropRegressor` predicts several targets at once:
the output layer has one unit per target, the hidden layers are shared, and
the squared error is summed over the outputs.  Here one network learns both
coordinates of a noisy figure-eight from a single input, the position
``t`` along the curve.
"""

# %%
# The data
# --------
# ``x = sin(t)`` and ``y = sin(t) cos(t)`` for ``t`` in ``[0, 2 pi)``, with
# noise; 300 training points.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from skbackprop import BackpropRegressor

rng = np.random.default_rng(0)
t = rng.uniform(0, 2 * np.pi, size=400)
Y = np.column_stack([np.sin(t), np.sin(t) * np.cos(t)])
Y_noisy = Y + rng.normal(scale=0.05, size=Y.shape)
T = t.reshape(-1, 1)
T_train, T_test, Y_train, Y_test = train_test_split(
    T, Y_noisy, test_size=0.25, random_state=0
)

# %%
# One network, two outputs
# ------------------------
# ``y`` is 2-D, so the network has two output units; ``n_outputs_`` says so,
# and ``predict`` returns one column per target.
reg = BackpropRegressor(
    hidden_layer_sizes=(30, 30),
    activation="tanh",
    alpha=1e-3,
    max_iter=1000,
    random_state=0,
).fit(T_train, Y_train)
Y_pred = reg.predict(T_test)
print(f"n_outputs_ = {reg.n_outputs_}, prediction shape {Y_pred.shape}")
per_output = r2_score(Y_test, Y_pred, multioutput="raw_values")
print("R^2 per output:", np.round(per_output, 3))
print(f"R^2 (averaged): {reg.score(T_test, Y_test):.3f}")

# %%
# The learned curve
# -----------------
# Left: each output against the input.  Right: both together, the curve in
# the plane that the network traces as ``t`` goes round.
t_grid = np.linspace(0, 2 * np.pi, 500).reshape(-1, 1)
curve = reg.predict(t_grid)

fig, (ax_t, ax_xy) = plt.subplots(1, 2, figsize=(10, 4))
for k, name in enumerate(["x = sin(t)", "y = sin(t) cos(t)"]):
    ax_t.scatter(T_train[:, 0], Y_train[:, k], s=6, alpha=0.4, color=f"C{k}")
    ax_t.plot(t_grid[:, 0], curve[:, k], color=f"C{k}", label=name)
ax_t.set_xlabel("t")
ax_t.set_ylabel("output")
ax_t.legend()
ax_xy.scatter(Y_train[:, 0], Y_train[:, 1], s=6, alpha=0.4, color="grey")
ax_xy.plot(curve[:, 0], curve[:, 1], color="C3", label="network")
ax_xy.plot(np.sin(t_grid), np.sin(t_grid) * np.cos(t_grid), "k:", label="truth")
ax_xy.set_xlabel("x")
ax_xy.set_ylabel("y")
ax_xy.set_aspect("equal")
ax_xy.legend()
fig.tight_layout()
plt.show()
