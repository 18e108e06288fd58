"""Print the Markdown result tables of benchmarks/results/*.json (used for README.md).

    python benchmarks/tables.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402


def md(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(C.fmt(c) if not isinstance(c, str) else c for c in r) + " |"
            for r in rows]
    return "\n".join(out)


def load(name):
    p = C.RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def audit_scale() -> None:
    p = load("audit_scale")
    if not p:
        return
    rows = []
    for r in p["results"]:
        if r.get("status") != "ok":
            rows.append([str(r["n"]), str(r["d"]), r.get("reason", r.get("status"))] + [""] * 7)
            continue
        rows.append([f"{r['n']:,}", str(r["d"]), str(r["repeats"]), f"{r['median_floor_s']:.3g}",
                     f"{r['median_audit_s']:.3g}", f"{r['ratio_audit_floor']:.3g}",
                     f"{r['median_floor_peak_mib']:.0f}", f"{r['median_audit_peak_mib']:.0f}",
                     f"{r['audit_minus_floor_peak_mib']:.0f}", f"{r['file_mib']:.0f}",
                     f"{r['si']:.3f}"])
    print("### audit_scale\n")
    print(md(["n", "d", "reps", "floor s", "audit s", "audit/floor", "floor peak MiB",
              "audit peak MiB", "audit-floor MiB", "file MiB", "SI"], rows))
    for r in p["results"]:
        prof = r.get("profile")
        if prof and prof.get("status") == "ok":
            print(f"\ncProfile, n={r['n']:,}, d={r['d']} ({prof['audit_s_profiled']:.2f} s "
                  "profiled), top cumulative:\n")
            print(md(["cumulative s", "calls", "function"],
                     [[f"{e['cumtime_s']:.2f}", str(e["ncalls"]), f"`{e['func']}`"]
                      for e in prof["top_cumulative"][:16]]))


def power() -> None:
    p = load("power_vs_peers")
    if not p:
        return
    from power_vs_peers import SHORT, TIME_METHODS, power_rows

    cfg = p["config"]
    if p.get("power"):
        headers, rows, gh, goal = power_rows(p)
        print(f"\n### power and size (rejection rate ± binomial SE at alpha "
              f"{cfg.get('alpha', 0.05)}; {cfg['perms']} permutations; oracle corr "
              f"{cfg['oracle_rho']}; (k) = reps of that column)\n")
        print(md(headers, rows))
        if goal:
            print("\n### audit minus peer (paired over the same datasets, ± paired SE)\n")
            print(md(gh, goal))
        chk = p.get("dcor_check", [])
        if chk:
            print(f"\ndcor fast path = library p-value on {sum(c['equal'] for c in chk)}/"
                  f"{len(chk)} checked datasets")
        lib = p.get("library")
        if lib:
            print(f"\nlibrary: commit {lib.get('commit')}, uncommitted changes under "
                  f"infomin_cli/: {len(lib.get('dirty') or [])}")
    if p.get("time"):
        by = {(r["method"], r["n"]): r for r in p["time"]}
        ns = sorted({r["n"] for r in p["time"]})
        rows = []
        for n in ns:
            si = by.get(("si", n), {}).get("median_time_s")
            row = [f"{n:,}"]
            ratios = []
            for m in TIME_METHODS:
                r = by.get((m, n), {})
                if r.get("status") == "ok":
                    v, tag = r["median_time_s"], ""
                    row.append(f"{v:.3g} (x{r['repeats']})")
                elif r.get("extrapolated_time_s"):
                    v, tag = r["extrapolated_time_s"], "~"
                    row.append(f"~{v:.3g} EXTRAPOLATED")
                else:
                    v, tag = None, ""
                    row.append(r.get("status", "-"))
                if m != "si":
                    ratios.append(f"{tag}{v / si:.3g}" if v and si else "-")
            rows.append(row + ratios)
        print(f"\n### time of one test ({cfg.get('time_perms', cfg['perms'])} permutations; "
              "median seconds, (xN) = "
              "repeats; ~ = extrapolated)\n")
        print(md(["n"] + [f"{SHORT[m]} s" for m in TIME_METHODS]
                 + [f"{SHORT[m]}/SI" for m in TIME_METHODS[1:]], rows))
        print("\ngrowth exponents (t ~ n^k, measured n >= 2000):",
              {k: (round(v, 2) if v else None) for k, v in p.get("growth_exponents", {}).items()})


def rho() -> None:
    p = load("rho_time")
    if not p:
        return
    rows = [[r["device"], str(r["repeats"]), f"{r['median_si_s']:.3g}", f"{r['median_rho_s']:.3g}",
             f"{r['median_ratio_rho_si']:.3g}", C.fmt(r["median_epochs"]),
             C.fmt(r["median_best_epoch"]), f"{r['median_epoch_s_median']:.3g}",
             f"{r['median_rho']:.3f}", f"{r['median_si']:.3f}"] for r in p["results"]]
    print(f"\n### rho_time ({p['config']['n']:,} x {p['config']['d']})\n")
    print(md(["device", "reps", "SI s", "rho* s", "rho*/SI", "epochs", "best epoch", "s/epoch",
              "rho*", "SI"], rows))


def reader(name: str = "reader_memory") -> None:
    p = load(name)
    if not p:
        return
    print(f"\n### reader_memory ({p['config']['n']:,} x {p['config']['d']}, "
          f"{p['config']['file_mib']:.0f} MiB file)\n")
    print(md(["variant", "peak RSS MiB", "s"],
             [[r["variant"], f"{r['median_peak_mib']:.0f}", f"{r['median_s']:.3g}"]
              for r in p["results"]]))


def fairness(name: str = "fairness_adult_medium") -> None:
    p = load(name)
    if not p:
        return
    st = p["settings"]
    labels = {"main": "", "t_input": " (T as input)"}

    def pm(m, sd, spec=".3f", scale=1.0):
        return "–" if m is None else f"{m * scale:{spec}} ± {sd * scale:{spec}}"

    for attr in st["attrs"]:
        s = p["summary"][attr]
        print(f"\n### {name}: T = {attr} ({st['seeds']} seeds; frontier AUC "
              f"{pm(*s['frontier_auc'])}; unrepaired best {pm(*s['best_auc_unrepaired'])})\n")
        print(md(["method", "ρ\\*(Z,Y)", "ρ\\*(Z,T) ↓", "linear leakage of T", "target AUC ↑",
                  "max-step ms", "fit s"],
                 [[e["method"] + labels[e["protocol"]], pm(e["rho_y"], e["rho_y_std"]),
                   pm(e["rho_t"], e["rho_t_std"]), pm(e["linear_t"], e["linear_t_std"]),
                   pm(e["auc"], e["auc_std"]),
                   pm(e["max_step_s"], e["max_step_s_std"], ".2f", 1e3),
                   pm(e["fit_s"], e["fit_s_std"], ".1f")] for e in s["table"]]))
        print(f"\nchecks: {s['checks']}")


if __name__ == "__main__":
    fairness()
    audit_scale()
    power()
    rho()
    reader()
    reader("reader_memory_1e6")
