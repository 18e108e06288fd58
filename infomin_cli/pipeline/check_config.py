"""The configuration of ``infomin check``: a list of audits ("checks") with shared defaults.

Found in ``infomin.toml`` (top-level keys) or in ``pyproject.toml`` under ``[tool.infomin]``,
by walking up from the working directory (in each directory ``infomin.toml`` first); or named.
Example::

    [tool.infomin]
    alpha = 0.01                          # any audit setting: shared default
    estimators = ["sliced", "linear", "rho"]
    seed = 0
    engine = "local"                      # or "ray": Ray Data on RAY_ADDRESS (pip install '.[ray]')

    [tool.infomin.thresholds]             # shared effect-size limits (optional)
    rho = { value = 0.3, bound = "lower" }   # or a bare number: the lower bound

    [[tool.infomin.checks]]
    name = "encoder-v2"
    input = "embeddings/test.parquet"     # file, directory or glob; relative to this file
    attributes = ["sex", "race"]
    attrs_file = "attributes.csv"         # optional, with id_col
    permutations = 2000                   # overrides the default for this check
    [tool.infomin.checks.thresholds]
    linear = 0.1

Every key is validated: unknown keys get a "did you mean", wrong types and missing files are
named with their place (``checks[2] 'encoder-v2': permutations``), and settings that could
never fail (too few permutations for the family) are refused -- all before any data is read.
"""

from __future__ import annotations

import difflib
import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infomin_cli.errors import InputError, SettingError
from infomin_cli.estimators.registry import REGISTRY
from infomin_cli.io.source import LoadOptions
from infomin_cli.io.uri import is_uri, local_path
from infomin_cli.pipeline.audit_config import AuditConfig
from infomin_cli.pipeline.config import DEFAULTS as AUDIT_DEFAULTS
from infomin_cli.pipeline.config import audit_settings
from infomin_cli.pipeline.policy import Policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILE = "infomin.toml"
SETTINGS = tuple(k for k in AUDIT_DEFAULTS if k != "fail_above")
CHECK_KEYS = ("name", "input", "attributes", "emb_col", "emb_cols", "attrs_file", "id_col",
              "attr_kinds", "strict", "thresholds", *SETTINGS)
TOP_KEYS = ("checks", "thresholds", *SETTINGS)


@dataclass(frozen=True)
class Check:
    """One audit of ``infomin check``: its input, attributes and settings, validated."""

    name: str
    input: str  # resolved against the config file's directory
    attributes: tuple[str, ...]
    load: LoadOptions
    config: AuditConfig
    policy: Policy
    settings: dict[str, Any] = field(default_factory=dict)  # as given (for the report)


@dataclass(frozen=True)
class CheckConfig:
    path: Path
    checks: tuple[Check, ...]

    def select(self, names: list[str] | None) -> tuple[Check, ...]:
        if not names:
            return self.checks
        known = [c.name for c in self.checks]
        for n in names:
            if n not in known:
                raise InputError(f"{self.path}: --only {n}: no such check{_hint(n, known)} "
                                 f"(checks: {', '.join(known)})")
        return tuple(c for c in self.checks if c.name in names)


