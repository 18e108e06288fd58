"""Peak RSS of streaming a Parquet embedding file: the library's reader vs pyarrow settings.

    python benchmarks/reader_memory.py [--quick] [--n 300000] [--d 768]

Diagnostic for audit_scale.py's floor memory. Each variant runs in a fresh subprocess and
reads every row in 65,536-row batches, then reports VmHWM minus the RSS before reading:
  library      DatasetSource.iter_embeddings(65536)   (pyarrow Dataset.to_batches, defaults)
  ds_default   ds.dataset(path).to_batches(batch_size=65536)  (batch_readahead=16,
               fragment_readahead=4)
  ds_ra1       the same with batch_readahead=1, fragment_readahead=1
  parquetfile  pq.ParquetFile(path).iter_batches(batch_size=65536)
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
from audit_scale import CHUNK, generate  # noqa: E402

VARIANTS = ("library", "ds_default", "ds_ra1", "parquetfile")


def worker(path: str, variant: str) -> None:
    import numpy as np
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from infomin_cli.io import LoadOptions, open_dataset

    rss0 = C.proc_status_mib("VmRSS")
    t0 = time.perf_counter()
    rows = 0
    if variant == "library":
        src = open_dataset(path, ["group"], LoadOptions())
        for b in src.iter_embeddings(CHUNK):
            rows += len(b)
    else:
        if variant == "parquetfile":
            it = pq.ParquetFile(path).iter_batches(batch_size=CHUNK, columns=["emb"])
        else:
            kw = {} if variant == "ds_default" else {"batch_readahead": 1, "fragment_readahead": 1}
            it = ds.dataset(path, format="parquet").to_batches(columns=["emb"], batch_size=CHUNK, **kw)
        for b in it:
            a = b.column(0).flatten().to_numpy(zero_copy_only=False)
            rows += len(np.asarray(a).reshape(len(b), -1))
    print(json.dumps({"variant": variant, "rows": rows, "s": time.perf_counter() - t0,
                      "peak_mib": C.proc_status_mib("VmHWM") - rss0}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out-name", default="reader_memory")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    name = args.out_name
    if args.quick:
        args.n, args.repeats, name = 70_000, 1, "reader_memory_quick"
    tmp = tempfile.mkdtemp(prefix="infomin_bench_", dir="/tmp")
    payload = {"benchmark": "reader_memory", "machine": C.machine_info(),
               "config": {"n": args.n, "d": args.d, "batch_rows": CHUNK}, "results": []}
    try:
        path = os.path.join(tmp, "z.parquet")
        generate(path, args.n, args.d)
        payload["config"]["file_mib"] = os.path.getsize(path) / 2**20
        for v in VARIANTS:
            runs = []
            for _ in range(args.repeats):
                r = subprocess.run([sys.executable, __file__, "--worker", path, v],
                                   capture_output=True, text=True, timeout=900)
                runs.append(json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0
                            else {"error": r.stderr[-2000:]})
            ok = [r for r in runs if "peak_mib" in r]
            payload["results"].append({"variant": v, "runs": runs,
                                       "median_peak_mib": C.median([r["peak_mib"] for r in ok]),
                                       "median_s": C.median([r["s"] for r in ok])})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = C.write_json(name, payload)
    C.print_table(f"Streaming {args.n} x {args.d} float32 Parquet "
                  f"({payload['config']['file_mib']:.0f} MiB) in {CHUNK}-row batches",
                  ["variant", "peak RSS MiB", "s"],
                  [[r["variant"], C.fmt(r["median_peak_mib"], ".0f"), r["median_s"]]
                   for r in payload["results"]])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
