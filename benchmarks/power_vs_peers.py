"""Power and size of the audit and its tests vs dcor and hyppo; time of one test.

    python benchmarks/power_vs_peers.py --part power --threads 1     # power/size table
    python benchmarks/power_vs_peers.py --part time  --threads 1     # time of one test
    python benchmarks/power_vs_peers.py --quick [--part power]       # ~1 minute smoke run

Relations (Z: n x 5 standard normal, T 1-D continuous, noise fixed a priori, see below):
linear T = Z1 + e; parabola T = Z1^2 + e; sine T = sin(2 Z1) + e; circle Z1 = cos(th) + e1,
T = sin(th) + e2; independent T ~ N(0, 1) (the null cell: its rejection rate is the size).

Noise criterion (method independent, fixed before any method was run): the *oracle*
correlation, i.e. the correlation of the true pair of transforms, is ``--oracle-rho``
(default 0.1) for every relation: corr(f(Z1), T) for the functional relations
(sigma^2 = Var f (1 - r^2) / r^2) and corr(Z1^2, T^2) for the circle.

Power part. Per cell (relation x n, n in ``--power-ns``, default 1,000 and 2,000) the rejection
rate at alpha = 0.05 over ``--reps`` datasets (``--null-reps`` for the independent cell; both
500 by default), with its binomial standard error sqrt(r (1 - r) / reps), of:

* ``si``: ``im.sliced_dependence`` (default SlicedConfig except ``permutations=perms``,
  ``bootstrap=0``), rejects when p < alpha;
* ``linear``: ``im.linear_dependence`` (``LinearConfig(permutations=perms, bootstrap=0)``);
* ``audit``: the library's verdict, ``im.audit_arrays(z, [attr], config, policy).verdict ==
  "fail"`` with ``config, policy = im.audit_settings({"estimators": "sliced,linear",
  "permutations": perms, "alpha": alpha, "seed": rep, "device": "cpu"})`` -- whatever
  combination and multiplicity rule the installed library applies;
* ``audit_rho``: the same with ``estimators="sliced,linear,rho"``, on the first
  ``--rho-reps`` datasets of every cell only (default 0 = not run: see README for its cost);
* ``dcor``: dcor's distance covariance permutation test, i.e. exactly
  ``dcor.independence.distance_covariance_test(z, t, num_resamples=perms,
  random_state=rep).pvalue``; evaluated with the same permutation stream and statistic by a
  numba kernel (:func:`dcor_perm_test`, ~40x faster), checked against the library call on the
  first ``--dcor-check`` datasets of every cell (p-values must be equal);
* ``hyppo_dcorr``, ``hyppo_hsic``: hyppo ``Dcorr().test`` / ``Hsic().test`` (``workers=1``,
  ``auto=True`` by default: hyppo's chi-square approximation; its permutation test costs
  ~50 s per call at n = 2,000).

Dataset ``rep`` of a cell is generated from seed 1_000_003 (relation index + 1) + 1009 n + rep;
every method gets ``seed = rep`` (permutations, slices, splits). Every method sees the same
datasets, so the differences between columns are paired (the goal table gives their paired
standard error). Rejection is p < alpha for p-values of the form (k + 1) / (perms + 1); with
200 permutations no such value equals 0.05, so < and <= agree.

Time part. Every method gets the same permutation count (``--perms``, default 200) and the
same thread count (torch, numba, BLAS). Peers: dcor ``distance_covariance_test`` (the library
call), hyppo ``Dcorr().test(reps=perms, auto=False)`` and ``Hsic().test(reps=perms,
auto=False)`` (permutation p-values, workers=1); hyppo ``Dcorr(auto=True)`` for reference.
Each timed test runs in a fresh subprocess (after a small warm-up call that triggers numba
compilation) with a wall-clock cap; peers are skipped where their predicted peak memory
(quadratic from the previous n) exceeds ``--mem-cap-gib``, and a clearly labelled
extrapolation from the measured growth exponent is given instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common as C  # noqa: E402

ALPHA = 0.05
RELATIONS = ("linear", "parabola", "sine", "circle", "independent")
NULL = "independent"
# time part
METHODS = ("si", "dcor", "hyppo_dcorr", "hyppo_hsic")
TIME_METHODS = METHODS + ("hyppo_dcorr_auto",)
# power part
OURS = ("si", "linear", "audit", "audit_rho")
PEERS = ("dcor", "hyppo_dcorr", "hyppo_hsic")
POWER_METHODS = OURS + PEERS
AUDIT_ESTIMATORS = {"audit": "sliced,linear", "audit_rho": "sliced,linear,rho"}
SHORT = {"si": "SI", "dcor": "dcor", "hyppo_dcorr": "hDcorr", "hyppo_hsic": "hHsic",
         "hyppo_dcorr_auto": "hDcorr-auto", "linear": "linear", "audit": "audit",
         "audit_rho": "audit+ρ*"}
D = 5


def noise_sigma(relation: str, r: float) -> float:
    if relation == "circle":
        # |corr(Z1^2, T^2)| = (1/8) / (1/8 + 2 s^2 + 2 s^4) = r
        c = 1 / 8 - 1 / (8 * r)
        s2 = (-2 + math.sqrt(4 - 8 * c)) / 4
        return math.sqrt(s2)
    var_f = {"linear": 1.0, "parabola": 2.0, "sine": (1 - math.exp(-8)) / 2}.get(relation)
    if var_f is None:
        return 1.0
    return math.sqrt(var_f * (1 - r * r) / (r * r))


def generate(relation: str, n: int, seed: int, r: float):
    import numpy as np

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, D))
    s = noise_sigma(relation, r)
    if relation == "linear":
        t = z[:, 0] + s * rng.standard_normal(n)
    elif relation == "parabola":
        t = z[:, 0] ** 2 + s * rng.standard_normal(n)
    elif relation == "sine":
        t = np.sin(2 * z[:, 0]) + s * rng.standard_normal(n)
    elif relation == "circle":
        th = rng.uniform(0, 2 * np.pi, n)
        z[:, 0] = np.cos(th) + s * rng.standard_normal(n)
        t = np.sin(th) + s * rng.standard_normal(n)
    elif relation == "independent":
        t = rng.standard_normal(n)
    else:
        raise ValueError(relation)
    return z, t


def data_seed(relation: str, n: int, rep: int) -> int:
    return 1_000_003 * (RELATIONS.index(relation) + 1) + 1009 * n + rep


def run_test(method: str, z, t, perms: int, seed: int, hyppo_auto: bool = False) -> float:
    """p-value of one test (``dcor`` here is the library call)."""
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # hyppo: "reps under 1000"

    if method == "si":
        import infomin_cli as im

        cfg = im.SlicedConfig(permutations=perms, bootstrap=0)
        return im.sliced_dependence(z.astype(np.float32), im.Attribute.continuous("t", t), cfg,
                                    seed=seed, device="cpu").p_value
    if method == "linear":
        import infomin_cli as im

        return im.linear_dependence(z.astype(np.float32), im.Attribute.continuous("t", t),
                                    im.LinearConfig(permutations=perms, bootstrap=0), seed=seed,
                                    device="cpu").p_value
    y = t.reshape(-1, 1)
    if method == "dcor":
        import dcor

        return dcor.independence.distance_covariance_test(
            z, y, num_resamples=perms, random_state=seed).pvalue
    from hyppo.independence import Dcorr, Hsic

    if method == "hyppo_dcorr":
        return Dcorr().test(z, y, reps=perms, workers=1, auto=hyppo_auto,
                             random_state=seed)[1]
    if method == "hyppo_hsic":
        return Hsic().test(z, y, reps=perms, workers=1, auto=hyppo_auto, random_state=seed)[1]
    if method == "hyppo_dcorr_auto":
        return Dcorr().test(z, y, reps=perms, workers=1, auto=True, random_state=seed)[1]
    raise ValueError(method)


def audit_verdict(z, t, perms: int, seed: int, estimators: str, alpha: float = ALPHA) -> str:
    """The library's verdict on one attribute ("fail" = dependence detected)."""
    import numpy as np

    import infomin_cli as im

    config, policy = im.audit_settings({"estimators": estimators, "permutations": perms,
                                        "alpha": alpha, "seed": seed, "device": "cpu"})
    res = im.audit_arrays(z.astype(np.float32), [im.Attribute.continuous("t", t)], config, policy)
    return str(res.verdict)


