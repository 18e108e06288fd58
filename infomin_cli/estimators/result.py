"""The fields every estimate shares, so results can be compared and reported alike."""

from __future__ import annotations

from dataclasses import dataclass

from infomin_cli.records import Tabular


@dataclass(frozen=True, eq=False)
class Estimate(Tabular):
    """A held-out dependence estimate.

    ``value``: the estimate in [0, 1] (the held-out correlation, clipped); ``corr``: the same,
    signed and unclipped; ``p_value``: permutation p-value (None when not computed);
    ``null_mean`` / ``null_q95``: mean and 95th percentile of the (clipped) permutation null --
    the noise floor a value should be read against; ``ci``: bootstrap interval of ``value`` and
    ``ci_method`` what it resamples; ``n_eval``: the held-out rows the value is measured on;
    ``p_method``: how ``p_value`` was computed (``held-out-permutation``: the fitted projections
    permuted on the eval rows; ``full-sample-permutation``: the in-sample statistic refitted on
    permutations of every row, for data small enough (SI of a multi-column attribute: the
    total over slice pairs, :func:`~infomin_cli.stats.fullsample.sum_null`);
    ``test-rows-permutation``: rho*'s frozen networks permuted on its test rows).

    ``to_dict()``: the scalar fields (the estimator's block of the JSON report; fitted weights
    stay out); ``to_frame()``: them as one row, the interval as ``ci_low`` / ``ci_high``.
    """

    value: float
    corr: float
    p_value: float | None
    null_mean: float | None
    null_q95: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    n_eval: int
    p_method: str | None

    @property
    def notes(self) -> tuple[str, ...]:
        """Lines for the report about how this estimate was made (none by default)."""
        return ()


def not_estimable_line(labels: str, reason: str) -> str:
    """The note that says estimators could not estimate: ``LABELS: not estimable: REASON``."""
    return f"{labels}: not estimable: {reason}"


@dataclass(frozen=True)
class NotEstimated:
    """An estimate the data do not allow (the estimator raised
    :class:`~infomin_cli.errors.NotEstimable`): no value, no test, no interval; ``reason``
    says why. The verdict never rests on it -- it is no member of the test family and meets no
    threshold. In the JSON report: ``{"value": null, "not_estimable": reason}``."""

    reason: str

    @property
    def value(self) -> None:
        return None

    def to_json(self) -> dict:
        return {"value": None, "not_estimable": self.reason}
