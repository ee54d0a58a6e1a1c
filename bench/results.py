"""What a scenario reports: figures (service, reference, ratio), the targets, per-run numbers, checks.

Every figure is computed per repeated run, each run pairing the service with its reference measured
under the same conditions; the reported value is the median over runs (for a ratio: the median of
the per-run ratios, so a slow moment of the machine weighs on both sides of the same ratio).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.stats import median, ms, percentile


class CheckFailed(AssertionError):
    """A scenario did not do what it claims (sessions not killed, wrong counts): its figures are void."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True, slots=True)
class Target:
    figure: str  # name of the Figure whose ratio (or value, or difference) is held to the limit
    op: str  # "<=" or ">="
    limit: float
    value: float
    of: str = "ratio"  # "ratio", "value" or "difference" (service minus reference, in the figure's unit)

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def describe(self) -> str:
        return f"{self.of} {self.op} {self.limit:g}"


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    unit: str
    service: float
    reference: float | None  # None: an absolute figure (S5) without a reference
    ratio: float
    reference_name: str
    ratio_meaning: str  # e.g. "service / reference", "pt-kill / service", "peak / budget"
    difference: float | None = None  # service minus reference (median of per-run differences)


@dataclass
class ScenarioResult:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "figures": [asdict(f) for f in self.figures],
            "targets": [asdict(t) | {"met": t.met, "rule": t.describe()} for t in self.targets],
            "runs": self.runs,
            "checks": self.checks,
            "notes": self.notes,
        }


def paired_figure(
    name: str,
    unit: str,
    runs: list[dict[str, Any]],
    service_key: str,
    reference_key: str,
    reference_name: str,
    *,
    short: str = "reference",
    numerator: str = "service",
    inverse: bool = False,
) -> Figure:
    """Medians over runs of each side, and the median of the per-run ratios.

    ``inverse`` reports reference / service (for "pt-kill takes at least 4x the service").
    """
    service = median([float(r[service_key]) for r in runs])
    reference = median([float(r[reference_key]) for r in runs])
    if inverse:
        ratios = [float(r[reference_key]) / float(r[service_key]) for r in runs]
        meaning = f"{short} / {numerator}"
    else:
        ratios = [float(r[service_key]) / float(r[reference_key]) for r in runs]
        meaning = f"{numerator} / {short}"
    return Figure(name, unit, service, reference, median(ratios), reference_name, meaning)


def all_finite_positive(result: dict[str, Any]) -> bool:
    for figure in result["figures"]:
        for key in ("service", "ratio"):
            value = figure[key]
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                return False
        reference = figure["reference"]
        if reference is not None and (not math.isfinite(reference) or reference <= 0):
            return False
    return True


def latency_run(service: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """One run's paired latencies (nanoseconds in), as S1 and S3 report them."""
    return {
        "calls_per_side": len(service),
        "service_p50_ms": ms(percentile(service, 50)),
        "reference_p50_ms": ms(percentile(reference, 50)),
        "service_p99_ms": ms(percentile(service, 99)),
        "reference_p99_ms": ms(percentile(reference, 99)),
    }


def latency_figures(runs: list[dict[str, Any]], reference_name: str) -> tuple[Figure, Figure]:
    """p50 and p99 over runs made by ``latency_run``."""
    return (
        paired_figure("p50", "ms", runs, "service_p50_ms", "reference_p50_ms", reference_name),
        paired_figure("p99", "ms", runs, "service_p99_ms", "reference_p99_ms", reference_name),
    )


def difference_figure(name: str, runs: list[dict[str, Any]], reference_name: str) -> Figure:
    """p50 of the service and of its reference, their ratio, and the median of the per-run
    differences (runs made by S7's ``_run_figures``: ``service_p50_ms``, ``reference_p50_ms``)."""
    figure = paired_figure(name, "ms", runs, "service_p50_ms", "reference_p50_ms", reference_name)
    differences = [float(r["service_p50_ms"]) - float(r["reference_p50_ms"]) for r in runs]
    return Figure(
        figure.name,
        figure.unit,
        figure.service,
        figure.reference,
        figure.ratio,
        figure.reference_name,
        figure.ratio_meaning,
        median(differences),
    )