_PERM_SUMS = None


def _perm_sums_kernel():
    global _PERM_SUMS
    if _PERM_SUMS is None:
        import numba

        @numba.njit(fastmath=True, cache=False)
        def perm_sums(a, wt):
            """out[b] = sum_{k<j} a[k, j] |wt[k, b] - wt[j, b]| for every column b."""
            n, nb = wt.shape
            acc = wt[0] * 0.0  # zeros(nb), without numpy in this closure
            for k in range(n):
                wk = wt[k]
                for j in range(k + 1, n):
                    u = a[k, j]
                    wl = wt[j]
                    for b in range(nb):
                        acc[b] += u * abs(wk[b] - wl[b])
            return acc

        _PERM_SUMS = perm_sums
    return _PERM_SUMS


def dcor_perm_test(z, t, perms: int, seed: int) -> float:
    """``dcor.independence.distance_covariance_test(z, t, num_resamples=perms,
    random_state=seed).pvalue``, computed faster.

    dcor's statistic for a permutation p is n mean(A[p][:, p] * B), A and B the double-centred
    distance matrices of z and t; the p-value is (#{permuted > observed} + 1) / (perms + 1) over
    ``RandomState(seed).permutation(n)`` drawn ``perms`` times. A[p][:, p] is double-centred, so
    sum(A[p][:, p] * B) = sum_kl A_kl |w_k - w_l| with w[p] = t (B's centring drops out): one
    pass over A per batch of permutations instead of an n x n gather per permutation. A is
    ``dcor.double_centered`` of scipy's ``cdist`` (the same matrix as dcor's
    ``pairwise_distances``, which is slower). Only the rounding of the sums differs from dcor,
    so the p-values are equal unless a permuted statistic ties the observed one to ~1e-15.
    """
    import dcor
    import numpy as np
    from scipy.spatial.distance import cdist

    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    t = np.asarray(t, dtype=np.float64).ravel()
    n = len(t)
    a = dcor.double_centered(cdist(z, z))
    rs = np.random.RandomState(seed)
    wt = np.empty((n, perms + 1))
    wt[:, 0] = t
    for b in range(perms):
        wt[rs.permutation(n), b + 1] = t
    s = _perm_sums_kernel()(a, wt)
    return float((np.sum(s[1:] > s[0]) + 1.0) / (perms + 1))


