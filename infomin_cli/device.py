"""Resolve a ``--device`` choice to a torch device."""

from __future__ import annotations

import torch

from infomin_cli.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an input error."""
    if isinstance(choice, torch.device):
        return choice
    choice = str(choice).lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available on this machine")
        return torch.device(choice)
    if choice == "cpu":
        return torch.device("cpu")
    raise InputError(f"--device {choice!r}: expected one of {', '.join(DEVICE_CHOICES)}")


def to_tensor(x, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.as_tensor`` that accepts read-only arrays (memory maps, Arrow buffers).

    The tensor is only read, never written, so sharing a read-only buffer is safe; torch's
    warning about it is silenced here rather than paying for a copy.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(x, dtype=dtype, device=device)
