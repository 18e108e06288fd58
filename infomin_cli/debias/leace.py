"""The LEACE baseline (Belrose et al., 2023), through the ``concept-erasure`` package.

LEACE is the least-squares *linear* concept eraser: after it no linear classifier beats chance
on the attribute, but nonlinear information can remain (the audit's rho* shows it). We use the
library's ``LeaceFitter`` (never a re-implementation) and store its affine map
``x' = x - (x - b) R^T L^T`` as a :class:`~infomin_cli.debias.projection.Projection` with
a linear head ``W = I - L R``, bias ``L R b`` and the identity standardisation, so that
``infomin apply`` and ``save``/``load`` treat it like any other projection.
Install with ``pip install '.[leace]'`` (from a clone).
"""

from __future__ import annotations

import numpy as np
import torch

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.errors import InputError


def _design(a: Attribute) -> np.ndarray:
    if a.kind in DISCRETE_KINDS:
        return a.design(np.float64)
    v = np.asarray(a.values, dtype=np.float64).reshape(len(a), -1)
    return v - v.mean(0)


def leace_projection(Z: np.ndarray, attributes: list[Attribute], *, metadata: dict | None = None):
    """Fit LEACE on ``Z`` for the attributes (their one-hot or centred values, concatenated)
    and return it as a :class:`~infomin_cli.debias.projection.Projection`."""
    try:
        from concept_erasure import LeaceFitter
    except ImportError:
        raise InputError("--method leace needs the concept-erasure package: "
                         "pip install '.[leace]' from a clone of infomin") from None
    from infomin_cli.debias.projection import Projection

    z = np.asarray(Z, dtype=np.float64)
    if z.ndim != 2 or not attributes:
        raise ValueError("LEACE needs a 2-D embedding array and at least one attribute")
    x = torch.as_tensor(z)
    t = torch.as_tensor(np.concatenate([_design(a) for a in attributes], axis=1))
    eraser = LeaceFitter.fit(x, t).eraser
    d = z.shape[1]
    lr = eraser.proj_left @ eraser.proj_right
    weight = torch.eye(d, dtype=lr.dtype) - lr
    bias = lr @ eraser.bias if eraser.bias is not None else torch.zeros(d, dtype=lr.dtype)
    meta = {"method": "leace", "attributes": [a.name for a in attributes], **(metadata or {})}
    return Projection("linear", torch.zeros(d), torch.ones(d),
                      {"weight": weight.to(torch.float32), "bias": bias.to(torch.float32)}, meta)