# ----------------------------------------------------------------------------- worker


def worker(args) -> None:
    """One timed test in this (fresh) process; prints one JSON line."""
    C.apply_threads(args.threads)
    z, t = generate("linear", 200, 123, args.oracle_rho)
    run_test(args.method, z, t, 5, 0)  # warm-up: imports, numba compilation
    z, t = generate("linear", args.n, args.seed, args.oracle_rho)
    t0 = time.perf_counter()
    p = run_test(args.method, z, t, args.perms, args.seed)
    dt = time.perf_counter() - t0
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across exec)
    rss = C.proc_status_mib("VmHWM") or C.maxrss_mib()
    print(json.dumps({"time_s": dt, "p": float(p), "maxrss_mib": rss}))


def timed_call(method: str, n: int, perms: int, seed: int, threads: int, r: float, cap: float):
    cmd = [sys.executable, __file__, "--worker", "--method", method, "--n", str(n),
           "--perms", str(perms), "--seed", str(seed), "--threads", str(threads),
           "--oracle-rho", str(r)]
    env = dict(os.environ)
    C.set_threads(threads)
    env.update({k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                           "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")})
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=cap, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "wall_s": time.perf_counter() - t0}
    if out.returncode != 0:
        return {"status": "error", "rc": out.returncode, "stderr": out.stderr[-2000:]}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["status"] = "ok"
    return res


# ----------------------------------------------------------------------------- power


def binom_se(rate: float, reps: int) -> float:
    return math.sqrt(rate * (1 - rate) / reps) if reps else float("nan")


def paired_diff(a: list[int], b: list[int]):
    """Mean of a - b over the common reps and its standard error (paired)."""
    k = min(len(a), len(b))
    if k < 2:
        return None, None
    d = [a[i] - b[i] for i in range(k)]
    m = sum(d) / k
    var = sum((x - m) ** 2 for x in d) / (k - 1)
    return m, math.sqrt(var / k)


def power_methods(args) -> list[str]:
    wanted = list(args.methods.split(",")) if args.methods else list(POWER_METHODS)
    bad = [m for m in wanted if m not in POWER_METHODS]
    if bad:
        raise SystemExit(f"--methods: unknown {bad} (choose from {', '.join(POWER_METHODS)})")
    if args.rho_reps <= 0 and "audit_rho" in wanted:
        wanted.remove("audit_rho")
    return [m for m in POWER_METHODS if m in wanted]


def cell_reps(args, rel: str, method: str) -> int:
    reps = args.null_reps if rel == NULL else args.reps
    return min(reps, args.rho_reps) if method == "audit_rho" else reps


def run_power_method(m: str, z, t, args, seed: int):
    """(rejected, p-value or None, verdict or None)."""
    if m in AUDIT_ESTIMATORS:
        v = audit_verdict(z, t, args.perms, seed, AUDIT_ESTIMATORS[m], ALPHA)
        return int(v == "fail"), None, v
    if m == "dcor":
        p = dcor_perm_test(z, t, args.perms, seed)
    else:
        p = float(run_test(m, z, t, args.perms, seed, hyppo_auto=bool(args.power_hyppo_auto)))
    return int(p < ALPHA), p, None


