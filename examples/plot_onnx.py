"""
================
Deploy with ONNX
================

Export a fitted pipeline (a scaler and a :class:`~skbackprop.BackpropClassifier`)
to ONNX with skl2onnx, run it in onnxruntime, check that it predicts what
the pipeline predicts, and time a batch prediction in both.  The ONNX file
needs neither Python nor this package to be served.  Needs the ``onnx``
extra (``pip install "skbackprop[onnx]"``); see :ref:`onnx` in the user
guide.
"""

# %%
# A fitted pipeline
# -----------------
import timeit

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbackprop import BackpropClassifier, register_onnx_converters

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
model = make_pipeline(
    StandardScaler(),
    BackpropClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=0),
).fit(X_train, y_train)
print(f"test accuracy: {model.score(X_test, y_test):.3f}")

# %%
# Export
# ------
# :func:`~skbackprop.register_onnx_converters` tells skl2onnx how to convert
# the two estimators; then :func:`skl2onnx.to_onnx` converts the whole
# pipeline.  The example row fixes the input's type: float32 here, so the
# graph computes in float32 (pass float64 rows for a float64 graph).  With
# ``zipmap=False`` the probabilities come out as a matrix, as from
# ``predict_proba``, rather than as a list of dicts.
register_onnx_converters()
onx = to_onnx(
    model,
    X_train[:1].astype(np.float32),
    options={BackpropClassifier: {"zipmap": False}},
)
blob = onx.SerializeToString()  # what you would write to model.onnx
print(f"{len(blob) / 1024:.0f} KiB;", [node.op_type for node in onx.graph.node])

# %%
# Run it in onnxruntime
# ---------------------
# The graph has the two outputs of skl2onnx's classifiers: the labels and
# the probabilities.  Both sides run on one thread, for a fair comparison.
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
X32 = X_test.astype(np.float32)
input_name = session.get_inputs()[0].name  # "X"
labels, proba = session.run(None, {input_name: X32})

difference = np.abs(proba - model.predict_proba(X32)).max()
print(f"largest difference in probabilities: {difference:.1e}")
print("identical labels:", np.array_equal(labels, model.predict(X32)))

# %%
# The differences are float32 rounding: the pipeline computes in float64
# from the float32 input, the graph in float32 throughout.
#
# Batch prediction time
# ---------------------
# A batch of about 10,000 rows, the test set repeated, and a single row.
batch = np.tile(X32, (25, 1))
one_row = X32[:1]


def best_of(function, number):
    return min(timeit.repeat(function, number=number, repeat=5)) / number


with threadpool_limits(1):
    times = {
        "predict": [best_of(lambda: model.predict(batch), 3)],
        "onnxruntime": [best_of(lambda: session.run(None, {input_name: batch}), 3)],
    }
    times["predict"].append(best_of(lambda: model.predict(one_row), 50))
    times["onnxruntime"].append(
        best_of(lambda: session.run(None, {input_name: one_row}), 50)
    )

for name, (t_batch, t_one) in times.items():
    print(
        f"{name:>11}: {t_batch * 1e3:6.2f} ms for {len(batch)} rows, "
        f"{t_one * 1e6:7.1f} us for one row"
    )

fig, axes = plt.subplots(1, 2, figsize=(8, 2.5), layout="constrained")
for ax, k, unit, scale in [(axes[0], 0, "ms", 1e3), (axes[1], 1, "µs", 1e6)]:
    names = list(times)
    ax.barh(names, [times[n][k] * scale for n in names], color=["C0", "C1"])
    ax.set_xlabel(unit)
axes[0].set_title(f"{len(batch)} rows")
axes[1].set_title("one row")
plt.show()

# %%
# onnxruntime runs the graph's few compiled kernels (the scaler, one Gemm
# per layer, the activations) in float32, without the estimator's input
# checks and Python calls; those are nearly all of a single row's time.
