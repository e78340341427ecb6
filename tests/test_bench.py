"""`make bench` works: the quick version runs end to end and writes every figure.

A benchmark, not a timed test: nothing here compares a figure with a goal, only that each one
was measured (a positive number, every press landed where the recording pressed).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def load_bench() -> ModuleType:
    """benchmarks/bench.py as a module (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.gui
def test_quick_bench_measures_every_figure(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [path] = tmp_path.glob("bench-*-quick.json")
    report = json.loads(path.read_text())
    assert f"written to {path}" in result.stdout
    [size] = report["sizes"]
    assert size["size"] == "1280x800"
    for pipeline in ("deskpilot", "baseline"):
        figures = size["step"][pipeline]
        step = figures["step_ms"]
        assert step["n"] == report["steps"] == 3
        assert 0 < step["p50"] <= step["p90"]
        stages = figures["stages_ms"]
        # deskpilot encodes ahead, while the settle waits: the step may wait for none of it.
        encoded = stages.get("encode_background", stages["encode"])
        assert stages["encode"]["n"] == 3 and encoded["p50"] > 0, pipeline
        for stage in ("capture", "parse", "act", "settle", "other"):
            assert stages[stage]["n"] == 3, (pipeline, stage)  # settle may take no time at all
    ratios = size["p50_over_deskpilot"]
    assert set(ratios) == {"baseline", *(peer["name"] for peer in report["peers"])}
    assert all(ratio > 0 for ratio in ratios.values())
    for layout in ("recording", "unchanged", "moved"):
        replayed = size["replay"][layout]
        assert replayed["all_landed"], (layout, replayed)
        assert replayed["presses"] == report["clicks"] == 5
        assert replayed["per_action_ms"]["n"] == 4
        assert replayed["per_action_ms"]["p50"] > 0
    for layout in ("unchanged", "moved"):
        stages = size["replay"][layout]["stages_ms"]
        assert stages["act"]["n"] == 5 and stages["act"]["p50"] > 0
        assert stages["other"]["n"] == 3  # the gaps before the 2nd to 4th presses
        assert sum(size["replay"][layout]["found_by"].values()) == 5
    assert size["replay"]["unchanged"]["status"] == size["replay"]["moved"]["status"] == "success"
    table = result.stdout
    for row in ("deskpilot (mss + OpenCV PNG)", "pyautogui.screenshot + Pillow PNG", "(cua)"):
        assert row in table
    assert "moved" in table and "5/5" in table
    assert_cost_figures(report["cost"], steps=10, profiles=4)
    assert "Cost of a 10-step run at 1920x1080" in table


def test_the_cost_table_measures_every_figure_without_a_display():
    bench = load_bench()
    spent = bench.cost.measure(steps=8, profiles=("qwen3", "gui-plus"))
    assert_cost_figures(spent, steps=8, profiles=2)


def assert_cost_figures(spent: dict, *, steps: int, profiles: int) -> None:
    """Every row of the cost table measured, and every goal reported (met or not)."""
    assert spent["steps"] == steps and spent["screen"] == "1920x1080"
    histories = {"deskpilot", "deskpilot, full-size", "harness", "chunks of 4", "no history"}
    assert len(spent["rows"]) == len(histories) * profiles
    assert {row["history"] for row in spent["rows"]} == histories
    for row in spent["rows"]:
        assert row["prompt_tokens_per_step"] > 1000, row  # a 1920x1080 screenshot at least
        assert 0 < row["cacheable_share_steps_2_on"] < 1, row
        usd = row["cost_usd"]
        assert 0 < usd["implicit"] < usd["no_cache"], row  # some prefix is always reused
        assert usd["explicit"] > 0
        shots = row["screenshots_per_request"]
        assert 1 <= shots["mean"] <= shots["max"]
    for row in spent["rows"]:
        if row["history"] == "no history":
            assert row["screenshots_per_request"]["max"] == 1
    assert len(spent["verdicts"]) == profiles
    for verdict in spent["verdicts"]:
        assert isinstance(verdict["share_met"], bool) and isinstance(verdict["cost_met"], bool)
        assert verdict["implicit_vs_harness"] > 0


def test_results_never_overwrite_an_earlier_run(tmp_path: Path):
    bench = load_bench()
    report = {"quick": True, "sizes": []}
    first = bench.write_results(report | {"run": 1}, tmp_path)
    second = bench.write_results(report | {"run": 2}, tmp_path)
    assert first != second
    assert json.loads(first.read_text())["run"] == 1
    assert json.loads(second.read_text())["run"] == 2
