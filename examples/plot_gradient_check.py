"""
==================================================
Checking the gradient by finite differences
==================================================

:func:`~skbackprop.cost_grad` returns the cost ``J`` and its analytic
gradient ``D``; :func:`~skbackprop.check_gradient` compares ``D`` with
central finite differences of ``J`` and returns the relative error.  Here
the check runs over every activation, every loss and a range of penalties,
then shows how the error depends on the finite-difference step, and that a
subtly wrong gradient does not pass.
"""

# %%
# Every activation, loss and penalty
# ----------------------------------
# A small network (3 inputs, hidden layers of 5 and 4 units) on random data,
# with targets in each loss's encoding and random sample weights.
import matplotlib.pyplot as plt
import numpy as np

from skbackprop import check_gradient, cost_grad, init_params

rng = np.random.default_rng(0)
m = 40
X = rng.normal(size=(m, 3))
sample_weight = rng.uniform(0.5, 2.0, size=m)
targets = {
    "log_loss": np.eye(3)[rng.integers(0, 3, m)],  # one-hot rows
    "binary_log_loss": rng.integers(0, 2, size=(m, 3)).astype(float),
    "squared_error": rng.normal(size=(m, 3)),
    "poisson": rng.poisson(2.0, size=(m, 3)).astype(float),
}
sizes = (3, 5, 4, 3)
activations = ["identity", "logistic", "tanh", "relu"]
alphas = [0.0, 0.1, 10.0]

errors = {}
header = "".join(f"  alpha={a:<6g}" for a in alphas)
print(f"{'activation':>10s} {'loss':>16s}{header}")
for activation in activations:
    theta = init_params(sizes, activation, random_state=0)
    for loss, Y in targets.items():
        row = []
        for alpha in alphas:
            args = (X, Y, sizes, activation, loss, alpha, sample_weight)
            row.append(check_gradient(cost_grad, theta, args))
        errors[activation, loss] = row
        print(f"{activation:>10s} {loss:>16s}" + "".join(f"  {e:12.2e}" for e in row))
largest = max(max(row) for row in errors.values())
print(f"largest relative error: {largest:.1e}")

# %%
# Every relative error is far below the threshold the package's test suite
# uses, 1e-7 (see :ref:`gradient_check` in the user guide; the largest error
# is printed above): ``D`` is the gradient of ``J`` for every setting (ReLU
# included: random points are almost surely away from its kink).
THRESHOLD = 1e-7
fig, ax = plt.subplots(figsize=(8, 4))
labels = [f"{a}\n{loss}" for a, loss in errors]
values = np.array(list(errors.values()))
for j, alpha in enumerate(alphas):
    ax.scatter(range(len(labels)), values[:, j], label=f"alpha={alpha:g}", s=20)
ax.axhline(THRESHOLD, color="grey", linestyle=":", label="test suite's threshold")
ax.set_yscale("log")
ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
ax.set_ylabel("relative error |D - D_fd| / |D|")
ax.set_title("Analytic gradient against central differences")
ax.legend(fontsize="small")
fig.tight_layout()

# %%
# The step size
# -------------
# Central differences have a truncation error of order ``h**2`` and a
# rounding error of order ``eps_machine / h``; the default relative step
# ``eps_machine ** (1/3)`` (about 6e-6) balances the two.
theta = init_params(sizes, "tanh", random_state=0)
args = (X, targets["log_loss"], sizes, "tanh", "log_loss", 0.1)
steps = np.logspace(-12, -1, 23)
step_errors = [check_gradient(cost_grad, theta, args, eps=h) for h in steps]

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(steps, step_errors, marker="o")
ax.axvline(np.finfo(float).eps ** (1 / 3), color="grey", linestyle=":")
ax.text(np.finfo(float).eps ** (1 / 3), max(step_errors), " default step", va="top")
ax.set_xlabel("relative step eps (h = eps * max(1, |theta_k|))")
ax.set_ylabel("relative error")
ax.set_title("Truncation error (right) against rounding error (left)")
fig.tight_layout()

# %%
# A wrong gradient does not pass
# ------------------------------
# A classic slip: penalizing the biases in the gradient while the cost
# leaves them out.  The check fails it by orders of magnitude (printed).
n_coefs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def wrong_cost_grad(theta, *args):
    J, D = cost_grad(theta, *args)
    alpha = args[5]
    D = D.copy()
    D[n_coefs:] += alpha * theta[n_coefs:] / len(X)  # the biases, wrongly
    return J, D


right = check_gradient(cost_grad, theta, args)
wrong = check_gradient(wrong_cost_grad, theta, args)
print(f"right gradient: {right:.1e} (threshold {THRESHOLD:.0e})")
print(f"wrong gradient: {wrong:.1e}, {wrong / THRESHOLD:.0e} times the threshold")
plt.show()
