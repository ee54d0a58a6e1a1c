"""The benchmark at its small size: every scenario runs, checks itself, and reports usable figures.

The performance targets are not asserted (a shared machine is too noisy for that). What fails this
test is a scenario that breaks: sessions not killed or killed beyond the swept account, wrong
counts, failed requests, a missing or meaningless figure.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Figures without a reference: S5's memory (held to a budget) and S10's stop delays (to the
# limiter's check interval).
ABSOLUTE = {"S5", "S10"}

RunBenchmark = Callable[..., tuple[Path, dict[str, Any]]]


def _bench(module: str) -> Any:
    # The benchmark lives next to the package, not in it: import it from the repository.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(module)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_benchmark: RunBenchmark = _bench("bench.run").run_benchmark
    path, document = run_benchmark("small", out_dir=tmp_path_factory.mktemp("bench-out"))
    assert path.name.startswith("results-")
    assert path.suffix == ".json"
    on_disk: dict[str, Any] = json.loads(path.read_text())
    assert on_disk == json.loads(json.dumps(document))
    return on_disk


@pytest.mark.bench
def test_every_scenario_reports_finite_positive_figures(small_run: dict[str, Any]) -> None:
    assert set(small_run["scenarios"]) == set(_bench("bench.run").SCENARIOS)
    for key, scenario in small_run["scenarios"].items():
        assert scenario["figures"], key
        assert scenario["targets"], key
        assert scenario["runs"], key
        for figure in scenario["figures"]:
            assert _positive(figure["service"]), (key, figure)
            assert _positive(figure["ratio"]), (key, figure)
            if figure["reference"] is None:
                assert key in ABSOLUTE, (key, figure)
            else:
                assert _positive(figure["reference"]), (key, figure)
        for target in scenario["targets"]:
            if target["of"] == "difference":  # service minus reference: finite, of either sign
                assert math.isfinite(target["value"]), (key, target)
            else:
                assert _positive(target["value"]), (key, target)
            assert isinstance(target["met"], bool)


@pytest.mark.bench
def test_scenarios_did_the_work_they_claim(small_run: dict[str, Any]) -> None:
    size = small_run["sizes"]
    repeats = small_run["repeats"]
    scenarios = small_run["scenarios"]

    s1 = scenarios["S1"]["checks"]
    s1_calls = dict(size["s1_curve"])
    # Two sides, 20 ids per call, at every population of the curve.
    per_run = sum(2 * 20 * (size["s1_warmup"] + calls) for calls in s1_calls.values())
    assert s1["sessions_killed_and_gone"] == repeats * per_run
    assert s1["sessions_on_node"] == sorted(s1_calls)
    assert all(run["calls_per_side"] == s1_calls[run["sessions"]] for run in scenarios["S1"]["runs"])

    s2 = scenarios["S2"]["checks"]
    assert s2["sweeps"] == 3 * repeats
    assert s2["sessions_per_sweep"] == size["s2_sessions"]
    assert s2["bystanders_untouched"] == size["s2_bystanders"]

    s3_calls = dict(size["s3_curve"])
    assert scenarios["S3"]["checks"]["sessions_on_node"] == sorted(s3_calls)
    assert all(run["calls_per_side"] == s3_calls[run["sessions"]] for run in scenarios["S3"]["runs"])

    for key in ("S4", "S4w2"):
        for run in scenarios[key]["runs"]:
            for side in ("service_side", "reference_side"):
                assert run[side]["errors"] == 0
                assert run[side]["requests"] > 0

    s7 = scenarios["S7"]
    assert s7["checks"]["sessions_on_node"] == size["s7_sessions"]
    assert all(run["list"]["calls_per_side"] == size["s7_calls"] for run in s7["runs"])
    assert all(run["storm"]["calls_per_side"] == size["s7_storm_calls"] for run in s7["runs"])

    assert scenarios["S5"]["checks"]["extra_nodes_listed"] == size["s5_nodes"]
    assert scenarios["S6"]["checks"]["cold_calls"] == size["s6_nodes"]

    s9 = scenarios["S9"]["checks"]
    assert s9["list_sessions_on_node"] == size["s9_list"][0]
    assert s9["sessions_killed_and_gone"] == repeats * 2 * 20 * (size["s1_warmup"] + size["s9_kill"][1])

    s10 = scenarios["S10"]["checks"]
    assert s10["grouped_sessions_executing"] == size["s10_grouping"][0]
    assert s10["excess_executions_stopped"] == size["s10_stops"]


@pytest.mark.bench
def test_report_names_the_machine_and_the_stack(small_run: dict[str, Any]) -> None:
    machine = small_run["machine"]
    assert machine["cpu_model"]
    assert machine["logical_cpus"] >= 1
    assert small_run["service"]["env"] == _bench("bench.service").SERVICE_ENV
    table: str = _bench("bench.report").table(small_run)
    assert "| S1 |" in table
    assert "CPU:" in table
