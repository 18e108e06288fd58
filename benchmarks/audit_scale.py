"""SI audit at scale: time and peak memory of ``run_audit`` (sliced only) against n and d.

    python benchmarks/audit_scale.py [--quick] [--threads 2]

Data: Z ~ N(0, I_d) float32; a binary attribute ``group = 1[1.5 z0 + (z1^2 - 1) + 2 e > 0]``
(noisy linear + nonlinear function of Z). Written in 65,536-row chunks with pyarrow to a
temporary Parquet file (``emb``: fixed_size_list<float32>[d], ``group``: int64; snappy, one
row group per chunk) under /tmp, deleted after use; a size is skipped when the disk has no
room (``shutil.disk_usage``).

Per configuration and repeat, a fresh subprocess:
  1. ``open_dataset(path, ["group"])`` (timed separately: ``open_s``);
  2. floor = iterate ``DatasetSource.iter_embeddings(65536)`` and compute one ``X @ Theta``
     per batch (Theta d x 100, torch float32) -- the least any sliced audit must do;
  3. audit = ``run_audit(source, AuditConfig(estimators=("sliced",)), Policy())``
     (default SlicedConfig: 100 slices, 1000 permutations, 500 bootstrap).
Both in the same process, floor first. Peak memory: VmHWM (Linux peak RSS) read after the
floor, reset through /proc/self/clear_refs, read again after the audit; reported relative to
the RSS before the floor (``*_peak_mib``) and as ``audit - floor``. One extra subprocess at
n = 1e5, d = 768 runs the audit under cProfile (top cumulative entries in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common as C  # noqa: E402

CHUNK = 65536
SLICES = 100


def generate(path: str, n: int, d: int, seed: int = 0) -> float:
    """Write the Parquet file chunk by chunk; returns seconds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    schema = pa.schema([("emb", pa.list_(pa.float32(), d)), ("group", pa.int64())])
    with pq.ParquetWriter(path, schema, compression="snappy") as w:
        for s in range(0, n, CHUNK):
            b = min(CHUNK, n - s)
            z = rng.standard_normal((b, d), dtype=np.float32)
            logit = 1.5 * z[:, 0] + (z[:, 1] ** 2 - 1) + 2.0 * rng.standard_normal(b)
            g = (logit > 0).astype(np.int64)
            emb = pa.FixedSizeListArray.from_arrays(pa.array(z.reshape(-1)), d)
            w.write_table(pa.table({"emb": emb, "group": pa.array(g)}, schema=schema),
                          row_group_size=CHUNK)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- worker


def worker(args) -> None:
    import torch

    from infomin_cli.io import LoadOptions, open_dataset
    from infomin_cli.pipeline.audit import AuditConfig, run_audit
    from infomin_cli.pipeline.policy import Policy

    C.apply_threads(args.threads)
    torch.ones(256, 256) @ torch.ones(256, 256)  # thread-pool warm-up
    out: dict = {}
    rss0 = C.proc_status_mib("VmRSS")
    t0 = time.perf_counter()
    src = open_dataset(args.path, ["group"], LoadOptions())
    out["open_s"] = time.perf_counter() - t0

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        res = run_audit(src, AuditConfig(estimators=("sliced",)), Policy())
        prof.disable()
        out["audit_s_profiled"] = time.perf_counter() - t0
        st = pstats.Stats(prof)
        rows = []
        for (file, line, func), (cc, nc, tt, ct, _) in st.stats.items():
            rows.append({"func": f"{Path(file).name}:{line}({func})", "ncalls": nc,
                         "tottime_s": round(tt, 4), "cumtime_s": round(ct, 4)})
        rows.sort(key=lambda r: -r["cumtime_s"])
        out["top_cumulative"] = rows[:30]
        out["top_tottime"] = sorted(rows, key=lambda r: -r["tottime_s"])[:15]
        print(json.dumps(out))
        return

    theta = torch.randn(src.dim, SLICES, dtype=torch.float32)
    theta /= theta.norm(dim=0, keepdim=True)
    t0 = time.perf_counter()
    acc = torch.zeros(SLICES)
    rows = 0
    for batch in src.iter_embeddings(CHUNK):
        u = torch.from_numpy(batch) @ theta
        acc += u[0]  # keep the result alive
        rows += len(batch)
    out["floor_s"] = time.perf_counter() - t0
    out["floor_rows"] = rows
    out["floor_peak_mib"] = C.proc_status_mib("VmHWM") - rss0
    out["peak_reset"] = C.reset_peak_rss()
    rss1 = C.proc_status_mib("VmRSS")

    t0 = time.perf_counter()
    res = run_audit(src, AuditConfig(estimators=("sliced",)), Policy())
    out["audit_s"] = time.perf_counter() - t0
    hwm = C.proc_status_mib("VmHWM")
    out["audit_peak_mib"] = hwm - rss0  # relative to the same baseline as the floor
    out["audit_peak_above_start_mib"] = hwm - rss1
    out["ru_maxrss_mib"] = C.maxrss_mib()
    a = res.attributes["group"].estimates["sliced"]
    out.update(si=a.value, p_value=a.p_value, n_fit=a.n_fit, n_eval=a.n_eval,
               verdict=res.verdict, baseline_rss_mib=rss0)
    print(json.dumps(out))


def run_worker(path: str, threads: int, timeout: float, profile: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--path", path, "--threads", str(threads)]
    if profile:
        cmd.append("--profile")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "timeout_s": timeout}
    if r.returncode != 0:
        return {"status": "error", "rc": r.returncode, "stderr": r.stderr[-3000:]}
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["status"] = "ok"
    return res


# ----------------------------------------------------------------------------- main


