"""A fitted, frozen projection of embeddings.

:class:`Projection` is the whole inference path of a debiasing fit, in the style of
concept-erasure's ``LeaceEraser``: ``f(z) = head((z - mean) * scale)``, where ``head`` is a linear
map (``d -> k``) or a small MLP (``Linear(d, h) -> SiLU -> Linear(h, k)``) and ``mean`` /
``scale`` standardise the embeddings with the statistics of the rows it was fitted on
(``scale`` is 0 for a dead column), plus, when it has ``noise``, Gaussian noise keyed by the
input row (a debiased output's fine structure is where a tree probe reads what the smooth
critic of the fit cannot; the noise hides it). Calling it on a numpy array gives a float32 numpy array;
calling it on a tensor gives a tensor on the projection's device. On disk it is a safetensors
file and a JSON sidecar, without pickle (:mod:`~infomin_cli.debias.projection_file`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.debias.projection_file import WEIGHT_NAMES, load_projection, save_projection
from infomin_cli.io.writers import PathLike
from infomin_cli.stats.device import to_tensor

__all__ = ["Projection", "ProjectionModule", "apply_batches"]

Kind = Literal["linear", "mlp"]


class ProjectionModule(nn.Module):
    """``head((z - mean) * scale)`` as a module: ``mean`` / ``scale`` are buffers, ``head`` is
    an ``nn.Linear`` or ``nn.Sequential(Linear, SiLU, Linear)`` with trainable parameters."""

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, head: nn.Module, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head((z - self.mean) * self.scale)


@dataclass(frozen=True, eq=False)
class Projection:
    """f(z) = head(( z - mean) * scale): a linear map (d -> k) or an MLP (d -> hidden -> k),
    applied to embeddings standardised with the statistics of the rows it was fitted on.

    ``weights``: for ``"linear"``, ``{"weight": (k, d), "bias": (k,)}``; for ``"mlp"``,
    ``{"0.weight": (h, d), "0.bias": (h,), "2.weight": (k, h), "2.bias": (k,)}`` -- the
    ``state_dict`` of ``Linear(d, h) -> SiLU -> Linear(h, k)``. Every tensor is float32 and all
    lie on one device. ``metadata`` must be JSON-ready (it is copied through JSON on
    construction, so tuples become lists).

    ``noise``: ``None``, or a ``(k,)`` tensor of standard deviations: the output is then
    ``f(z) + noise * n(z)``, ``n(z)`` standard normal draws keyed by the row's content and
    ``noise_seed`` (:mod:`~infomin_cli.debias.row_noise`), so a row gets the same noise in
    any batch or order. Construction checks all of this and raises ``ValueError``.
    """

    kind: Kind
    mean: torch.Tensor
    scale: torch.Tensor
    weights: dict[str, torch.Tensor]
    metadata: dict = dataclasses.field(default_factory=dict)
    noise: torch.Tensor | None = None
    noise_seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in WEIGHT_NAMES:
            raise ValueError(f"kind must be 'linear' or 'mlp', got {self.kind!r}")
        if not isinstance(self.weights, Mapping):
            raise ValueError(f"weights must be a dict of tensors, got {type(self.weights).__name__}")
        weights = dict(self.weights)
        expected = WEIGHT_NAMES[self.kind]
        if set(weights) != set(expected):
            raise ValueError(f"a {self.kind} projection has weights {list(expected)}, "
                             f"got {sorted(weights)}")
        tensors = {"mean": self.mean, "scale": self.scale,
                   **{f"weights.{n}": weights[n] for n in expected}}
        if self.noise is not None:
            tensors["noise"] = self.noise
        for name, t in tensors.items():
            if not isinstance(t, torch.Tensor):
                raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.dtype != torch.float32:
                raise ValueError(f"{name} must be float32, got {t.dtype}")
        devices = {t.device for t in tensors.values()}
        if len(devices) > 1:
            raise ValueError(f"tensors lie on several devices: {sorted(map(str, devices))}")
        shapes = {name: tuple(t.shape) for name, t in tensors.items()}
        if len(shapes["mean"]) != 1 or shapes["mean"][0] < 1:
            raise ValueError(f"mean must have shape (d,) with d >= 1, got {shapes['mean']}")
        d = shapes["mean"][0]
        want: dict[str, tuple[int, ...]] = {"mean": (d,), "scale": (d,)}
        if self.kind == "linear":
            k = _rows(shapes, "weights.weight")
            want |= {"weights.weight": (k, d), "weights.bias": (k,)}
        else:
            h = _rows(shapes, "weights.0.weight")
            k = _rows(shapes, "weights.2.weight")
            want |= {"weights.0.weight": (h, d), "weights.0.bias": (h,),
                     "weights.2.weight": (k, h), "weights.2.bias": (k,)}
        if self.noise is not None:
            want["noise"] = (k,)
            if not bool(torch.isfinite(self.noise).all() and (self.noise >= 0).all()):
                raise ValueError("noise must hold finite standard deviations >= 0")
        if isinstance(self.noise_seed, bool) or not isinstance(self.noise_seed, int):
            raise ValueError(f"noise_seed must be an int, got {self.noise_seed!r}")
        for name, shape in want.items():
            if shapes[name] != shape:
                raise ValueError(f"{name} has shape {shapes[name]}, expected {shape} "
                                 f"(input dimension {d})")
        if not isinstance(self.metadata, Mapping):
            raise ValueError(f"metadata must be a dict, got {type(self.metadata).__name__}")
        try:
            metadata = json.loads(json.dumps(dict(self.metadata)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata is not JSON-ready: {exc}") from exc
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "metadata", metadata)

    # -- shape ---------------------------------------------------------------------------

    @property
    def dim_in(self) -> int:
        return int(self.mean.shape[0])

    @property
    def dim_out(self) -> int:
        return int(self.weights["bias" if self.kind == "linear" else "2.bias"].shape[0])

    @property
    def hidden(self) -> int | None:
        """The MLP's hidden width; ``None`` for a linear projection."""
        return None if self.kind == "linear" else int(self.weights["0.bias"].shape[0])

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def __repr__(self) -> str:
        hidden = f", hidden={self.hidden}" if self.kind == "mlp" else ""
        noise = "" if self.noise is None else f", noise={float(self.noise.max()):.3g}"
        return (f"Projection(kind={self.kind!r}, dim_in={self.dim_in}{hidden}, "
                f"dim_out={self.dim_out}{noise}, device={self.device})")

    # -- inference -----------------------------------------------------------------------

    @overload
    def __call__(self, z: torch.Tensor) -> torch.Tensor: ...
    @overload
    def __call__(self, z: np.ndarray) -> np.ndarray: ...

    def __call__(self, z):
        """``f(z)`` for ``z`` of shape ``(n, dim_in)``: a float32 numpy array for a numpy
        array (computed under ``torch.no_grad()``), a float32 tensor on the projection's device
        for a tensor (autograd flows through ``z`` if it requires grad). ``ValueError`` for
        a non-2-D ``z`` or the wrong number of columns."""
        if isinstance(z, torch.Tensor):
            if z.is_complex():
                raise ValueError(f"expected real embeddings, got a {z.dtype} tensor")
            self._check_shape(tuple(z.shape))
            out = self._forward(z.to(device=self.device, dtype=torch.float32))
            if self.noise is None:
                return out
            return out + self._noise(z.detach().to("cpu", torch.float32).numpy())
        arr = np.asarray(z)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"expected a numeric array, got dtype {arr.dtype}")
        self._check_shape(arr.shape)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        x = to_tensor(arr, torch.float32,
                      torch.device("cpu"))  # read-only buffers (Arrow, mmap) are only read
        with torch.no_grad():
            out = self._forward(x.to(self.device))
            if self.noise is not None:
                out = out + self._noise(arr)
        return out.cpu().numpy()

    transform = __call__

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2:
            raise ValueError(f"expected a 2-D (n, {self.dim_in}) array of embeddings, "
                             f"got shape {shape}")
        if shape[1] != self.dim_in:
            raise ValueError(f"expected embeddings of dimension {self.dim_in}, "
                             f"got dimension {shape[1]}")

    def _noise(self, z: np.ndarray) -> torch.Tensor:
        """``noise * n(z)`` on the projection's device: the rows' keyed normal draws."""
        from infomin_cli.debias.row_noise import row_normals

        draws = torch.from_numpy(row_normals(z, self.dim_out, self.noise_seed))
        return draws.to(self.device) * self.noise

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # The same ops, in the same order, as ProjectionModule.forward: bit-identical results.
        x = (x - self.mean) * self.scale
        w = self.weights
        if self.kind == "linear":
            return F.linear(x, w["weight"], w["bias"])
        return F.linear(F.silu(F.linear(x, w["0.weight"], w["0.bias"])), w["2.weight"],
                        w["2.bias"])

    # -- conversions ---------------------------------------------------------------------

    def to(self, device: str | torch.device) -> Projection:
        """A new projection with every tensor on ``device``."""
        return dataclasses.replace(
            self, mean=self.mean.to(device), scale=self.scale.to(device),
            weights={n: t.to(device) for n, t in self.weights.items()},
            noise=None if self.noise is None else self.noise.to(device))

    def module(self) -> ProjectionModule:
        """An equivalent :class:`ProjectionModule` on the projection's device, with its own
        copies of the tensors (training it leaves this projection unchanged); its ``head`` is
        an ``nn.Linear`` or ``nn.Sequential(Linear, SiLU, Linear)``. It is the map without
        the output ``noise``."""
        if self.kind == "linear":
            head: nn.Module = nn.Linear(self.dim_in, self.dim_out)
        else:
            h = self.hidden
            assert h is not None
            head = nn.Sequential(nn.Linear(self.dim_in, h), nn.SiLU(), nn.Linear(h, self.dim_out))
        head = head.to(self.device)
        with torch.no_grad():
            head.load_state_dict({n: t.clone() for n, t in self.weights.items()})
        return ProjectionModule(head, self.mean.clone(), self.scale.clone()).eval()

    @classmethod
    def from_module(cls, kind: Kind, module: nn.Module, mean: Any = None, scale: Any = None,
                    metadata: Mapping[str, Any] | None = None, *, noise: Any = None,
                    noise_seed: int = 0) -> Projection:
        """A projection from a trained head: an ``nn.Linear`` (``kind="linear"``) or
        ``nn.Sequential(Linear, SiLU, Linear)`` (``kind="mlp"``), both with biases, or a
        :class:`ProjectionModule` holding one (then ``mean`` / ``scale`` default to its
        buffers). ``mean`` / ``scale`` are ``(d,)`` arrays or tensors; ``noise`` (``(k,)``)
        and ``noise_seed`` as in the class. Every tensor is detached, cloned, float32 and on
        the CPU."""
        if isinstance(module, ProjectionModule):
            mean = module.mean if mean is None else mean
            scale = module.scale if scale is None else scale
            module = module.head
        if mean is None or scale is None:
            raise ValueError("give mean and scale (the standardisation of the training rows)")
        if kind == "linear":
            layers = [module]
        elif kind == "mlp":
            if not (isinstance(module, nn.Sequential) and len(module) == 3
                    and isinstance(module[1], nn.SiLU)):
                raise ValueError("an mlp projection needs nn.Sequential(Linear, SiLU, Linear), "
                                 f"got {type(module).__name__}")
            layers = [module[0], module[2]]
        else:
            raise ValueError(f"kind must be 'linear' or 'mlp', got {kind!r}")
        for layer in layers:
            if not isinstance(layer, nn.Linear) or layer.bias is None:
                raise ValueError(f"expected nn.Linear layers with a bias, got {layer!r}")
        weights = {n: _cpu32(t) for n, t in module.state_dict().items()}
        return cls(kind, _cpu32(mean), _cpu32(scale), weights, dict(metadata or {}),
                   None if noise is None else _cpu32(noise), int(noise_seed))

    # -- files ---------------------------------------------------------------------------

    def save(self, path: PathLike, *, inputs: Iterable[PathLike] = (),
             input_files: Iterable[PathLike] = ()) -> Path:
        """Write ``path`` and its sidecar ``path + ".json"``
        (:func:`~infomin_cli.debias.projection_file.save_projection`). Returns ``Path(path)``."""
        return save_projection(self, path, inputs=inputs, input_files=input_files)

    @classmethod
    def load(cls, path: PathLike) -> Projection:
        """Read a projection written by :meth:`save`, on the CPU
        (:func:`~infomin_cli.debias.projection_file.load_projection`)."""
        return load_projection(path, cls)


def apply_batches(projection: Projection,
                  batches: Iterable[np.ndarray | torch.Tensor]) -> Iterator[np.ndarray]:
    """``projection(batch)`` for each ``(b, dim_in)`` batch, as float32 numpy arrays computed
    under ``torch.no_grad()`` -- for streaming a file through a projection. A bad batch raises
    ``ValueError`` naming its index."""
    for i, batch in enumerate(batches):
        if isinstance(batch, torch.Tensor):
            batch = batch.detach().cpu().numpy()
        try:
            out = projection(np.asarray(batch))
        except ValueError as exc:
            raise ValueError(f"batch {i}: {exc}") from exc
        yield out


# -- helpers ---------------------------------------------------------------------------------


def _rows(shapes: dict[str, tuple[int, ...]], name: str) -> int:
    shape = shapes[name]
    if len(shape) != 2 or shape[0] < 1:
        raise ValueError(f"{name} must be a 2-D (out, in) matrix, got shape {shape}")
    return shape[0]


def _cpu32(x: Any) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(device="cpu", dtype=torch.float32).clone()