def power_part(args, payload: dict) -> None:
    import numpy as np

    C.apply_threads(args.threads)
    methods = power_methods(args)
    t0 = time.perf_counter()
    z, t = generate("parabola", 300, 1, args.oracle_rho)
    for m in methods:  # warm-up (imports, numba compilation) outside the timings
        run_power_method(m, z, t, args, 0)
    if "dcor" in methods and args.dcor_check:
        run_test("dcor", z, t, 5, 0)
    payload["power_warmup_s"] = time.perf_counter() - t0
    cells = payload.setdefault("power", [])
    walls = payload.setdefault("power_cells", [])
    checks = payload.setdefault("dcor_check", [])
    done = {(c["relation"], c["n"], c["method"]) for c in cells
            if c["reps"] == cell_reps(args, c["relation"], c["method"])}
    for n in args.power_ns:
        meths = [m for m in methods if not (
            (m == "dcor" and n > args.dcor_power_max_n)
            or (m.startswith("hyppo") and n > args.peer_power_max_n))]
        for rel in RELATIONS:
            todo = [m for m in meths if (rel, n, m) not in done]
            if not todo:
                print(f"  power n={n} {rel}: already in the file (--resume)", flush=True)
                continue
            reps = max(cell_reps(args, rel, m) for m in todo)
            rec = {m: {"rejected": [], "p": [], "verdicts": [], "times": []} for m in todo}
            chk_s = 0.0
            w0 = time.perf_counter()
            for rep in range(reps):
                z, t = generate(rel, n, data_seed(rel, n, rep), args.oracle_rho)
                for m in todo:
                    if rep >= cell_reps(args, rel, m):
                        continue
                    a = time.perf_counter()
                    rej, p, v = run_power_method(m, z, t, args, rep)
                    rec[m]["times"].append(time.perf_counter() - a)
                    rec[m]["rejected"].append(rej)
                    if p is not None:
                        rec[m]["p"].append(p)
                    if v is not None:
                        rec[m]["verdicts"].append(v)
                    if m == "dcor" and rep < args.dcor_check and rel in args.check_relations:
                        a = time.perf_counter()
                        p_lib = float(run_test("dcor", z, t, args.perms, rep))
                        dt = time.perf_counter() - a
                        chk_s += dt
                        checks.append({"relation": rel, "n": n, "rep": rep, "p_fast": p,
                                       "p_dcor": p_lib, "equal": p == p_lib,
                                       "time_fast_s": rec[m]["times"][-1], "time_dcor_s": dt})
                        if p != p_lib:
                            print(f"  WARNING dcor check n={n} {rel} rep={rep}: fast p={p} "
                                  f"!= dcor p={p_lib}", flush=True)
            wall = time.perf_counter() - w0
            methods_s = {m: sum(rec[m]["times"]) for m in todo}
            walls.append({"relation": rel, "n": n, "reps": reps, "wall_s": wall,
                          "methods_s": methods_s, "dcor_check_s": chk_s,
                          "other_s": wall - sum(methods_s.values()) - chk_s,
                          "loadavg": list(os.getloadavg())})
            cells[:] = [c for c in cells if (c["relation"], c["n"], c["method"])
                        not in {(rel, n, m) for m in todo}]
            for m in todo:
                r = rec[m]
                k = len(r["rejected"])
                rate = sum(r["rejected"]) / k
                cell = {"relation": rel, "n": n, "method": m, "reps": k,
                        "rejections": sum(r["rejected"]), "rate": rate, "power": rate,
                        "se": binom_se(rate, k), "median_time_s": C.median(r["times"]),
                        "mean_time_s": float(np.mean(r["times"])),
                        "rejected": r["rejected"]}
                if r["p"]:
                    cell["p_values"] = r["p"]
                if r["verdicts"]:
                    cell["verdicts"] = r["verdicts"]
                    cell["verdict_counts"] = {v: r["verdicts"].count(v)
                                              for v in sorted(set(r["verdicts"]))}
                cells.append(cell)
            print(f"  power n={n} {rel} ({reps} reps, {wall:.0f} s): " + ", ".join(
                f"{SHORT[m]}={sum(rec[m]['rejected']) / len(rec[m]['rejected']):.3f}"
                for m in todo), flush=True)
            C.write_json(args.out_name, payload)


