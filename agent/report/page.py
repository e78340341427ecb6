"""`deskpilot report`: one self-contained HTML file that shows every step of a run folder.

The page is agent/templates/report.html with the run's data put in as JSON; every image is a
`data:` URL, and a Content-Security-Policy forbids any other source, so the file opens offline
and never touches the network. Works on every kind of run folder: agent runs, recordings and
replays (which add where each target was found, and how sure that was).
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.trajectory import read_trajectory

REPORT_NAME = "report.html"
DATA_MARK = "/*RUN_DATA*/"
MIME = {".png": "image/png", ".webp": "image/webp", ".jpeg": "image/jpeg", ".jpg": "image/jpeg"}
# What a step shows besides its screenshots; anything else in a record is left out.
STEP_FIELDS = (
    "step",
    "status",
    "started_at",
    "model_output",
    "actions",
    "recorded_actions",
    "results",
    "timings",
    "usage",
    "cost",
    "retries",
    "fixes",
    "error",
    "settle",
    "located",
    "source_step",
    "pause_before",
)


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the report of `run_dir` (default: run_dir/report.html) and return its path."""
    page = render(run_dir)
    target = out or run_dir / REPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def render(run_dir: Path) -> str:
    """The report page of `run_dir` as one HTML string."""
    data = report_data(run_dir)
    template = resources.files("agent.report").joinpath("templates", "report.html")
    page = template.read_text("utf-8")
    # "</" inside a <script> would end it early; "<\/" is the same JSON string.
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return page.replace(DATA_MARK, payload)


def report_data(run_dir: Path) -> dict[str, Any]:
    """Everything the page shows: the run, its steps, and its images as data: URLs by path."""
    if not (run_dir / "run.json").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no run.json)")
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    records = read_trajectory(run_dir) if (run_dir / "trajectory.jsonl").is_file() else []
    images: dict[str, str] = {}
    steps = [_step(run_dir, record, records, i, images) for i, record in enumerate(records)]
    return {"run": _run_summary(run), "steps": steps, "images": images}


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "kind", "task", "status", "exit_code", "answer", "error", "steps", "usage", "cost",
        "currency", "seconds", "started_at", "finished_at", "source", "mode", "dry_run",
    )  # fmt: skip
    summary = {k: run[k] for k in keys if k in run}
    summary.setdefault("kind", "agent")
    summary["model"] = (run.get("model") or {}).get("name")
    return summary


def _step(
    run_dir: Path,
    record: dict[str, Any],
    records: list[dict[str, Any]],
    index: int,
    images: dict[str, str],
) -> dict[str, Any]:
    """One step's data; its 'after' is its own after-screenshot, else the next step's before."""
    step = {k: record[k] for k in STEP_FIELDS if k in record}
    step["image"] = _inline(run_dir, record.get("screenshot"), images)
    following = records[index + 1].get("screenshot") if index + 1 < len(records) else None
    step["after"] = _inline(run_dir, record.get("screenshot_after") or following, images)
    step["screen"] = record.get("screen") or _screen_of(record)
    step["marks"] = [m for a in record.get("actions") or [] for m in marks(a)]
    step["targets"] = [_target(run_dir, t, images) for t in record.get("targets") or []]
    return step


def _screen_of(record: dict[str, Any]) -> dict[str, int]:
    """Screen geometry for old records without it: the screenshot's own size."""
    image = record.get("image") or {"width": 1, "height": 1}
    return {"left": 0, "top": 0, "width": image["width"], "height": image["height"]}


def _target(run_dir: Path, target: dict[str, Any] | None, images: dict[str, str]) -> Any:
    if not target:
        return None
    shown = {k: target.get(k) for k in ("point", "window", "seconds")}
    shown["crop"] = _inline(run_dir, target.get("crop"), images)
    shown["words"] = " ".join(w["text"] for w in target.get("words") or [])
    return shown


def _inline(run_dir: Path, relative: str | None, images: dict[str, str]) -> str | None:
    """The key of an image in `images`, adding it as a data: URL the first time."""
    if not relative:
        return None
    if relative not in images:
        path = run_dir / relative
        if not path.is_file():
            return None
        mime = MIME.get(path.suffix.lower(), "application/octet-stream")
        images[relative] = f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
    return relative


def marks(action: dict[str, Any]) -> list[dict[str, Any]]:
    """What to draw for one canonical action: a point, a drag path, typed text or keys."""
    name = action.get("action")
    if name == "left_click_drag":
        start_x, start_y = action.get("start_x"), action.get("start_y")
        if start_x is None:
            return [{"kind": "point", "x": action["x"], "y": action["y"], "label": "drag to"}]
        return [
            {"kind": "drag", "x1": start_x, "y1": start_y, "x2": action["x"], "y2": action["y"]}
        ]
    if "x" in action and "y" in action:
        return [{"kind": "point", "x": action["x"], "y": action["y"], "label": name}]
    if name == "type":
        return [{"kind": "text", "label": "type", "text": action["text"]}]
    if name == "key":
        return [{"kind": "text", "label": "key", "text": "+".join(action["keys"])}]
    if name in {"wait", "terminate", "answer"}:
        detail = action.get("status") or action.get("text") or f"{action.get('seconds', '')} s"
        return [{"kind": "text", "label": name, "text": str(detail)}]
    return []
