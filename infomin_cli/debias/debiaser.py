"""A scikit-learn-style estimator around :func:`~infomin_cli.debias.fit.debias`.

``Debiaser(method=..., beta=..., dim=...).fit(Z, attrs, target).transform(Z)`` fits the same
projection as ``im.debias(Z, attrs, target, config, seed=seed)`` (it calls it) and applies
it. It follows scikit-learn's conventions without importing it: the parameters are exactly
``__init__``'s arguments, stored unchanged and checked only by ``fit`` (so
``sklearn.base.clone`` and ``get_params`` / ``set_params`` work), and what ``fit`` learns is in
attributes ending in ``_``. The heavy imports (torch, pyarrow) happen in ``fit``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from infomin_cli.debias.config import DebiasConfig

if TYPE_CHECKING:
    from infomin_cli.inputs import ArrayLike, AttributeLike

__all__ = ["Debiaser", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """``transform`` before ``fit`` (a ``ValueError`` and an ``AttributeError``, as
    scikit-learn's ``NotFittedError`` is)."""


class Debiaser:
    """Remove attributes from embeddings, keeping a target, as a fit / transform estimator.

    Parameters (each ``None`` leaves ``config``'s value, and ``config`` None is
    :class:`~infomin_cli.debias.config.DebiasConfig`'s defaults):

    * ``method``: a penalty (``"slice"``, ``"adversarial"``, ``"pearson"``) or ``"leace"``
      (the closed-form linear eraser, fitted on every row; needs ``concept-erasure``);
    * ``beta``: the penalty's weight; ``dim``: the output dimension; ``model``: ``"linear"``
      or ``"mlp"``; ``max_steps``: gradient steps; ``config``: every other setting;
    * ``seed``, ``device``: as for :func:`~infomin_cli.debias.fit.debias`;
    * ``kinds``: name -> kind, overriding the inferred kind of an attribute or target.

    Fitted attributes: ``projection_`` (the :class:`~infomin_cli.debias.projection.Projection`),
    ``history_`` (its :class:`~infomin_cli.debias.fit.FitHistory`; None for LEACE),
    ``config_`` (the settings the fit ran with; None for LEACE), ``n_features_in_``, ``attributes_`` and
    ``targets_`` (the names).
    """

    def __init__(self, method: str | None = None, *, beta: float | None = None,
                 dim: int | None = None, model: str | None = None,
                 max_steps: int | None = None, config: DebiasConfig | None = None,
                 seed: int = 0, device: str = "auto",
                 kinds: dict[str, str] | None = None) -> None:
        self.method = method
        self.beta = beta
        self.dim = dim
        self.model = model
        self.max_steps = max_steps
        self.config = config
        self.seed = seed
        self.device = device
        self.kinds = kinds

    # -- scikit-learn's parameter protocol --------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params
                      if p.name != "self" and p.kind != inspect.Parameter.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` arguments (``deep``: with ``name__key`` entries of parameters
        that have parameters of their own)."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Debiaser:
        """Set parameters by name (``name__key`` for a nested one); returns ``self``."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for Debiaser; valid parameters: "
                                 f"{', '.join(self._param_names())}")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub in nested.items():
            valid[name].set_params(**sub)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default
                    for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items()
                 if v is not defaults[k] and v != defaults[k]]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- fitting ------------------------------------------------------------------------------

    def fit_config(self) -> DebiasConfig:
        """``config`` with the parameters that are not None in place (``ValueError`` for a
        bad setting)."""
        penalty = None if self.method == "leace" else self.method
        given = {"penalty": penalty, "beta": self.beta, "dim": self.dim, "model": self.model,
                 "max_steps": self.max_steps}
        return dataclasses.replace(self.config if self.config is not None else DebiasConfig(),
                                   **{k: v for k, v in given.items() if v is not None})

    def fit(self, Z: ArrayLike, attrs: AttributeLike, target: AttributeLike = None
            ) -> Debiaser:
        """Fit the projection of ``Z`` that drops ``attrs`` and keeps ``target`` (none: the
        embedding itself, by reconstruction). Inputs as for ``im.debias``."""
        from infomin_cli.inputs import debias_inputs

        z, attributes, targets = debias_inputs(Z, attrs, target, self.kinds)
        config = self.fit_config()
        if self.method == "leace":
            from infomin_cli.debias.leace import leace_projection

            proj = leace_projection(z, attributes, metadata={
                "seed": self.seed, "targets": [t.name for t in targets]})
            history, config = None, None
        else:
            from infomin_cli.debias.fit import debias

            proj, history = debias(z, attributes, targets, config, seed=self.seed,
                                   device=self.device)
            config = history.config
        self.projection_ = proj
        self.history_ = history
        self.config_ = config
        self.n_features_in_ = int(z.shape[1])
        self.attributes_ = [a.name for a in attributes]
        self.targets_ = [t.name for t in targets]
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "projection_")

    def transform(self, Z: ArrayLike) -> np.ndarray:
        """The projection of ``Z`` (float32, ``(n, dim)``)."""
        from infomin_cli.inputs import as_embeddings

        if not self.__sklearn_is_fitted__():
            raise NotFittedError("this Debiaser is not fitted yet: call fit(Z, attrs, target) "
                                 "before transform")
        z = as_embeddings(Z)
        if z.shape[1] != self.n_features_in_:
            raise ValueError(f"Z has {z.shape[1]} columns, but the Debiaser was fitted on "
                             f"{self.n_features_in_}")
        return self.projection_(z)

    def fit_transform(self, Z: ArrayLike, attrs: AttributeLike,
                      target: AttributeLike = None) -> np.ndarray:
        """:meth:`fit`, then :meth:`transform` of the same ``Z``."""
        return self.fit(Z, attrs, target).transform(Z)
