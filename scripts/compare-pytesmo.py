#!/usr/bin/env python3
"""Optional check (not run by scripts/test): landcycle's per-cell verification metrics
against pytesmo computed on the same history files.

    python3 scripts/compare-pytesmo.py --truth TRUTHDIR --run RUNDIR --maps MAPS.nc \
        [--anomaly-window-days 35] [--min-samples 10] [--variable SoilMoistV]

MAPS.nc is what `landcycle verify --truth TRUTHDIR --run RUNDIR --maps MAPS.nc` wrote with
the same window and minimum sample count. The script reads both directories' history files
(`LC_HIST_*.nc`, anywhere below, paired by valid time from the file name, as `verify` does),
computes per land cell and soil layer pytesmo's metrics of run (y) against reference (x):

    bias(y, x), rmsd, ubrmsd, pearson_r with pairwise.pearson_r_ci (Fisher z, 95 %), scipy's p-value, spearman_r,
    and pearson_r of calc_anomaly(window_size=W) of each paired series,

and prints per metric the largest absolute difference to the map, the cells compared, and
the cells defined in only one of the two.

    python3 scripts/compare-pytesmo.py --tca TCA.nc --tca-dataset A=DIR --tca-dataset B=DIR \
        --tca-dataset C=DIR [--layer 1] [--min-samples 10]

compares `landcycle tca --dataset A=hist:DIR:1 ... --window-hours H --no-significance
--min-samples N --maps TCA.nc` (H = the history interval, so every bin holds one history
time) with pytesmo's `tcol_metrics` per cell: error variances (pytesmo's are scaled into the
first dataset's space; divided by beta² here to get each dataset's own, as landcycle reports
them), SNR in dB and fMSE = 1 / (1 + SNR). Needs numpy, scipy, pandas, netCDF4 and pytesmo
(docs/verification.md, "pytesmo comparison", says which versions were used).
"""

import argparse
import glob
import os
import re
import sys

import numpy as np
import pandas as pd
from netCDF4 import Dataset
from scipy import stats

import pytesmo
from pytesmo import metrics
from pytesmo.metrics import pairwise
from pytesmo.time_series.anomaly import calc_anomaly

NAME = re.compile(r"^LC_HIST_(\d{12})\.nc$")


def history_files(directory):
    """Valid time -> path of every history file under `directory`."""
    out = {}
    for path in glob.glob(os.path.join(directory, "**", "LC_HIST_*.nc"), recursive=True):
        m = NAME.match(os.path.basename(path))
        if m:
            out[pd.Timestamp(m.group(1)[:8] + "T" + m.group(1)[8:])] = path
    return out


def read_field(path, variable):
    """`[layer, y, x]` float64 with fill values as NaN (float32 on file, widened exactly):
    `variable` (the ensemble mean), else `<variable>_member` (the OSSE nature run has one
    member; with several, their mean accumulated as landcycle does, x/m member by member)."""
    with Dataset(path) as f:
        name = variable if variable in f.variables else variable + "_member"
        v = f.variables[name]
        v.set_auto_mask(True)
        a = np.ma.filled(v[:].astype(np.float64), np.nan)
        dims = v.dimensions
    if "member" in dims:
        a = np.moveaxis(a, dims.index("member"), 0)
        m = a.shape[0]
        mean = np.zeros(a.shape[1:])
        for b in a:
            mean += b / m
        a = mean
    return a.reshape((-1,) + a.shape[-2:])


def load(truth_dir, run_dir, variable):
    tf, rf = history_files(truth_dir), history_files(run_dir)
    times = sorted(set(tf) & set(rf))
    if not times:
        sys.exit(f"no common valid times under {truth_dir} and {run_dir}")
    x = np.stack([read_field(tf[t], variable) for t in times])
    y = np.stack([read_field(rf[t], variable) for t in times])
    return pd.DatetimeIndex(times), x, y


