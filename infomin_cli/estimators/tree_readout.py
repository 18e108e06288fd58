"""Gradient-boosted tree read-out of rho*: what a stock tree ensemble reads of T from Z.

For any fixed pair of functions, ``corr(s(Z), g(T)) <= rho*(Z, T)``. This read-out fits ``s``
with scikit-learn's histogram gradient boosting on rho*'s *train* rows, early-stopped on its
*validation* rows (``X_val``), and is then frozen; :func:`~infomin_cli.estimators.rho.rho_star`
scores it on the test rows beside the neural read-out.

* **Class T** (``classes`` > 0): the classifier's predicted probabilities ``P(c | z)``;
  ``s = P w`` and ``g = onehot(T) v`` with ``(w, v)`` the top canonical pair of
  ``(P, onehot)`` on the validation rows. With the true posteriors this canonical correlation
  *is* rho* (the second singular value of ``D^-1/2 E[p p^T] D^-1/2``); for two classes it is
  the correlation of ``P(1 | z)`` with the class indicator.
* **Continuous T**: the regressor's prediction of a given 1-D target ``y = g(T)`` (T's normal
  scores for one column; the neural read-out's learnt ``g(T)`` for several), ``g`` kept as is.

Trees split each column at up to 255 quantile bins, so they follow fine, folded structure (a
debiasing map that wraps the attribute into narrow bands) that a smooth network on the same
rows misses; a network follows smooth directions spread over many columns that axis-aligned
splits approximate poorly. rho* reports the larger of the two.

**Principal view.** A direction that holds a tiny share of Z's variance is a sliver of every
column: column splits (and a network on standardised columns) do not see it, while anyone who
rotates Z -- PCA, whitening -- sees it at full scale. Debiasing maps make such directions (a
no-target projection of the census embedding kept sex in two axes with 0.02-0.03% of its
variance: trees read AUC 0.61 from its columns, 0.74 from its principal axes). When the train
rows' correlation matrix has an eigenvalue below ``principal_below`` (and Z has at most
``principal_max_dim`` columns), the trees read both coordinate systems at once: the columns
and ``(z - m) U diag(lam)^-1/2``, the principal axes at unit variance (fitted on the train
rows; axes with no variance at float32 precision are left out). A fixed map of Z: the
read-out stays a lower bound of rho*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from infomin_cli.estimators.configs import TreeConfig
from infomin_cli.stats.cca import cca
from infomin_cli.stats.features import one_hot

__all__ = ["PrincipalView", "TreeConfig", "TreeReadout", "fit_tree_readout"]


@dataclass(frozen=True)
class PrincipalView:
    """``z -> [z, (z - mean) @ axes]``: the columns beside the principal axes at unit
    variance (``axes``: (d, r), eigenvectors over the square roots of their eigenvalues)."""

    mean: np.ndarray
    axes: np.ndarray

    @classmethod
    def fit(cls, z: np.ndarray, config: TreeConfig) -> PrincipalView | None:
        """The view of the rows ``z``, or None when none is needed: more than
        ``principal_max_dim`` columns, or every eigenvalue of the correlation matrix of the
        non-constant columns at least ``principal_below``."""
        d = z.shape[1]
        if config.principal_below <= 0 or d < 2 or d > config.principal_max_dim:
            return None
        x = np.asarray(z, dtype=np.float64)
        mean = x.mean(0)
        cov = np.cov(x - mean, rowvar=False).reshape(d, d)
        sd = np.sqrt(np.clip(np.diagonal(cov), 0, None))
        live = sd > 0
        if live.sum() < 2:
            return None
        corr = cov[np.ix_(live, live)] / np.outer(sd[live], sd[live])
        if np.linalg.eigvalsh(corr)[0] >= config.principal_below:
            return None
        lam, vec = np.linalg.eigh(cov)
        # float32 input: an axis below ~1e-10 of the top variance is rounding, not signal
        keep = lam > lam[-1] * 1e-10
        return cls(mean, vec[:, keep] / np.sqrt(lam[keep]))

    def columns(self, z: np.ndarray) -> np.ndarray:
        z64 = np.asarray(z, dtype=np.float64)
        return np.hstack([z64, (z64 - self.mean) @ self.axes])


@dataclass(frozen=True)
class TreeReadout:
    """A fitted, frozen read-out: :meth:`score` ``s(z)`` and :meth:`target` ``g(t)``.

    ``classes``: number of classes of T (0 for a continuous T); ``seen``: the class codes the
    classifier was trained on (the columns of its probabilities); ``w``, ``v``: canonical
    weights of the probabilities (all but the last seen class) and of the one-hot code (all
    but the last class); ``iterations``: boosting rounds kept.
    """

    model: object
    classes: int
    seen: np.ndarray | None
    w: np.ndarray | None
    v: np.ndarray | None
    iterations: int
    view: PrincipalView | None = None

    def score(self, z: np.ndarray) -> np.ndarray:
        """``s(z)``, float64 (n,)."""
        if self.view is not None:
            z = self.view.columns(z)
        if self.classes == 0:
            return np.asarray(self.model.predict(z), dtype=np.float64)
        proba = np.asarray(self.model.predict_proba(z), dtype=np.float64)
        return proba[:, :-1] @ self.w

    def target(self, t: np.ndarray) -> np.ndarray:
        """``g(t)``: class codes -> the canonical class weights; a continuous target as is."""
        if self.classes == 0:
            return np.asarray(t, dtype=np.float64).reshape(len(t))
        return np.concatenate([self.v, [0.0]])[np.asarray(t, dtype=np.int64)]


def fit_tree_readout(z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray,
                     y_val: np.ndarray, *, classes: int, config: TreeConfig = TreeConfig(),
                     seed: int = 0) -> TreeReadout:
    """Fit the read-out: a classifier of class codes ``y`` in ``[0, classes)`` (``classes``
    >= 2), or a regressor of a 1-D continuous target (``classes = 0``); validation rows stop
    the boosting and, for classes, fix the canonical weights. With a principal view (module
    docstring; fitted on ``z_train``) the trees read it beside the columns."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cfg = config
    view = PrincipalView.fit(z_train, cfg)
    if view is not None:
        z_train, z_val = view.columns(z_train), view.columns(z_val)
    common = {"learning_rate": cfg.learning_rate, "max_iter": cfg.max_iter,
              "max_leaf_nodes": cfg.max_leaf_nodes, "min_samples_leaf": cfg.min_samples_leaf,
              "l2_regularization": cfg.l2_regularization, "early_stopping": True,
              "n_iter_no_change": cfg.patience, "random_state": seed & 0x7FFF_FFFF}
    if classes == 0:
        model = HistGradientBoostingRegressor(**common)
        model.fit(z_train, np.ravel(y_train), X_val=z_val, y_val=np.ravel(y_val))
        return TreeReadout(model, 0, None, None, None, int(model.n_iter_), view)

    y_train = np.asarray(y_train, dtype=np.int64)
    y_val = np.asarray(y_val, dtype=np.int64)
    seen = np.unique(y_train)
    # The classifier knows only the classes of its train rows: validation rows of another
    # class cannot score its early stopping (they still weigh in the canonical weights).
    known = np.isin(y_val, seen)
    model = HistGradientBoostingClassifier(**common)
    model.fit(z_train, y_train, X_val=z_val[known], y_val=y_val[known])
    proba = np.asarray(model.predict_proba(z_val), dtype=np.float64)[:, :-1]
    sol = cca(torch.from_numpy(proba), one_hot(y_val, classes).double(), ridge=1e-6)
    return TreeReadout(model, classes, seen, sol.w.numpy(), sol.v.numpy(), int(model.n_iter_),
                       view)
