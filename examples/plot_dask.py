"""
=========================================
Training on a Dask array across a cluster
=========================================

The batch gradient ``D`` is a sum over the examples, so it splits exactly over
the row blocks of a :mod:`dask.array`.  When ``fit`` receives Dask
collections, the data are validated with reductions and persisted on the
workers once; then every evaluation of the cost sends only the parameter
vector to the workers, each block computes its loss sum and its
unnormalized ``Delta`` and bias sums, and one parameter-sized vector comes
back.  The optimizer (here SciPy's L-BFGS-B) runs on the client as usual, and
the weights are those of the in-memory fit.

This example starts a small local cluster; pointing it at a real cluster is
one line (see the end).
"""

# %%
# A local cluster
# ---------------
# Two workers with one thread each.  ``processes=False`` keeps them in this
# process, which suits a short example; a real deployment has one process (or
# machine) per worker, and nothing below changes.  The scheduler always
# serves HTTP (its dashboard, when bokeh is installed, and health checks);
# ``dashboard_address="127.0.0.1:0"`` puts it on a free port of this machine
# only, instead of the default 8787, which may be taken by another cluster.
import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from skbackprop import BackpropClassifier

cluster = LocalCluster(
    n_workers=2,
    threads_per_worker=1,
    processes=False,
    dashboard_address="127.0.0.1:0",
)
client = Client(cluster)

# %%
# Data made on the workers
# ------------------------
# 20,000 rows in 4 blocks, generated where they will be used (nothing travels
# through the client): two informative features, a curved class boundary, and
# 18 noise features, measured in units from 0.01 to 1000, as raw data often
# are.
rng = da.random.default_rng(0)
Z = rng.normal(size=(20_000, 20), chunks=(5_000, 20))
X_raw = 10.0 + Z * np.logspace(-2, 3, 20)
y = (Z[:, 0] + 0.5 * Z[:, 1] ** 2 > 0.5).astype(int)
print(f"X: dask array {X_raw.shape}, {X_raw.numblocks[0]} blocks of 5,000 rows")

# %%
# Scaling on the cluster
# ----------------------
# Standardize as for any network, but with Dask: the means and standard
# deviations are two reductions on the workers, and the scaled array stays
# lazy.  (scikit-learn's ``StandardScaler`` would load ``X`` into memory and
# return NumPy; dask-ml's ``StandardScaler`` does the same as these lines, and
# fits in a pipeline.)  ``mean`` and ``std`` scale new data the same way.
mean, std = dask.compute(X_raw.mean(axis=0), X_raw.std(axis=0))
X = (X_raw - mean) / std
print(f"feature scales {std.min():.2g} to {std.max():.2g}; scaled: {type(X)}")

# %%
# Fit on the Dask arrays
# ----------------------
# The same estimator and the same call as for NumPy arrays.  Label encoding
# and the checks for NaN run on the cluster: only the unique labels reach the
# client.  ``tol=1e-3`` stops L-BFGS-B once no gradient component exceeds
# 1e-3, which this problem reaches in a few dozen iterations (at the default
# ``tol=1e-4`` it takes a few hundred, slow for a gallery example).
params = dict(
    hidden_layer_sizes=(8,), activation="tanh", tol=1e-3, max_iter=200, random_state=0
)
clf = BackpropClassifier(**params)
clf.fit(X, y)
print(f"classes {clf.classes_}, {clf.n_iter_} iterations, loss {clf.loss_:.4f}")
print(f"L-BFGS-B: {clf.optimize_result_.message}")

# %%
# Predictions stay lazy
# ---------------------
# ``predict`` and ``predict_proba`` return Dask arrays computed block by
# block; ``score`` computes the accuracy on the cluster and returns a float.
proba = clf.predict_proba(X)
print(f"predict_proba: lazy dask array {proba.shape}, row blocks {proba.chunks[0]}")
print(f"training accuracy {clf.score(X, y):.4f}")

# %%
# The same weights as in memory
# -----------------------------
# The blocks' sums are added in another order than the in-memory engine adds
# its chunks, so the weights agree to rounding, and the loss curves coincide.
X_np, y_np = X.compute(), y.compute()
in_memory = BackpropClassifier(**params).fit(X_np, y_np)
print(f"in memory: {in_memory.n_iter_} iterations, loss {in_memory.loss_:.4f}")
difference = max(
    np.abs(a - b).max()
    for a, b in zip(
        clf.coefs_ + clf.intercepts_,
        in_memory.coefs_ + in_memory.intercepts_,
        strict=True,
    )
)
print(f"largest weight difference: {difference:.1e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(in_memory.loss_curve_, lw=4, alpha=0.4, label="NumPy arrays")
ax.plot(clf.loss_curve_, "k--", label="Dask arrays, 2 workers")
ax.set(xlabel="L-BFGS-B iteration", ylabel="training loss J", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# On a real cluster
# -----------------
# Connect a client to the scheduler of a running cluster (started with
# ``dask scheduler`` and ``dask worker``, or by dask-jobqueue,
# dask-kubernetes, Coiled...) before calling ``fit``; load the data with
# Dask on the workers (``dask.dataframe.read_parquet``,
# ``dask.array.from_zarr``...) rather than from the client::
#
#     from distributed import Client
#     client = Client("tcp://scheduler-address:8786")
#     X = dask.dataframe.read_parquet("s3://bucket/features/")
#     clf.fit(X, y)
#
# Each iteration then costs the slowest worker's share of the forward and
# backward passes plus the transfer of a few parameter-sized vectors.
client.close()
cluster.close()