def estimate_power_wall(payload: dict, reps: int, null_reps: int, rho_reps: int,
                        dcor_check: int, ns: list[int]):
    """Wall time of a power run with these counts, from this file's measured per-call means
    (pooled over relations, weighted by reps) and per-dataset overhead. None if n unmeasured."""
    cells, walls = payload.get("power", []), payload.get("power_cells", [])
    total = payload.get("power_warmup_s", 0.0)
    detail = {}
    for n in ns:
        at = [c for c in cells if c["n"] == n]
        if not at:
            return None, {}
        per = {}
        for m in {c["method"] for c in at}:
            cs = [c for c in at if c["method"] == m]
            per[m] = sum(c["mean_time_s"] * c["reps"] for c in cs) / sum(c["reps"] for c in cs)
        w = [x for x in walls if x["n"] == n]
        other = sum(x["other_s"] for x in w) / max(1, sum(x["reps"] for x in w))
        chk = [x["time_dcor_s"] for x in payload.get("dcor_check", []) if x["n"] == n]
        chk_mean = sum(chk) / len(chk) if chk else 0.0
        n_rel = len(RELATIONS)
        datasets = (n_rel - 1) * reps + null_reps
        main = sum(v for m, v in per.items() if m != "audit_rho") + other
        rho = per.get("audit_rho", 0.0) * ((n_rel - 1) * min(rho_reps, reps)
                                           + min(rho_reps, null_reps))
        sec = datasets * main + rho + n_rel * dcor_check * chk_mean
        detail[n] = {"per_dataset_s": main, "per_call_mean_s": per, "overhead_s": other,
                     "dcor_check_s": chk_mean, "total_s": sec}
        total += sec
    return total, detail


# ----------------------------------------------------------------------------- time


