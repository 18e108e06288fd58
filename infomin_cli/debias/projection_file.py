"""The file format of a :class:`~infomin_cli.debias.projection.Projection`, without pickle.

A projection is two files:

* ``PATH`` -- a safetensors file holding ``mean``, ``scale`` and the head's weights as
  ``weights.<name>`` (``weights.weight``, ``weights.bias`` for a linear head;
  ``weights.0.weight`` ... ``weights.2.bias`` for an MLP), and ``noise`` when the projection
  adds output noise (format 2), all float32;
* ``PATH + ".json"`` -- the sidecar (``proj.safetensors`` -> ``proj.safetensors.json``; the
  suffix is appended, never substituted, so it cannot collide with a report named
  ``proj.json``): ``{"format": "infomin-projection", "format_version": 1, "kind", "dim_in",
  "dim_out", "tensors": {name: shape}, "sha256": <of PATH's bytes>, "infomin_version",
  "metadata": {...}}``, and ``"noise_seed"`` with ``noise`` (``"format_version": 2``).

Both are written atomically and never over an input. Loading verifies the sidecar, the sha256
of the bytes it read, the tensor names, dtypes and shapes, and then parses those same bytes
(``safetensors.torch.load`` on the verified bytes rather than ``load_file``, so that the file
cannot change between the check and the parse). Nothing is ever unpickled; a pickle or
``torch.save`` file is refused by name. A loaded projection gives bit-for-bit the outputs of
the one saved (on the same device).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infomin_cli._version import __version__
from infomin_cli.errors import InputError
from infomin_cli.io.writers import PathLike, atomic_file, check_output_path, write_json_atomic

if TYPE_CHECKING:  # safetensors.torch (and torch) load only when a projection is read or written
    import torch

__all__ = ["FORMAT", "FORMAT_VERSION", "WEIGHT_NAMES", "load_projection", "save_projection",
           "sidecar_path"]

FORMAT = "infomin-projection"
#: the newest format written and read: 2 adds the optional ``noise`` tensor and the sidecar's
#: ``noise_seed``; a projection without noise is still written as 1, which older readers read
FORMAT_VERSION = 2
#: the weight tensors of each kind of projection, by their names in the file
WEIGHT_NAMES: dict[str, tuple[str, ...]] = {
    "linear": ("weight", "bias"),
    "mlp": ("0.weight", "0.bias", "2.weight", "2.bias"),
}


def sidecar_path(path: PathLike) -> Path:
    """The JSON sidecar of the projection saved at ``path``: ``path + ".json"``."""
    return Path(os.fspath(path) + ".json")


def save_projection(projection: Any, path: PathLike, *,
                    inputs: Iterable[PathLike] = (),
                    input_files: Iterable[PathLike] = ()) -> Path:
    """Write the safetensors file ``path`` and its sidecar ``path + ".json"``, each
    atomically. Both targets are checked (:func:`~infomin_cli.io.writers.check_output_path`:
    never over an input, never into an input directory) before either is written. The
    tensor file is written first, so a reader racing the save sees a sha256 mismatch, not
    a silently wrong projection. Returns ``Path(path)``."""
    inputs = list(inputs)
    input_files = list(input_files)
    sidecar = sidecar_path(path)
    check_output_path(path, inputs, input_files=input_files)
    check_output_path(sidecar, inputs, input_files=input_files)
    import safetensors.torch

    tensors = _tensors(projection)
    version = 1 if projection.noise is None else 2
    data = safetensors.torch.save(
        tensors, metadata={"format": FORMAT, "format_version": str(version),
                           "kind": projection.kind})
    doc = {
        "format": FORMAT,
        "format_version": version,
        "kind": projection.kind,
        "dim_in": projection.dim_in,
        "dim_out": projection.dim_out,
        "tensors": {name: list(t.shape) for name, t in tensors.items()},
        "sha256": hashlib.sha256(data).hexdigest(),
        "infomin_version": __version__,
        "metadata": projection.metadata,
    }
    if projection.noise is not None:
        doc["noise_seed"] = projection.noise_seed
    with atomic_file(path, inputs=inputs, input_files=input_files) as fh:
        fh.write(data)
    write_json_atomic(sidecar, doc, inputs=inputs, input_files=input_files)
    return Path(path)


def load_projection(path: PathLike, cls: type) -> Any:
    """Read a projection written by :func:`save_projection` (on the CPU) as ``cls(kind, mean,
    scale, weights, metadata)`` (:class:`~infomin_cli.debias.projection.Projection`). Raises
    :class:`~infomin_cli.errors.InputError` ``"<file>: <problem>"`` for a missing file or
    sidecar, a pickle / ``torch.save`` file, a sidecar that is not ours or is of a newer
    format, a sha256 mismatch, bytes safetensors cannot parse, and tensors whose names,
    dtypes or shapes do not fit the sidecar and kind."""
    raw = os.fspath(path)
    data, doc = verified_file(path)
    return _projection_tensors(raw, data, doc, cls)


def verified_file(path: PathLike) -> tuple[bytes, dict[str, Any]]:
    """The bytes of the projection file at ``path`` and its sidecar, checked without torch:
    the file is there and is not a pickle, the sidecar is ours, the sha256 matches.
    :class:`~infomin_cli.errors.InputError` otherwise."""
    raw = os.fspath(path)
    p = Path(raw)
    if p.is_dir():
        raise InputError(f"{raw}: is a directory, not a projection file")
    if not p.is_file():
        raise InputError(f"{raw}: no such file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{raw}: cannot read ({exc.strerror or exc})") from exc
    if _is_pickle(data):
        raise InputError(f"{raw}: is a pickle (torch.save) file, not a safetensors "
                         "projection; refusing to unpickle")
    doc = _read_sidecar(raw)
    if doc.get("sha256") != hashlib.sha256(data).hexdigest():
        raise InputError(f"{raw}: sha256 does not match its sidecar "
                         f"{sidecar_path(raw).name} (the file was changed or is corrupt)")
    return data, doc


def _projection_tensors(raw: str, data: bytes, doc: dict[str, Any], cls: type) -> Any:
    import safetensors.torch

    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # SafetensorError, or anything the parser raises on bad bytes
        raise InputError(f"{raw}: not a readable safetensors file "
                         f"({_one_line(exc)})") from exc

    kind = doc["kind"]
    expected = ["mean", "scale", *(f"weights.{n}" for n in WEIGHT_NAMES[kind])]
    if "noise" in tensors and doc.get("format_version", 1) >= 2:
        expected.append("noise")
    if set(tensors) != set(expected):
        raise InputError(f"{raw}: holds tensors {sorted(tensors)}, expected {expected} "
                         f"for a {kind} projection")
    listed = doc.get("tensors")
    if isinstance(listed, dict):
        for name, t in tensors.items():
            if listed.get(name) != list(t.shape):
                raise InputError(f"{raw}: tensor {name!r} has shape {list(t.shape)}, "
                                 f"its sidecar says {listed.get(name)}")
    seed = doc.get("noise_seed", 0)
    if "noise" in tensors and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(f"{raw}: its sidecar's noise_seed must be an integer, got {seed!r}")
    try:
        proj = cls(kind, tensors["mean"], tensors["scale"],
                   {n: tensors[f"weights.{n}"] for n in WEIGHT_NAMES[kind]},
                   doc.get("metadata", {}), tensors.get("noise"), seed)
    except ValueError as exc:
        raise InputError(f"{raw}: {_one_line(exc)}") from exc
    for key, value in (("dim_in", proj.dim_in), ("dim_out", proj.dim_out)):
        if key in doc and doc[key] != value:
            raise InputError(f"{raw}: the tensors give {key} {value}, its sidecar says "
                             f"{doc[key]!r}")
    return proj


def _tensors(projection: Any) -> dict[str, torch.Tensor]:
    """Every tensor by its name in the file, contiguous on the CPU."""
    out = {"mean": projection.mean, "scale": projection.scale}
    out |= {f"weights.{n}": projection.weights[n] for n in WEIGHT_NAMES[projection.kind]}
    if projection.noise is not None:
        out["noise"] = projection.noise
    return {n: t.detach().to("cpu").contiguous() for n, t in out.items()}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _looks_like_safetensors(data: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then a JSON header."""
    if len(data) < 10:
        return False
    n = int.from_bytes(data[:8], "little")
    return 8 + n <= len(data) and data[8:9] == b"{"


