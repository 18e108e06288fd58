"""The compute device: a setting checked by its spelling (no torch), resolved to a
``torch.device``; and array -> tensor without copies of read-only buffers. torch is imported
by the functions that need it, so validating settings never loads it."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def device_name(choice: str) -> str:
    """A device setting checked by its spelling only (``auto``, ``cpu``, ``cuda``, ``cuda:N``),
    lower-cased; ``ValueError`` otherwise."""
    name = str(choice).lower()
    if name in DEVICE_CHOICES or (name.startswith("cuda:") and name[5:].isdigit()):
        return name
    raise ValueError(f"device {choice!r}: expected one of {', '.join(DEVICE_CHOICES)} "
                     "(or cuda:N)")


def device_setting(choice: str) -> str:
    """A device setting validated: :func:`device_name`, and for ``cuda`` that a GPU is there
    (torch is imported only then; ``auto`` is resolved when the work runs)."""
    name = device_name(choice)
    return str(resolve_device(name)) if name.startswith("cuda") else name


def resolve_device(choice: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU. ``ValueError`` for an unknown name or for
    ``cuda`` on a machine without a GPU."""
    import torch

    if isinstance(choice, torch.device):
        return choice
    name = device_name(choice)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {choice!r}: no CUDA device is available on this machine")
    return torch.device(name)


def to_tensor(x, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.as_tensor`` that accepts read-only arrays (memory maps, Arrow buffers).

    The tensor is only read, never written, so sharing a read-only buffer is safe; torch's
    warning about it is silenced here rather than paying for a copy.
    """
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(x, dtype=dtype, device=device)


def all_finite(t: torch.Tensor) -> bool:
    """True when ``t`` holds no NaN or infinity (True when empty).

    Its minimum and maximum carry any NaN (``amin``/``amax`` propagate it) and any infinity:
    one fused reduction, ~25x faster on the CPU than materialising ``isfinite(t)``.
    """
    import torch

    if t.numel() == 0:
        return True
    lo, hi = torch.aminmax(t)
    return bool(torch.isfinite(lo) & torch.isfinite(hi))
