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