def growth(points: list[tuple[int, float]]):
    """Least-squares exponent k of t ~ n^k over the given (n, t) points (n >= 2000 if any)."""
    pts = [(n, t) for n, t in points if t and t > 0]
    big = [p for p in pts if p[0] >= 2000]
    pts = big if len(big) >= 2 else pts
    if len(pts) < 2:
        return None
    xs = [math.log(n) for n, _ in pts]
    ys = [math.log(t) for _, t in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def time_part(args, payload: dict) -> None:
    """n outer, methods inner (interleaved, so load drifts hit every method alike)."""
    rows = payload.setdefault("time", [])
    mem_cap = args.mem_cap_gib * 1024
    history: dict[str, list[tuple[int, float, float]]] = {m: [] for m in TIME_METHODS}
    blocked: dict[str, str | None] = {m: None for m in TIME_METHODS}
    for n in args.time_ns:
        for m in TIME_METHODS:
            hist = history[m]
            rec = {"method": m, "n": n, "perms": 0 if m == "hyppo_dcorr_auto" else args.time_perms}
            pred_t = pred_mem = None
            if hist:
                n0, t0, r0 = hist[-1]
                k = growth([(a, b) for a, b, _ in hist]) or 2.0
                pred_t = t0 * (n / n0) ** k
                if m != "si":
                    pred_mem = r0 * (n / n0) ** 2  # the peers hold n x n matrices
            if blocked[m] is None and pred_mem is not None and pred_mem > mem_cap:
                blocked[m] = (f"predicted peak RSS {pred_mem / 1024:.1f} GiB > "
                              f"{args.mem_cap_gib} GiB")
            if blocked[m] is None and pred_t is not None and pred_t > args.cap:
                blocked[m] = f"predicted {pred_t:.0f} s > cap {args.cap:.0f} s"
            if blocked[m] is not None:
                k = growth([(a, b) for a, b, _ in hist])
                rec.update(status="skipped", reason=blocked[m], growth_exponent=k)
                if hist and k:
                    n0, t0, _ = hist[-1]
                    rec["extrapolated_time_s"] = t0 * (n / n0) ** k
                rows.append(rec)
                print(f"  time {m} n={n}: skipped ({blocked[m]}); EXTRAPOLATED "
                      f"{C.fmt(rec.get('extrapolated_time_s'))} s", flush=True)
                continue
            repeats = (args.repeats if (pred_t is None or pred_t * args.repeats < args.cap / 2)
                       else 1)
            runs = []
            for rep in range(repeats):
                res = timed_call(m, n, args.time_perms, rep, args.threads, args.oracle_rho, args.cap)
                res["loadavg"] = list(os.getloadavg())
                runs.append(res)
                if res["status"] != "ok":
                    break
            ok = [r for r in runs if r["status"] == "ok"]
            rec["runs"] = runs
            rec["repeats"] = len(ok)
            if ok:
                rec["status"] = "ok"
                rec["median_time_s"] = C.median([r["time_s"] for r in ok])
                rec["max_rss_mib"] = max(r["maxrss_mib"] for r in ok)
                hist.append((n, rec["median_time_s"], rec["max_rss_mib"]))
            else:
                rec["status"] = runs[-1]["status"]
                blocked[m] = f"{runs[-1]['status']} at n={n} (cap {args.cap:.0f} s)"
                k = growth([(a, b) for a, b, _ in hist])
                if hist and k:
                    n0, t0, _ = hist[-1]
                    rec["growth_exponent"] = k
                    rec["extrapolated_time_s"] = t0 * (n / n0) ** k
            rows.append(rec)
            print(f"  time {m} n={n}: {rec['status']} median {C.fmt(rec.get('median_time_s'))} s "
                  f"x{rec['repeats']} rss {C.fmt(rec.get('max_rss_mib'), '.0f')} MiB", flush=True)
            C.write_json(args.out_name, payload)
    payload["growth_exponents"] = {
        m: growth([(r["n"], r["median_time_s"]) for r in rows
                   if r["method"] == m and r.get("status") == "ok"]) for m in TIME_METHODS}


# ----------------------------------------------------------------------------- report


def rate_cell(c: dict | None, with_reps: bool = False) -> str:
    if c is None:
        return "-"
    se = c.get("se", binom_se(c["power"], c["reps"]))
    s = f"{c['power']:.3f}±{se:.3f}"
    return s + (f" ({c['reps']})" if with_reps else "")


def power_rows(payload: dict):
    """(headers, rows, goal_headers, goal_rows) of the power table, for report and tables.py."""
    cells = payload["power"]
    ns = sorted({c["n"] for c in cells})
    shown = [m for m in POWER_METHODS if any(c["method"] == m for c in cells)]
    by = {(c["relation"], c["n"], c["method"]): c for c in cells}
    headers = ["relation", "n", "reps"] + [SHORT[m] for m in shown]
    rows, goal = [], []
    peers = [m for m in PEERS if m in shown]
    for rel in RELATIONS:
        for n in ns:
            got = {m: by.get((rel, n, m)) for m in shown}
            if not any(got.values()):
                continue
            reps = max(c["reps"] for c in got.values() if c)
            rows.append([rel, f"{n:,}", str(reps)] + [
                rate_cell(got[m], with_reps=(m == "audit_rho" or got[m] is not None
                                              and got[m]["reps"] != reps)) for m in shown])
            a = got.get("audit")
            if a is None or rel == NULL or "rejected" not in a:
                continue
            diffs = []
            for m in peers:
                c = got.get(m)
                d, se = paired_diff(a["rejected"], c["rejected"]) if c and "rejected" in c \
                    else (None, None)
                diffs.append("-" if d is None else f"{d:+.3f}±{se:.3f}")
            goal.append([rel, f"{n:,}"] + diffs)
    goal_headers = ["relation", "n"] + [f"audit−{SHORT[m]}" for m in peers]
    return headers, rows, goal_headers, goal


def report(payload: dict) -> None:
    if payload.get("power"):
        cfg = payload["config"]
        headers, rows, gh, goal = power_rows(payload)
        C.print_table(
            f"Rejection rate ± binomial SE at alpha = {cfg.get('alpha', ALPHA)} (power; size in "
            f"the '{NULL}' rows); {cfg['perms']} permutations; hyppo auto="
            f"{cfg.get('power_hyppo_auto')}; oracle corr {cfg['oracle_rho']}; (k) = reps of "
            "that column", headers, rows)
        if goal:
            C.print_table("Goal check: audit minus peer, paired over the same datasets "
                          "(± paired SE); target: linear >= -0.05, nonlinear > 0", gh, goal)
        chk = payload.get("dcor_check", [])
        if chk:
            bad = sum(not c["equal"] for c in chk)
            print(f"dcor fast path vs dcor.independence.distance_covariance_test: "
                  f"{len(chk) - bad}/{len(chk)} p-values equal")
    if payload.get("time"):
        rows_t = payload["time"]
        ns = sorted({r["n"] for r in rows_t})
        by = {(r["method"], r["n"]): r for r in rows_t}
        headers = (["n"] + [f"{SHORT[m]} s" for m in TIME_METHODS]
                   + [f"{SHORT[m]}/si" for m in TIME_METHODS[1:]])
        rows = []
        for n in ns:
            def val(m):
                r = by.get((m, n))
                if r is None:
                    return None, "-"
                if r.get("status") == "ok":
                    return r["median_time_s"], C.fmt(r["median_time_s"])
                e = r.get("extrapolated_time_s")
                return e, (f"~{C.fmt(e)} (extrap.)" if e else r.get("status", "-"))
            si, _ = val("si")
            cols, ratios = [], []
            for m in TIME_METHODS:
                v, s = val(m)
                cols.append(s)
                if m != "si":
                    extrap = by.get((m, n), {}).get("status") != "ok"
                    ratios.append("-" if v is None or not si else
                                  (("~" if extrap else "") + C.fmt(v / si, ".3g")))
            rows.append([str(n)] + cols + ratios)
        perms = payload["config"].get("time_perms", payload["config"]["perms"])
        C.print_table(f"Median wall time of one test ({perms} permutations; "
                      "~ = extrapolated)", headers, rows)


PART_KEYS = {"power": ("power", "power_cells", "dcor_check", "power_warmup_s", "power_wall_s",
                       "power_estimate_full"),
             "time": ("time", "growth_exponents")}
RESUME_KEYS = ("perms", "oracle_rho", "power_hyppo_auto", "alpha", "d")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (~1 min for --part power): 2 reps per cell, 4 null reps, "
                         "1 audit+rho* rep, dcor checked on the linear cells' first dataset; "
                         "writes NAME_quick.json and prints the estimated wall time of the "
                         "power part with the counts given (default: the full run)")
    ap.add_argument("--part", choices=("power", "time", "all"), default="all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--perms", type=int, default=200)
    ap.add_argument("--reps", type=int, default=500, help="datasets per power cell")
    ap.add_argument("--null-reps", type=int, default=500,
                    help="datasets per null (independent) cell; >= 500 to show size <= alpha")
    ap.add_argument("--rho-reps", type=int, default=0,
                    help="audit+rho* column on the first N datasets of every cell (0: not run)")
    ap.add_argument("--dcor-check", type=int, default=2,
                    help="per cell, check the fast dcor p-value against the library on the "
                         "first N datasets")
    ap.add_argument("--resume", action="store_true",
                    help="power part: keep the cells already in the file (same perms, reps, "
                         "oracle corr) and run the rest")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--oracle-rho", type=float, default=0.1)
    ap.add_argument("--methods", default=None,
                    help="power part only: comma-separated subset of " + ",".join(POWER_METHODS))
    ap.add_argument("--cap", type=float, default=300.0, help="seconds per timed call")
    ap.add_argument("--mem-cap-gib", type=float, default=10.0)
    ap.add_argument("--peer-power-max-n", type=int, default=2000)
    ap.add_argument("--dcor-power-max-n", type=int, default=2000)
    ap.add_argument("--power-hyppo-auto", type=int, default=1,
                    help="1: hyppo tests in the power table use auto=True (chi2 approx)")
    ap.add_argument("--power-ns", type=int, nargs="*", default=[1000, 2000])
    ap.add_argument("--time-ns", type=int, nargs="*",
                    default=[500, 1000, 2000, 5000, 10000, 20000])
    ap.add_argument("--out-name", default="power_vs_peers")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    C.set_threads(args.threads)
    if args.worker:
        worker(args)
        return
    full = {"reps": args.reps, "null_reps": args.null_reps, "rho_reps": args.rho_reps,
            "dcor_check": args.dcor_check}
    args.time_perms = args.perms
    args.check_relations = RELATIONS
    if args.quick:
        args.reps, args.null_reps, args.rho_reps, args.dcor_check = 2, 4, 1, 1
        args.check_relations = ("linear",)
        args.time_perms, args.repeats, args.cap = 50, 1, 30.0
        args.time_ns = [300, 600]
        args.out_name = f"{args.out_name}_quick"
    C.apply_threads(args.threads)
    path = C.RESULTS / f"{args.out_name}.json"
    payload = {}
    if args.part != "all" and path.exists():  # keep the other part's results
        payload = json.loads(path.read_text())
        old_cfg = payload.get("config", {})
        if args.part == "power" and args.resume:
            new = {"perms": args.perms, "oracle_rho": args.oracle_rho, "alpha": ALPHA, "d": D,
                   "power_hyppo_auto": bool(args.power_hyppo_auto)}
            diff = {k: (old_cfg.get(k), new[k]) for k in RESUME_KEYS if old_cfg.get(k) != new[k]}
            if diff:
                raise SystemExit(f"--resume: {path} was run with other settings {diff}")
        else:
            for k in PART_KEYS.get(args.part, ()):
                payload.pop(k, None)
    payload["benchmark"] = "power_vs_peers"
    payload["machine"] = C.machine_info()
    payload["library"] = C.git_state(HERE.parent, ("infomin_cli",))
    cfg = payload.setdefault("config", {})
    cfg.update({
        "perms": args.perms, "threads": args.threads, "oracle_rho": args.oracle_rho, "d": D,
        "alpha": ALPHA, "quick": args.quick,
        "noise_sigma": {r: noise_sigma(r, args.oracle_rho) for r in RELATIONS},
        "threads_note": "torch.set_num_threads, numba.set_num_threads and OMP/MKL/OPENBLAS "
                        "env set to --threads for every method",
    })
    if args.part in ("power", "all"):
        cfg.update({
            "reps": args.reps, "null_reps": args.null_reps, "rho_reps": args.rho_reps,
            "dcor_check": args.dcor_check, "power_ns": args.power_ns,
            "peer_power_max_n": args.peer_power_max_n, "dcor_power_max_n": args.dcor_power_max_n,
            "power_hyppo_auto": bool(args.power_hyppo_auto), "power_methods": power_methods(args),
            "data_seed": "1_000_003 * (relation index + 1) + 1009 * n + rep; method seed = rep",
            "si_config": "SlicedConfig(permutations=perms, bootstrap=0), device='cpu'; else "
                         "default (pairwise, 100 slices, order 3, fit_fraction 0.5)",
            "linear_config": "LinearConfig(permutations=perms, bootstrap=0), device='cpu'",
            "audit_config": "audit_settings({'estimators': 'sliced,linear' (audit) or "
                            "'sliced,linear,rho' (audit_rho), 'permutations': perms, 'alpha': "
                            "alpha, 'seed': rep, 'device': 'cpu'}); reject = verdict == 'fail'",
            "dcor_power": "dcor_perm_test: exact re-evaluation of dcor.independence."
                          "distance_covariance_test(num_resamples=perms, random_state=rep); "
                          "checked against the library on the first dcor_check reps per cell",
            "hyppo_power": "Dcorr()/Hsic().test(reps=perms, workers=1, random_state=rep, "
                           "auto=power_hyppo_auto)",
        })
    if args.part in ("time", "all"):
        cfg.update({
            "time_perms": args.time_perms, "repeats": args.repeats, "cap_s": args.cap,
            "mem_cap_gib": args.mem_cap_gib, "time_ns": args.time_ns,
            "peers_time": "dcor.independence.distance_covariance_test(num_resamples=perms); "
                          "hyppo Dcorr/Hsic .test(reps=perms, workers=1, auto=False); "
                          "hyppo_dcorr_auto: Dcorr().test(auto=True) (chi2 approximation, no "
                          "permutations)",
        })
    payload.setdefault("loadavg", {})
    if args.part in ("power", "all"):
        payload["loadavg"]["power_start"] = list(os.getloadavg())
        w0 = time.perf_counter()
        power_part(args, payload)
        payload["power_wall_s"] = time.perf_counter() - w0
        payload["loadavg"]["power_end"] = list(os.getloadavg())
        est, detail = estimate_power_wall(payload, full["reps"], full["null_reps"],
                                          full["rho_reps"], full["dcor_check"], args.power_ns)
        if est is not None:
            payload["power_estimate_full"] = {**full, "total_s": est, "per_n": detail}
    if args.part in ("time", "all"):
        payload["loadavg"]["time_start"] = list(os.getloadavg())
        time_part(args, payload)
        payload["loadavg"]["time_end"] = list(os.getloadavg())
    payload.pop("loadavg_end", None)
    out = C.write_json(args.out_name, payload)
    report(payload)
    if "power_wall_s" in payload and args.part in ("power", "all"):
        print(f"power part: {payload['power_wall_s']:.0f} s wall")
        e = payload.get("power_estimate_full")
        if e:
            per = ", ".join(f"n={n}: {v['per_dataset_s']:.3f} s/dataset"
                            for n, v in e["per_n"].items())
            print(f"estimated power part with --reps {e['reps']} --null-reps {e['null_reps']} "
                  f"--rho-reps {e['rho_reps']} --dcor-check {e['dcor_check']}: "
                  f"{e['total_s'] / 60:.0f} min at this run's load ({per})")
            for n, v in e["per_n"].items():
                print(f"  n={n} mean s per call: " + ", ".join(
                    f"{SHORT[m]} {s:.4f}" for m, s in sorted(
                        v["per_call_mean_s"].items(), key=lambda kv: POWER_METHODS.index(kv[0])))
                    + f"; dcor library (check) {v['dcor_check_s']:.2f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