def summarise(rec: dict) -> None:
    ok = [r for r in rec["runs"] if r.get("status") == "ok"]
    rec["repeats"] = len(ok)
    if not ok:
        return
    for k in ("floor_s", "audit_s", "open_s", "floor_peak_mib", "audit_peak_mib"):
        rec[f"median_{k}"] = C.median([r[k] for r in ok])
    rec["ratio_audit_floor"] = C.median([r["audit_s"] / r["floor_s"] for r in ok])
    rec["audit_minus_floor_peak_mib"] = C.median(
        [r["audit_peak_mib"] - r["floor_peak_mib"] for r in ok])
    rec["si"] = ok[0]["si"]
    rec["p_value"] = ok[0]["p_value"]
    rec["n_eval"] = ok[0]["n_eval"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ns", type=int, nargs="*", default=[1000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--ds", type=int, nargs="*", default=[64, 256, 768, 2048])
    ap.add_argument("--d-base", type=int, default=768)
    ap.add_argument("--n-base", type=int, default=100_000)
    ap.add_argument("--single-repeat-from", type=int, default=1_000_000,
                    help="n at or above which a configuration runs once")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--tmpdir", default="/tmp")
    ap.add_argument("--out-name", default="audit_scale")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    C.set_threads(args.threads)
    if args.worker:
        worker(args)
        return
    name = args.out_name
    if args.quick:
        args.ns, args.ds, args.n_base, args.repeats = [1000, 5000], [64, 768], 5000, 1
        name = "audit_scale_quick"
    C.apply_threads(args.threads)

    configs = [(n, args.d_base) for n in args.ns]
    configs += [(args.n_base, d) for d in args.ds if (args.n_base, d) not in configs]
    payload = {"benchmark": "audit_scale", "machine": C.machine_info(), "config": {
        "threads": args.threads, "repeats": args.repeats, "batch_rows": CHUNK,
        "floor": f"iter_embeddings({CHUNK}) + one X @ Theta (d x {SLICES}, torch float32) "
                 "per batch",
        "audit": "run_audit(source, AuditConfig(estimators=('sliced',)), Policy()) with "
                 "the default SlicedConfig (100 slices, 1000 permutations, 500 bootstrap)",
        "data": "Z ~ N(0, I_d) float32; group = 1[1.5 z0 + (z1^2 - 1) + 2 e > 0]; Parquet "
                "fixed_size_list<float32>[d] + int64, snappy, 65536-row row groups",
        "memory": "VmHWM after the floor (relative to RSS before it); reset via "
                  "/proc/self/clear_refs; VmHWM after the audit (same baseline)",
        "quick": args.quick}, "results": []}
    tmp = tempfile.mkdtemp(prefix="infomin_bench_", dir=args.tmpdir)
    try:
        for n, d in configs:
            rec = {"n": n, "d": d}
            need = n * d * 4 * 1.05 + (2 << 30)
            free = shutil.disk_usage(tmp).free
            if free < need:
                rec.update(status="skipped", reason=f"disk: {free / 2**30:.1f} GiB free, "
                           f"need ~{need / 2**30:.1f} GiB")
                payload["results"].append(rec)
                print(f"n={n} d={d}: skipped ({rec['reason']})", flush=True)
                continue
            path = os.path.join(tmp, f"z_{n}_{d}.parquet")
            rec["generate_s"] = generate(path, n, d)
            rec["file_mib"] = os.path.getsize(path) / 2**20
            rec["loadavg_before"] = list(os.getloadavg())
            reps = 1 if n >= args.single_repeat_from else args.repeats
            rec["runs"] = [run_worker(path, args.threads, args.timeout) for _ in range(reps)]
            summarise(rec)
            rec["status"] = "ok" if rec["repeats"] else rec["runs"][-1]["status"]
            if (n, d) == (args.n_base, args.d_base) and not args.no_profile:
                rec["profile"] = run_worker(path, args.threads, args.timeout, profile=True)
            os.unlink(path)
            payload["results"].append(rec)
            print(f"n={n} d={d}: floor {C.fmt(rec.get('median_floor_s'))} s, audit "
                  f"{C.fmt(rec.get('median_audit_s'))} s, ratio "
                  f"{C.fmt(rec.get('ratio_audit_floor'))}, peak floor/audit "
                  f"{C.fmt(rec.get('median_floor_peak_mib'), '.0f')}/"
                  f"{C.fmt(rec.get('median_audit_peak_mib'), '.0f')} MiB (x{rec['repeats']})",
                  flush=True)
            C.write_json(name, payload)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = C.write_json(name, payload)
    rows = [[str(r["n"]), str(r["d"]), str(r.get("repeats", 0)), r.get("median_floor_s"),
             r.get("median_audit_s"), r.get("ratio_audit_floor"),
             C.fmt(r.get("median_floor_peak_mib"), ".0f"),
             C.fmt(r.get("median_audit_peak_mib"), ".0f"),
             C.fmt(r.get("audit_minus_floor_peak_mib"), ".0f"), r.get("si"), r.get("p_value")]
            for r in payload["results"]]
    C.print_table("SI audit vs floor (medians)", ["n", "d", "reps", "floor s", "audit s",
                  "audit/floor", "floor MiB", "audit MiB", "audit-floor MiB", "SI", "p"], rows)
    for r in payload["results"]:
        prof = r.get("profile")
        if prof and prof.get("status") == "ok":
            print(f"\ncProfile of the audit at n={r['n']}, d={r['d']} "
                  f"({prof['audit_s_profiled']:.2f} s profiled), top cumulative:")
            for e in prof["top_cumulative"][:15]:
                print(f"  {e['cumtime_s']:8.3f} s  {e['ncalls']:>7}  {e['func']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
