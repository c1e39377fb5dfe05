"""The order of the gallery: from a first model to the machinery behind it."""

# Examples not listed here come after these, by file name.
ORDER = [
    "plot_quickstart.py",
    "plot_compare_sklearn.py",
    "plot_coming_from_sklearn.py",
    "plot_decision_boundaries.py",
    "plot_multioutput_regression.py",
    "plot_solvers_loss_curves.py",
    "plot_second_order.py",
    "plot_monotonic.py",
    "plot_gradient_check.py",
    "plot_persistence.py",
    "plot_onnx.py",
    "plot_dask.py",
]


class ExampleOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = str(filename).rsplit("/", 1)[-1]
        rank = ORDER.index(name) if name in ORDER else len(ORDER)
        return f"{rank:03d}-{name}"
