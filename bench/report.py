"""The results as a Markdown table (printed, and pasted into RESULTS.md) and as a JSON file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "req/s":
        return f"{value:,.0f} {unit}"
    if unit == "MiB":
        return f"{value:.1f} {unit}"
    if unit == "s":
        return f"{value:.3f} {unit}"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def _target_cell(targets: list[dict[str, Any]], figure: str) -> tuple[str, str]:
    for target in targets:
        if target["figure"] == figure:
            return target["rule"], "yes" if target["met"] else "**no**"
    return "", ""


def table(document: dict[str, Any]) -> str:
    machine = document["machine"]
    lines = [
        f"Size `{document['size']}`, {document['repeats']} runs per figure (medians; ratios are medians of "
        f"per-run ratios). CPU: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs "
        f"({machine['physical_cores']} cores). Service: {document['service']['stack']}; "
        f"{document['service']['throttling']}.",
        "",
        "| scenario | figure | service | reference | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, scenario in document["scenarios"].items():
        for figure in scenario["figures"]:
            rule, met = _target_cell(scenario["targets"], figure["name"])
            reference = _number(figure["reference"], figure["unit"])
            if figure["reference"] is not None:
                reference += f" ({figure['reference_name']})"
            ratio = f"{figure['ratio']:.2f} ({figure['ratio_meaning']})"
            if figure.get("difference") is not None:
                ratio += f"; {figure['difference']:+.2f} {figure['unit']} (service − reference)"
            lines.append(
                f"| {key} | {figure['name']} | {_number(figure['service'], figure['unit'])} | {reference} "
                f"| {ratio} | {rule} | {met} |"
            )
    met = sum(t["met"] for s in document["scenarios"].values() for t in s["targets"])
    total = sum(len(s["targets"]) for s in document["scenarios"].values())
    lines += curve(document)
    lines += ["", f"Targets met: {met} of {total}. Wall time: {document['duration_s']:.0f} s."]
    return "\n".join(lines)


def _p50_by_sessions(scenario: dict[str, Any]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for figure in scenario["figures"]:
        name = figure["name"]
        if name.startswith("p50, ") and name.endswith(" sessions"):
            found[int(name[5:-9].replace(",", ""))] = figure
    return found


def curve(document: dict[str, Any]) -> list[str]:
    """S1 and S3 side by side at each population (the cost curve), when both ran at several."""
    scenarios = document["scenarios"]
    if "S1" not in scenarios or "S3" not in scenarios:
        return []
    kill, listing = _p50_by_sessions(scenarios["S1"]), _p50_by_sessions(scenarios["S3"])
    if len(kill) < 2 and len(listing) < 2:
        return []
    lines = [
        "",
        "Cost curve (p50; ratio = median of per-run service / driver ratios):",
        "",
        "| sessions | S1 service | S1 driver | S1 ratio | S3 service | S3 driver | S3 ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for sessions in sorted(set(kill) | set(listing)):
        cells = [f"{sessions:,}"]
        for figures in (kill, listing):
            figure = figures.get(sessions)
            if figure is None:
                cells += ["—", "—", "—"]
            else:
                unit = figure["unit"]
                cells += [
                    _number(figure["service"], unit),
                    _number(figure["reference"], unit),
                    f"{figure['ratio']:.2f}",
                ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_json(document: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = document["started_at"].replace(":", "").replace("-", "").split(".")[0]
    path = folder / f"results-{stamp}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)
    return path