def _hint(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``infomin.toml``, or ``pyproject.toml`` with ``[tool.infomin]``, walking up."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file():
            return d / CONFIG_FILE
        py = d / "pyproject.toml"
        if py.is_file():
            try:
                if "infomin" in _read_toml(py).get("tool", {}):
                    return py
            except InputError:
                continue
    return None


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def load_config(path: Path | str | None = None) -> CheckConfig:
    """Read and validate the check configuration (``path`` None: :func:`find_config`)."""
    if path is None:
        found = find_config()
        if found is None:
            raise InputError(f"no {CONFIG_FILE} (or pyproject.toml with [tool.infomin]) in "
                             f"{Path.cwd()} or above; name one with --config")
        path = found
    path = Path(path)
    data = _read_toml(path)
    if path.name == "pyproject.toml" or "tool" in data and "infomin" in data.get("tool", {}):
        data = data.get("tool", {}).get("infomin")
        if data is None:
            raise InputError(f"{path}: no [tool.infomin] table")
    return _validate(path, data)


def _keys(path: Path, where: str, table: Any, allowed: tuple[str, ...]) -> dict:
    if not isinstance(table, dict):
        raise InputError(f"{path}: {where}: expected a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            raise InputError(f"{path}: {where}: unknown key {key!r}{_hint(key, allowed)}")
    return table


def _thresholds(path: Path, where: str, table: Any) -> dict:
    _keys(path, where, table, tuple(REGISTRY))  # a threshold per registry estimator
    out = {}
    for est, spec in table.items():
        if isinstance(spec, bool) or not isinstance(spec, (int, float, dict)):
            raise InputError(f"{path}: {where}.{est}: expected a number or "
                             "{ value = X, bound = \"lower|point|upper\" }")
        if isinstance(spec, dict):
            _keys(path, f"{where}.{est}", spec, ("value", "bound"))
            if "value" not in spec:
                raise InputError(f"{path}: {where}.{est}: missing 'value'")
            out[est] = f"{est}:{spec.get('bound', 'lower')}={spec['value']}"
        else:
            out[est] = f"{est}={spec}"
    return out


def _string(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}: {where}: expected a non-empty string, got {value!r}")
    return value


def _resolve_input(base: Path, path: Path, where: str, value: str) -> str:
    if is_uri(value):  # object storage: checked when read (credentials from the environment)
        return value
    value = local_path(value)
    p = os.path.normpath(value if Path(value).is_absolute() else str(base / value))
    if any(c in value for c in "*?["):
        if not glob.glob(p, recursive=True):
            raise InputError(f"{path}: {where}: {value!r}: no files match this pattern")
    elif not Path(p).exists():
        raise InputError(f"{path}: {where}: {value!r}: no such file or directory "
                         f"(relative paths start at {base})")
    return p


def _validate(path: Path, data: Any) -> CheckConfig:
    top = _keys(path, "configuration", data, TOP_KEYS)
    base = path.resolve().parent
    defaults = {k: v for k, v in top.items() if k in SETTINGS}
    shared_thresholds = _thresholds(path, "thresholds", top.get("thresholds", {}))
    raw_checks = top.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise InputError(f"{path}: no checks: add at least one [[checks]] table "
                         "(with name, input and attributes)")
    checks: list[Check] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_checks):
        where = f"checks[{i}]"
        _keys(path, where, raw, CHECK_KEYS)
        for req in ("name", "input", "attributes"):
            if req not in raw:
                raise InputError(f"{path}: {where}: missing {req!r}")
        name = _string(path, f"{where}.name", raw["name"])
        where = f"checks[{i}] {name!r}"
        if name in names:
            raise InputError(f"{path}: {where}: the name is used twice")
        names.add(name)
        attrs = raw["attributes"]
        if isinstance(attrs, str):
            attrs = [attrs]
        if (not isinstance(attrs, list) or not attrs
                or not all(isinstance(a, str) and a for a in attrs)):
            raise InputError(f"{path}: {where}: attributes: expected a list of column names")
        if len(set(attrs)) != len(attrs):
            raise InputError(f"{path}: {where}: attributes: a name is listed twice")
        source = _resolve_input(base, path, f"{where}.input",
                                _string(path, f"{where}.input", raw["input"]))
        attrs_file = raw.get("attrs_file")
        if attrs_file is not None:
            attrs_file = _resolve_input(base, path, f"{where}.attrs_file",
                                        _string(path, f"{where}.attrs_file", attrs_file))
        kinds = raw.get("attr_kinds", {})
        if not isinstance(kinds, dict) or not all(isinstance(v, str) for v in kinds.values()):
            raise InputError(f"{path}: {where}: attr_kinds: expected a table of "
                             "name = \"kind\"")
        strict = raw.get("strict", False)
        if not isinstance(strict, bool):
            raise InputError(f"{path}: {where}: strict: expected true or false")
        for key in ("emb_col", "emb_cols", "id_col"):
            if key in raw:
                _string(path, f"{where}.{key}", raw[key])
        thresholds = {**shared_thresholds,
                      **_thresholds(path, f"{where}.thresholds", raw.get("thresholds", {}))}
        settings = {**defaults, **{k: v for k, v in raw.items() if k in SETTINGS}}
        try:
            config, policy = audit_settings(
                {**settings, "fail_above": list(thresholds.values())}, attributes=len(attrs))
        except SettingError as exc:
            raise InputError(f"{path}: {where}: {exc.key} {exc.problem}") from None
        load = LoadOptions(emb_col=raw.get("emb_col"), emb_cols=raw.get("emb_cols"),
                           attrs_file=attrs_file, id_col=raw.get("id_col"),
                           attr_kinds=dict(kinds), strict=strict)
        checks.append(Check(name, source, tuple(attrs), load, config, policy, settings))
    return CheckConfig(path, tuple(checks))
