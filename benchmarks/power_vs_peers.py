"""Power and time of the SI permutation test vs dcor and hyppo (Dcorr, Hsic).

    python benchmarks/power_vs_peers.py [--quick] [--part power|time|all] [--threads 2]

Relations (Z: n x 5 standard normal, T 1-D continuous, noise fixed a priori, see below):
linear T = Z1 + e; parabola T = Z1^2 + e; sine T = sin(2 Z1) + e; circle Z1 = cos(th) + e1,
T = sin(th) + e2; independent T ~ N(0, 1) (size check).

Noise criterion (method independent, fixed before any method was run): the *oracle*
correlation, i.e. the correlation of the true pair of transforms, is ``--oracle-rho``
(default 0.1) for every relation: corr(f(Z1), T) for the functional relations
(sigma^2 = Var f (1 - r^2) / r^2) and corr(Z1^2, T^2) for the circle.

Every method gets the same permutation count (``--perms``, default 200) and the same thread
count (torch, numba, BLAS). Ours: ``sliced_dependence`` with the default SlicedConfig
(pairwise, 100 slices, order 3, fit_fraction 0.5) except ``permutations=perms`` and
``bootstrap=0`` (the interval is not part of the test). Peers: dcor
``distance_covariance_test(num_resamples=perms)``, hyppo ``Dcorr().test(reps=perms,
auto=False)`` and ``Hsic().test(reps=perms, auto=False)`` (permutation p-values, workers=1).
The time table also lists hyppo ``Dcorr(auto=True)`` (chi-square approximation, no
permutations) for reference. Each timed test runs in a fresh subprocess (after a small
warm-up call that triggers numba compilation) with a wall-clock cap; peers are skipped where
their predicted peak memory (quadratic from the previous n) exceeds ``--mem-cap-gib``, and a
clearly labelled extrapolation from the measured growth exponent is given instead.
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

RELATIONS = ("linear", "parabola", "sine", "circle", "independent")
METHODS = ("si", "dcor", "hyppo_dcorr", "hyppo_hsic")
TIME_METHODS = METHODS + ("hyppo_dcorr_auto",)
# "linear" is our held-out linear CCA test; "audit" is the decision `infomin audit` makes by
# default: SI and linear, each at alpha/2 (Bonferroni), i.e. p = min(1, 2 min(p_SI, p_lin)).
OURS_EXTRA = ("linear", "audit")
SHORT = {"si": "SI", "dcor": "dcor", "hyppo_dcorr": "hDcorr", "hyppo_hsic": "hHsic",
         "hyppo_dcorr_auto": "hDcorr-auto", "linear": "linear", "audit": "audit"}
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


def run_test(method: str, z, t, perms: int, seed: int, hyppo_auto: bool = False) -> float:
    """p-value of one test."""
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # hyppo: "reps under 1000"

    if method == "si":
        from infomin_cli.attributes import Attribute
        from infomin_cli.estimators.sliced import SlicedConfig, sliced_dependence

        cfg = SlicedConfig(permutations=perms, bootstrap=0)
        return sliced_dependence(z.astype(np.float32), Attribute.continuous("t", t), cfg,
                                 seed=seed, device="cpu").p_value
    if method in ("linear", "audit"):
        from infomin_cli.attributes import Attribute
        from infomin_cli.estimators.linear import LinearConfig, linear_dependence

        p_lin = linear_dependence(z.astype(np.float32), Attribute.continuous("t", t),
                                  LinearConfig(permutations=perms, bootstrap=0), seed=seed,
                                  device="cpu").p_value
        if method == "linear":
            return p_lin
        return min(1.0, 2 * min(p_lin, run_test("si", z, t, perms, seed)))
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


def power_part(args, payload: dict) -> None:
    import numpy as np

    C.apply_threads(args.threads)
    wanted = tuple(args.methods.split(",")) if args.methods else METHODS
    for m in wanted:  # warm-up (numba compilation) outside the timings
        z, t = generate("linear", 200, 1, args.oracle_rho)
        run_test(m, z, t, 5, 0)
    cells = payload.setdefault("power", [])
    for n in args.power_ns:
        methods = [m for m in wanted if m in ("si",) + OURS_EXTRA
                   or (m == "dcor" and n <= args.dcor_power_max_n)
                   or (m.startswith("hyppo") and n <= args.peer_power_max_n)]
        for rel in RELATIONS:
            pv = {m: [] for m in methods}
            tm = {m: [] for m in methods}
            for rep in range(args.reps):
                seed = 1_000_003 * (RELATIONS.index(rel) + 1) + 1009 * n + rep
                z, t = generate(rel, n, seed, args.oracle_rho)
                for m in methods:
                    t0 = time.perf_counter()
                    pv[m].append(float(run_test(m, z, t, args.perms, rep,
                                                hyppo_auto=args.power_hyppo_auto)))
                    tm[m].append(time.perf_counter() - t0)
            for m in methods:
                cells.append({
                    "relation": rel, "n": n, "method": m, "reps": args.reps,
                    "power": float(np.mean(np.asarray(pv[m]) < 0.05)),
                    "median_time_s": C.median(tm[m]), "p_values": pv[m],
                })
            print(f"  power n={n} {rel}: " + ", ".join(
                f"{m}={np.mean(np.asarray(pv[m]) < 0.05):.2f}" for m in methods), flush=True)
            C.write_json(args.out_name, payload)


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
            rec = {"method": m, "n": n, "perms": 0 if m == "hyppo_dcorr_auto" else args.perms}
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
                res = timed_call(m, n, args.perms, rep, args.threads, args.oracle_rho, args.cap)
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


def report(payload: dict) -> None:
    if payload.get("power"):
        cells = payload["power"]
        ns = sorted({c["n"] for c in cells})
        shown = [m for m in METHODS + OURS_EXTRA if any(c["method"] == m for c in cells)]
        headers = ["relation", "n"] + [SHORT[m] for m in shown]
        rows = []
        for rel in RELATIONS:
            for n in ns:
                got = {c["method"]: c["power"] for c in cells if c["relation"] == rel and c["n"] == n}
                if got:
                    rows.append([rel, str(n)] + [C.fmt(got.get(m), ".2f") for m in shown])
        cfg = payload["config"]
        C.print_table(f"Power at alpha = 0.05 ({cfg['reps']} reps/cell, {cfg['perms']} "
                      f"permutations for SI and dcor; hyppo auto={cfg.get('power_hyppo_auto')}; "
                      f"oracle corr {cfg['oracle_rho']})", headers, rows)
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
        C.print_table(f"Median wall time of one test ({payload['config']['perms']} permutations; "
                      "~ = extrapolated)", headers, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--part", choices=("power", "time", "all"), default="all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--perms", type=int, default=200)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--oracle-rho", type=float, default=0.1)
    ap.add_argument("--methods", default=None,
                    help="power part only: comma-separated subset of "
                         "si,dcor,hyppo_dcorr,hyppo_hsic,linear,audit (default: si and peers)")
    ap.add_argument("--cap", type=float, default=300.0, help="seconds per timed call")
    ap.add_argument("--mem-cap-gib", type=float, default=10.0)
    ap.add_argument("--peer-power-max-n", type=int, default=2000)
    ap.add_argument("--dcor-power-max-n", type=int, default=1000)
    ap.add_argument("--power-hyppo-auto", type=int, default=1,
                    help="1: hyppo tests in the power table use auto=True (chi2 approx)")
    ap.add_argument("--power-ns", type=int, nargs="*", default=[500, 1000, 2000, 5000])
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
    if args.quick:
        args.reps, args.perms, args.repeats, args.cap = 3, 50, 1, 30.0
        args.power_ns, args.time_ns = [300], [300, 600]
        args.out_name = "power_vs_peers_quick"
    C.apply_threads(args.threads)
    path = C.RESULTS / f"{args.out_name}.json"
    payload = {}
    if args.part != "all" and path.exists():  # keep the other part's results
        payload = json.loads(path.read_text())
        payload.pop(args.part, None)
    payload["benchmark"] = "power_vs_peers"
    payload["machine"] = C.machine_info()
    payload["config"] = {
        "perms": args.perms, "reps": args.reps, "repeats": args.repeats, "threads": args.threads,
        "oracle_rho": args.oracle_rho, "d": D, "alpha": 0.05, "cap_s": args.cap,
        "mem_cap_gib": args.mem_cap_gib, "peer_power_max_n": args.peer_power_max_n,
        "dcor_power_max_n": args.dcor_power_max_n,
        "power_hyppo_auto": bool(args.power_hyppo_auto),
        "power_ns": args.power_ns, "time_ns": args.time_ns, "quick": args.quick,
        "noise_sigma": {r: noise_sigma(r, args.oracle_rho) for r in RELATIONS},
        "si_config": "SlicedConfig(permutations=perms, bootstrap=0, device='cpu'); else default "
                     "(pairwise, 100 slices, order 3, fit_fraction 0.5)",
        "peers": "dcor.independence.distance_covariance_test(num_resamples=perms); hyppo "
                 "Dcorr/Hsic .test(reps=perms, workers=1, auto=False); hyppo_dcorr_auto: "
                 "Dcorr().test(auto=True) (chi2 approximation, no permutations; time table only)",
        "threads_note": "torch.set_num_threads, numba.set_num_threads and OMP/MKL/OPENBLAS "
                        "env set to --threads for every method",
    }
    payload.setdefault("loadavg", {})
    if args.part in ("power", "all"):
        payload["loadavg"]["power_start"] = list(os.getloadavg())
        power_part(args, payload)
        payload["loadavg"]["power_end"] = list(os.getloadavg())
    if args.part in ("time", "all"):
        payload["loadavg"]["time_start"] = list(os.getloadavg())
        time_part(args, payload)
        payload["loadavg"]["time_end"] = list(os.getloadavg())
    payload.pop("loadavg_end", None)
    out = C.write_json(args.out_name, payload)
    report(payload)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