def _is_pickle(data: bytes) -> bool:
    """A pickle (protocol 2+, first byte 0x80) or a zip-format ``torch.save`` file. A
    safetensors header length whose low byte happens to be 0x80 is not mistaken for one."""
    if _looks_like_safetensors(data):
        return False
    return data[:1] == b"\x80" or data[:4] == b"PK\x03\x04"


def _read_sidecar(raw: str) -> dict[str, Any]:
    sidecar = sidecar_path(raw)
    if not sidecar.is_file():
        hint = ("; give the .safetensors file, not its sidecar" if raw.endswith(".json")
                else " (a projection is saved as two files)")
        raise InputError(f"{raw}: its sidecar {sidecar.name} is missing{hint}")
    try:
        doc = json.loads(sidecar.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{sidecar}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{sidecar}: not valid JSON ({_one_line(exc)})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise InputError(f"{sidecar}: not an infomin projection sidecar "
                         f"(format {fmt!r}, expected {FORMAT!r})")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"{sidecar}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise InputError(f"{sidecar}: format_version {version} is newer than this infomin "
                         f"reads ({FORMAT_VERSION}); upgrade infomin")
    if doc.get("kind") not in WEIGHT_NAMES:
        raise InputError(f"{sidecar}: kind {doc.get('kind')!r} is not 'linear' or 'mlp'")
    if not isinstance(doc.get("sha256"), str):
        raise InputError(f"{sidecar}: no sha256 of the tensor file")
    if not isinstance(doc.get("metadata", {}), dict):
        raise InputError(f"{sidecar}: metadata is not a JSON object")
    return doc