def cell_metrics(index, x, y, window, min_samples):
    """pytesmo's metrics of one cell, or None below `min_samples` pairs."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < max(min_samples, 1):
        return None
    idx, x, y = index[ok], x[ok], y[ok]
    r = metrics.pearson_r(y, x)
    lo, hi = pairwise.pearson_r_ci(y, x, r)
    ax = calc_anomaly(pd.Series(x, index=idx), window_size=window).values
    ay = calc_anomaly(pd.Series(y, index=idx), window_size=window).values
    ar = metrics.pearson_r(ay, ax)
    alo, ahi = pairwise.pearson_r_ci(ay, ax, ar)
    return {
        "n": float(len(x)),
        "bias": metrics.bias(y, x),
        "rmse": metrics.rmsd(y, x),
        "ubrmse": metrics.ubrmsd(y, x),
        "r": r,
        "r_ci_lower": lo,
        "r_ci_upper": hi,
        "r_p_value": stats.pearsonr(y, x)[1],
        "spearman_rho": metrics.spearman_r(y, x),
        "anomaly_r": ar,
        "anomaly_r_ci_lower": alo,
        "anomaly_r_ci_upper": ahi,
    }


def read_maps(path):
    with Dataset(path) as f:
        out = {}
        for name, v in f.variables.items():
            if v.ndim == 3:
                v.set_auto_mask(True)
                out[name] = np.ma.filled(v[:].astype(np.float64), np.nan)
        return out


def compare_tca(a):
    """`--tca`: landcycle tca maps against pytesmo's tcol_metrics on the same history files."""
    from pytesmo.metrics import tcol_metrics
    labels, dirs = zip(*(d.split("=", 1) for d in a.tca_dataset))
    files = [history_files(d) for d in dirs]
    times = sorted(set(files[0]) & set(files[1]) & set(files[2]))
    data = [np.stack([read_field(f[t], a.variable)[a.layer - 1] for t in times]) for f in files]
    maps = {}
    with Dataset(a.tca) as f:
        for name, v in f.variables.items():
            if v.ndim == 2 and name not in ("lat", "lon"):
                v.set_auto_mask(True)
                maps[name] = np.ma.filled(v[:].astype(np.float64), np.nan)
    worst, neg = {}, {}
    ny, nx = data[0].shape[1:]
    for j in range(ny):
        for i in range(nx):
            s = [d[:, j, i] for d in data]
            ok = np.isfinite(s[0]) & np.isfinite(s[1]) & np.isfinite(s[2])
            ref = {}
            if ok.sum() >= a.min_samples:
                x, y, z = (v[ok] for v in s)
                q = np.cov(np.vstack([x, y, z]))  # n - 1, as landcycle
                if min(q[0, 1], q[0, 2], q[1, 2]) > 0:
                    snr, err_std, beta = tcol_metrics(x, y, z, ref_ind=0)
                    # pytesmo's err_std is sqrt(err_var) * beta: NaN for a negative estimate,
                    # whose SNR it still gives (|.| in its formula); landcycle leaves all
                    # three of that dataset undefined (status negative_error_variance), also
                    # for an estimate that is zero to rounding (<= 1e-12 of the variance).
                    for k, l in enumerate(labels):
                        own = (err_std[k] / beta[k]) ** 2
                        if not own > 1e-12 * q[k, k]:
                            neg[l] = neg.get(l, 0) + 1
                            continue
                        # Scaled into x's space by beta; landcycle keeps each dataset's own.
                        ref[f"{l}_err_var"] = (err_std[k] / beta[k]) ** 2
                        ref[f"{l}_snr_db"] = snr[k]
                        ref[f"{l}_fmse"] = 1.0 / (1.0 + 10 ** (snr[k] / 10.0))
            for name in [f"{l}_{m}" for l in labels for m in ("err_var", "snr_db", "fmse")]:
                r, g = ref.get(name, np.nan), maps[name][j, i]
                w = worst.setdefault(name, [0.0, 0, 0])
                if np.isfinite(r) and np.isfinite(g):
                    w[0] = max(w[0], abs(r - g) / (abs(r) if name.endswith("err_var") else 1.0))
                    w[1] += 1
                elif np.isfinite(r) != np.isfinite(g):
                    w[2] += 1
    print(f"pytesmo {pytesmo.__version__} tcol_metrics, {len(times)} common valid times, layer {a.layer}")
    print(f"{'variable':<22} {'cells':>6} {'one-sided':>9} {'max diff':>10}  (err_var: relative)")
    for name, (d, n, one) in worst.items():
        print(f"{name:<22} {n:>6} {one:>9} {d:>10.3e}")
    print("cells with a negative error variance estimate (left out): "
          + ", ".join(f"{l} {neg.get(l, 0)}" for l in labels))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--truth")
    p.add_argument("--run")
    p.add_argument("--maps")
    p.add_argument("--variable", default="SoilMoistV")
    p.add_argument("--anomaly-window-days", type=float, default=35.0)
    p.add_argument("--min-samples", type=int, default=10)
    p.add_argument("--tca", metavar="TCA.nc",
                   help="compare `landcycle tca --maps TCA.nc` instead (with three --tca-dataset)")
    p.add_argument("--tca-dataset", action="append", default=[], metavar="LABEL=DIR")
    p.add_argument("--layer", type=int, default=1)
    a = p.parse_args()
    if a.tca:
        return compare_tca(a)

    index, x, y = load(a.truth, a.run, a.variable)
    maps = read_maps(a.maps)
    nt, nl, ny, nx = x.shape
    names = ["n", "bias", "rmse", "ubrmse", "r", "r_ci_lower", "r_ci_upper", "r_p_value",
             "spearman_rho", "anomaly_r", "anomaly_r_ci_lower", "anomaly_r_ci_upper"]
    worst = {}
    for k in range(nl):
        for j in range(ny):
            for i in range(nx):
                m = cell_metrics(index, x[:, k, j, i], y[:, k, j, i],
                                 a.anomaly_window_days, a.min_samples)
                m = m or {}
                for name in names:
                    ref = m.get(name, np.nan)
                    got = maps[name][k, j, i] if name in maps else np.nan
                    w = worst.setdefault((k, name), [0.0, 0, 0, None])
                    if np.isfinite(ref) and np.isfinite(got):
                        d = abs(ref - got)
                        if d > w[0]:
                            w[0], w[3] = d, (j, i)
                        w[1] += 1
                    elif np.isfinite(ref) != np.isfinite(got):
                        w[2] += 1
    print(f"pytesmo {pytesmo.__version__}, numpy {np.__version__}, "
          f"scipy {__import__('scipy').__version__}, pandas {pd.__version__}")
    print(f"{nt} common valid times {index[0]} .. {index[-1]}, {nl} layers, {ny}x{nx} cells, "
          f"anomaly window {a.anomaly_window_days} days, min samples {a.min_samples}")
    print(f"{'layer':>5} {'metric':<20} {'cells':>6} {'one-sided':>9} {'max |diff|':>11}  at (y, x)")
    overall = 0.0
    for (k, name), (d, n, one, at) in sorted(worst.items()):
        if name == "n":
            continue
        overall = max(overall, d)
        print(f"{k + 1:>5} {name:<20} {n:>6} {one:>9} {d:>11.3e}  {at}")
    print(f"largest difference over all metrics and layers: {overall:.3e}")


if __name__ == "__main__":
    main()
