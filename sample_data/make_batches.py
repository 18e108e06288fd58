"""Write ``adult_batches.csv``: a nuisance attribute independent of everything by construction.

Each row of ``adult_attributes.csv`` is assigned to one of four review batches (A-D) by a seeded
random draw that looks at nothing but the seed. An audit of ``batch`` therefore has a known
answer -- the embedding carries no information about it -- which makes it the passing example
of ``infomin check`` (``examples/passing.toml``). Standard library and infomin's writer; rerunning it gives the
same bytes; written atomically through :func:`infomin_cli.io.writers.write_atomic`.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from infomin_cli.io.writers import write_atomic

HERE = Path(__file__).resolve().parent
SEED = 20221128


def main() -> None:
    with open(HERE / "adult_attributes.csv", newline="") as fh:
        ids = [row["id"] for row in csv.DictReader(fh)]
    rng = random.Random(SEED)
    batches = [rng.choice("ABCD") for _ in ids]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "batch"])
    w.writerows(zip(ids, batches))
    write_atomic(HERE / "adult_batches.csv", buf.getvalue())


if __name__ == "__main__":
    main()
