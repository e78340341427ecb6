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

from pydantic import ValidationError

from agent.errors import ConfigError
from agent.paths import inside, read_capped, shown, warn
from agent.perception.imaging import MAX_IMAGE_BYTES
from agent.records import field_problem, read_numbered, read_run_info
from skills.tools import STEP_ADAPTER

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
    "cached_share",
    "unchanged_since",
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
    return page.replace(DATA_MARK, script_json(data))


def script_json(data: Any) -> str:
    """`data` as JSON that is inert inside <script>: no string in it can change how HTML parses.

    "</script>" would end the block, and "<!--" followed by "<script" makes the parser skip
    the real "</script>" and swallow the page's code. JSON allows any character as \\uXXXX, so
    < > & become escapes (the same strings to JSON.parse), and so do U+2028/U+2029, which
    older JavaScript took for line breaks.
    """
    text = json.dumps(data, ensure_ascii=False)
    return text.translate(_SCRIPT_SAFE)


_SCRIPT_SAFE = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def report_data(run_dir: Path) -> dict[str, Any]:
    """Everything the page shows: the run, its steps, and its images as data: URLs by path."""
    run = read_run_info(run_dir)
    numbered = read_numbered(run_dir) if (run_dir / "trajectory.jsonl").is_file() else []
    images = RunImages(run_dir)
    steps = [_step(images, numbered, i) for i in range(len(numbered))]
    return {"run": _run_summary(run), "steps": steps, "images": images.urls}


class RunImages:
    """The images a run folder's records name, as data: URLs, each read once.

    A name that leads out of the run folder is never read: it is skipped with one warning, so
    a crafted trajectory cannot put /etc/passwd or /proc/self/environ into a report.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.urls: dict[str, str] = {}
        self._skipped: set[str] = set()

    def path(self, name: str | None, where: str) -> Path | None:
        """The file `name` inside the run folder, or None (missing, or outside: warned once)."""
        if not name or name in self._skipped:
            return None
        path = inside(self.run_dir, name)
        if path is None:
            self._skipped.add(name)
            warn(f"{where} names {shown(name)}, outside the run folder; skipped")
            return None
        return path if path.exists() else None  # a crashed run may lack its last screenshot

    def inline(self, name: str | None, where: str) -> str | None:
        """The key of an image in `urls`, adding it as a data: URL the first time."""
        if name in self.urls:
            return name
        path = self.path(name, where)
        if name is None or path is None:
            return None
        try:
            data = read_capped(path, MAX_IMAGE_BYTES, "the image")
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        mime = MIME.get(path.suffix.lower(), "application/octet-stream")
        self.urls[name] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        return name


def checked_actions(record: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The record's actions, each a valid canonical action; ConfigError naming the bad one."""
    actions = record.get("actions") or []
    for index, action in enumerate(actions):
        try:
            STEP_ADAPTER.validate_python(action)
        except ValidationError as error:
            raise ConfigError(f"{where}: actions.{index}: {field_problem(error)}") from None
    return actions


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "kind", "task", "status", "exit_code", "answer", "error", "steps", "usage", "cached_share",
        "cost", "currency", "seconds", "started_at", "finished_at", "source", "mode", "dry_run",
        "policy", "interventions", "tools", "mcp_servers",
    )  # fmt: skip
    summary = {k: run[k] for k in keys if k in run}
    summary.setdefault("kind", "agent")
    model = run.get("model")
    summary["model"] = model.get("name") if isinstance(model, dict) else None
    return summary


def _step(
    images: RunImages, numbered: list[tuple[int, dict[str, Any]]], index: int
) -> dict[str, Any]:
    """One step's data; its 'after' is its own after-screenshot, else the next step's before."""
    line, record = numbered[index]
    where = f"{images.run_dir / 'trajectory.jsonl'}:{line}"
    step = {k: record[k] for k in STEP_FIELDS if k in record}
    step["image"] = images.inline(record.get("screenshot"), where)
    if record.get("screenshot_after"):
        step["after"] = images.inline(record["screenshot_after"], where)
    elif index + 1 < len(numbered):
        next_line, following = numbered[index + 1]
        next_where = f"{images.run_dir / 'trajectory.jsonl'}:{next_line}"
        step["after"] = images.inline(following.get("screenshot"), next_where)
    else:
        step["after"] = None
    step["screen"] = record.get("screen") or _screen_of(record)
    step["marks"] = [m for a in checked_actions(record, where) for m in marks(a)]
    step["targets"] = [_target(images, t, where) for t in record.get("targets") or []]
    step["tool_images"] = [
        images.inline(name, where)
        for result in record.get("results") or []
        if isinstance(result, dict)
        for name in result.get("images") or []
        if isinstance(name, str)
    ]
    # Typing a secret may leave it on screen: the page blurs what was taken after it.
    step["blur_after"] = bool(record.get("contains_secret_input"))
    step["blur_before"] = index > 0 and bool(numbered[index - 1][1].get("contains_secret_input"))
    return step


def _screen_of(record: dict[str, Any]) -> dict[str, int]:
    """Screen geometry for old records without it: the screenshot's own size."""
    image = record.get("image") or {"width": 1, "height": 1}
    return {"left": 0, "top": 0, "width": image["width"], "height": image["height"]}


def _target(images: RunImages, target: dict[str, Any] | None, where: str) -> Any:
    if not target:
        return None
    fields = {k: target.get(k) for k in ("point", "window", "seconds")}
    fields["crop"] = images.inline(target.get("crop"), where)
    fields["words"] = " ".join(w["text"] for w in target.get("words") or [])
    return fields


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
    if name == "tool":  # a call of one of the run's own tools: its name and arguments
        said = json.dumps(action.get("arguments") or {}, ensure_ascii=False)
        return [{"kind": "text", "label": str(action.get("tool")), "text": said[:200]}]
    if name in {"wait", "terminate", "answer"}:
        detail = action.get("status") or action.get("text") or f"{action.get('seconds', '')} s"
        return [{"kind": "text", "label": name, "text": str(detail)}]
    return []
