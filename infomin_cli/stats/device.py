"""The compute device, and array -> tensor without copies of read-only buffers."""

from __future__ import annotations

import warnings

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU. ``ValueError`` for an unknown name or for
    ``cuda`` on a machine without a GPU."""
    if isinstance(choice, torch.device):
        return choice
    name = str(choice).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {choice!r}: no CUDA device is available on this machine")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"device {choice!r}: expected one of {', '.join(DEVICE_CHOICES)} "
                     "(or cuda:N)")


def to_tensor(x, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.as_tensor`` that accepts read-only arrays (memory maps, Arrow buffers).

    The tensor is only read, never written, so sharing a read-only buffer is safe; torch's
    warning about it is silenced here rather than paying for a copy.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(x, dtype=dtype, device=device)
