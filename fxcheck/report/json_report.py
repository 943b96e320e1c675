"""The JSON report (`--json PATH`): the run's facts, every check and every finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fxcheck import events as ev
from fxcheck.graph import events
from fxcheck.report import Report, model_graphs, model_modes


def as_dict(report: Report) -> dict[str, Any]:
    meta = report.meta
    return {
        "fxcheck": meta.get("fxcheck"),
        "script": meta.get("script"),
        "run": {"status": meta.get("status"), "reason": meta.get("reason"), "seconds": meta.get("seconds"),
                "limits": meta.get("limits"), "torch": meta.get("torch"), "tracer": meta.get("tracer")},
        "observed": report.observed,
        "model": {"modes": model_modes(report.graph), "graphs": model_graphs(report.graph),
                  "captured": [dict(e["data"], model=e["obj"], file=e["file"], line=e["line"])
                               for e in events(report.graph, ev.MODEL_GRAPH)]},
        "findings": [f.to_json() for f in report.findings],
        "checks": [c.to_json() for c in report.checks],
    }


def write(report: Report, path: str | Path) -> None:
    Path(path).write_text(json.dumps(as_dict(report), indent=2) + "\n", encoding="utf-8")
