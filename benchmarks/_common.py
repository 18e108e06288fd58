"""Shared helpers for the benchmark scripts (not a test suite: nothing here asserts on time)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def set_threads(n: int) -> None:
    """Same thread count for BLAS/OpenMP, torch and numba (call before heavy imports)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)


def apply_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


def machine_info() -> dict:
    import numpy as np
    import torch

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "numpy": np.__version__,
        "mem_total_gib": _mem_total_gib(),
        "loadavg_start": list(os.getloadavg()),
    }
    # versions from the installed metadata, not by importing: importing dcor loads numba's
    # compiled cache, which two benchmarks starting at once on a fresh install can race on
    # (seen: "LLVM ERROR: Symbol not found" killed a 7-minute run as it wrote its JSON)
    for dist in ("pyarrow", "scipy", "dcor", "hyppo", "numba"):
        try:
            info[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info[dist] = None
    if "numba" in sys.modules:  # a peer benchmark ran numba: its thread count
        info["numba_threads"] = sys.modules["numba"].get_num_threads()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def git_state(repo: Path, paths: tuple[str, ...] = ()) -> dict:
    """Commit of ``repo`` and the files under ``paths`` that differ from it (read-only git).

    A benchmark of a library under edit must say which code it measured: ``dirty`` lists the
    uncommitted changes (``git status --porcelain``) the run included."""
    def git(*a):
        return subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD") or None,
                "dirty": [ln for ln in git("status", "--porcelain", "--", *paths).splitlines()]}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def maxrss_mib() -> float:
    """Peak RSS of this process so far (Linux: ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_status_mib(field: str) -> float | None:
    """VmRSS / VmHWM from /proc/self/status in MiB (None off Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0: write 5 to /proc/self/clear_refs). True on success."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


PROBES = ("standard", "quantile")


def mlp_probe(x_tr, y_tr, x_te, seed: int, probe: str = "standard"):
    """Class-1 scores on ``x_te`` of an independent scikit-learn MLP probe (64 hidden units)
    fitted on ``(x_tr, y_tr)``.

    ``standard``: standardised columns, early stopping on a validation split. ``quantile``:
    each column through its training-row normal scores first (a monotone per-column map:
    the information is unchanged) and trained until its loss settles. A projection's output
    can have heavy-tailed columns that squeeze most rows together after standardisation, and
    early stopping on validation accuracy can stop a weak-signal probe before it learns; the
    standard probe then under-reads what the rows reveal (benchmarks/README.md, debias_adult).
    """
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}")
    quantile = probe == "quantile"
    sc = (QuantileTransformer(n_quantiles=min(1000, len(x_tr)), output_distribution="normal",
                              random_state=seed) if quantile else StandardScaler()).fit(x_tr)
    clf = MLPClassifier(hidden_layer_sizes=(64,), early_stopping=not quantile, max_iter=300,
                        random_state=seed).fit(sc.transform(x_tr), y_tr)
    return clf.predict_proba(sc.transform(x_te))[:, 1]


#: the strongest stock probes a user would try: the judge of every remover result
STOCK_PROBES = ("logistic", "mlp", "mlp-quantile", "trees")


def stock_probe(x_tr, y_tr, x_te, seed: int, probe: str):
    """Class-1 scores on ``x_te`` of one of :data:`STOCK_PROBES` fitted on ``(x_tr, y_tr)``:
    logistic regression on standardised columns; :func:`mlp_probe` ``standard`` (``mlp``)
    and ``quantile`` (``mlp-quantile``); scikit-learn's ``HistGradientBoostingClassifier``
    with its defaults (``trees``)."""
    if probe == "trees":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed).fit(x_tr, y_tr).predict_proba(
            x_te)[:, 1]
    if probe == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return model.fit(x_tr, y_tr).predict_proba(x_te)[:, 1]
    if probe not in STOCK_PROBES:
        raise ValueError(f"probe must be one of {STOCK_PROBES}")
    return mlp_probe(x_tr, y_tr, x_te, seed, "quantile" if probe == "mlp-quantile" else "standard")


def group_quantile(score, groups):
    """``score`` replaced, within each group, by its within-group quantile (rank / size):
    exactly independent of the group, and as informative as ``score`` inside each one."""
    import numpy as np
    from scipy.stats import rankdata

    q = np.empty(len(score), dtype=np.float64)
    for g in np.unique(groups):
        m = groups == g
        q[m] = rankdata(score[m]) / m.sum()
    return q


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def write_json(name: str, payload: dict) -> Path:
    """Atomic write of results/NAME.json (:func:`infomin_cli.io.writers.write_atomic`)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload["loadavg_end"] = list(os.getloadavg())
    payload["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    dest = RESULTS / f"{name}.json"
    from infomin_cli.io.writers import write_atomic

    write_atomic(dest, json.dumps(payload, indent=2, default=_default) + "\n")
    return dest


def _default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    return str(o)


def fmt(x, spec: str = ".3g") -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return format(x, spec)


def print_table(title: str, headers: list[str], rows: list[list]) -> None:
    """Rich table when rich is installed, else aligned plain text."""
    cells = [[c if isinstance(c, str) else fmt(c) for c in r] for r in rows]
    try:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title)
        for h in headers:
            t.add_column(h, justify="right")
        for r in cells:
            t.add_row(*r)
        Console(width=max(Console().width, 160)).print(t)
        return
    except ImportError:
        pass
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for r in cells:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
