"""Peak memory of an L-BFGS fit, each in a fresh subprocess, for every m.

5. For skbackprop and scikit-learn: the peak of numpy/Python allocations
   during ``fit`` (tracemalloc; the data are made before it starts) and the
   peak resident set size during ``fit`` minus the one before it.

Part of ``run.py``'s suite, which writes the results; run alone it prints
its table::

    python benchmarks/bench_memory.py [--quick]
"""

import argparse
import json
import subprocess
import sys
import tracemalloc

from _common import fit_quietly
from bench_fit import lbfgs_estimator
from bench_gradient import DTYPES, make_data, plot_against_m

FULL = {
    "mem_m": [10_000, 40_000, 160_000],
    "mem_iter": 1,
    "mem_dtypes": ["float64", "float32"],
}
QUICK = {"mem_m": [2_000, 8_000], "mem_iter": 1, "mem_dtypes": ["float64"]}


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def child(spec):
    """Run one fit and print its memory use as JSON (called in a subprocess)."""
    import resource

    X, y, _, _ = make_data(spec["m"], DTYPES[spec["dtype"]])
    data_mib = (X.nbytes + y.nbytes) / 2**20
    try:  # reset the peak RSS to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    rss_before = _status_kib("VmRSS")
    tracemalloc.start()
    fit_quietly(lbfgs_estimator(spec["lib"], spec["max_iter"]), X, y)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _status_kib("VmHWM") if reset else None
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                **spec,
                "data_mib": data_mib,
                "rss_before_mib": rss_before / 1024 if rss_before else None,
                "peak_rss_mib": hwm / 1024,
                "rss_increase_mib": (hwm - rss_before) / 1024 if rss_before else None,
                "traced_peak_mib": traced_peak / 2**20,
                "peak_rss_reset": reset,
            }
        )
    )


def bench_memory(cfg):
    rows = []
    for m in cfg["mem_m"]:
        for name in cfg["mem_dtypes"]:
            for lib in ("skbackprop", "sklearn"):
                spec = {"lib": lib, "m": m, "dtype": name, "max_iter": cfg["mem_iter"]}
                out = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(spec)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(r)
                print(
                    f"memory {lib:10s} m={m:6d} {name}: fit allocates "
                    f"{r['traced_peak_mib']:7.1f} MiB (traced), RSS +"
                    f"{r['rss_increase_mib']:7.1f} MiB (data {r['data_mib']:.0f} MiB)"
                )
    return rows


def run(cfg):
    """The memory results of ``cfg`` (keys of :data:`FULL`)."""
    return {"memory": bench_memory(cfg)}


# -- report --------------------------------------------------------------------
def targets(results):
    """``(target, measured, met)``: the memory beyond the data independent of
    m, and at most scikit-learn's."""
    checks = []
    mem = results["memory"]
    for name in DTYPES:
        ours = sorted(
            (r for r in mem if r["lib"] == "skbackprop" and r["dtype"] == name),
            key=lambda r: r["m"],
        )
        theirs = {
            r["m"]: r for r in mem if r["lib"] == "sklearn" and r["dtype"] == name
        }
        if len(ours) < 2:
            continue
        lo, hi = ours[0], ours[-1]
        # tracemalloc starts after the data are made: the peaks exclude them.
        extra = [r["traced_peak_mib"] for r in (lo, hi)]
        per_row = (extra[1] - extra[0]) * 2**20 / (hi["m"] - lo["m"])
        checks.append(
            (
                f"fit memory beyond the data independent of m, {name}: "
                f"allocated during fit at m={lo['m']} -> m={hi['m']}",
                f"{extra[0]:.0f} -> {extra[1]:.0f} MiB ({per_row:.0f} B per "
                f"extra row; the data take {hi['data_mib'] * 2**20 / hi['m']:.0f})",
                None,
            )
        )
        worse = [
            r["m"]
            for r in ours
            if r["traced_peak_mib"] > theirs[r["m"]]["traced_peak_mib"]
        ]
        checks.append(
            (
                f"fit memory at most sklearn's, {name}",
                "yes" if not worse else f"more at m={worse}",
                not worse,
            )
        )
    return checks


def markdown(results, cfg):
    """The memory section of ``results.md``."""
    out = [
        f"## Peak memory of an L-BFGS fit (max_iter={cfg['mem_iter']}), "
        "each in a fresh process",
        "",
        "`traced`: peak of numpy/Python allocations during fit, the data "
        "excluded (tracemalloc); "
        "`RSS +`: peak resident memory during fit minus the resident memory "
        "before it (the data included).",
        "",
        "| m | dtype | library | data MiB | traced MiB | RSS + MiB |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for r in results["memory"]:
        out.append(
            f"| {r['m']} | {r['dtype']} | {r['lib']} | {r['data_mib']:.1f} | "
            f"{r['traced_peak_mib']:.1f} | {r['rss_increase_mib']:.1f} |"
        )
    return out


def plot(ax, results):
    """Peak allocations during the fit against m."""
    plot_against_m(ax, results["memory"], "traced_peak_mib")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows m")
    ax.set_ylabel("MiB allocated during fit (peak)")
    ax.set_title("Peak memory of an L-BFGS fit")
    ax.legend(fontsize=8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return
    cfg = QUICK if args.quick else FULL
    results = run(cfg)
    print("\n".join(markdown(results, cfg)))


if __name__ == "__main__":
    main()
