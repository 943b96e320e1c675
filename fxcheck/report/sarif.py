"""The SARIF 2.1.0 report (`--sarif PATH`): findings as results that GitHub code scanning annotates.

Locations are relative to %SRCROOT%, the directory fxcheck traced from: code scanning reads a
relative URI from the repository's root, so trace from there, as CI does. `originalUriBaseIds`
says where that directory was on the tracing machine (a saved trace keeps it, so `check` writes
the same locations). Passing checks are not results (code scanning would show them as alerts);
their evidence travels in the run's property bag.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fxcheck import __version__, rules
from fxcheck.report import Report
from fxcheck.rules import Finding, Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/fxcheck/fxcheck"
SRCROOT = "%SRCROOT%"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def as_dict(report: Report, exit_code: int, execution_successful: bool = True) -> dict[str, Any]:
    """The SARIF log of one fxcheck invocation that exited with ``exit_code``."""
    meta = report.meta
    root = Path(meta.get("cwd") or os.getcwd())
    catalog = rules.all_rules()
    index = {r.id: i for i, r in enumerate(catalog)}
    script = meta.get("script") or ""
    invocation: dict[str, Any] = {
        "executionSuccessful": execution_successful,
        "exitCode": exit_code,
        "workingDirectory": {"uri": _dir_uri(root)},
    }
    if meta.get("status") == "crashed":
        # the script's own exception: the results describe only the part of the run before it
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": f"{meta.get('reason')}; the results cover the run until then"}}
        ]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "fxcheck",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": [_descriptor(r) for r in catalog],
        }},
        # one analysis category per traced script, so uploads for two scripts don't replace each other
        "automationDetails": {"id": f"fxcheck/{_relative(script, root) or Path(script).name}/"},
        "originalUriBaseIds": {SRCROOT: {"uri": _dir_uri(root),
                                         "description": {"text": "The directory fxcheck traced the script from."}}},
        "invocations": [invocation],
        "results": [_result(f, index, root, script) for f in report.findings],
        "properties": {
            "script": script,
            "args": list(meta.get("args") or []),
            "tracedWith": meta.get("fxcheck"),
            "status": meta.get("status"),
            "observed": report.observed,
            "checks": [c.to_json() for c in report.checks],
        },
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def write(report: Report, path: str | Path, exit_code: int, execution_successful: bool = True) -> None:
    doc = as_dict(report, exit_code, execution_successful)
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _descriptor(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.what},
        "defaultConfiguration": {"level": LEVEL[r.severity]},
        "help": {"text": r.text(), "markdown": r.markdown()},
        "properties": {"tags": ["correctness", "pytorch", r.category],
                       "problem.severity": "recommendation" if r.severity == "info" else r.severity},
    }


def _result(f: Finding, index: dict[str, int], root: Path, script: str) -> dict[str, Any]:
    message = f.message
    file, line = f.file, f.line
    if not file or not line:
        # code scanning shows only located results: fall back to the script's first line, and say so
        file, line = script, 1
        message += " (no line of the script could be attributed to it)"
    if f.hint:
        message = f"{message.rstrip('.')}. Fix: {f.hint.rstrip('.')}."
    uri, base = _uri(file, root)
    artifact: dict[str, Any] = {"uri": uri}
    if base:
        artifact["uriBaseId"] = SRCROOT
    return {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": LEVEL[f.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": int(line)}}}],
        "properties": {"epoch": f.epoch, "step": f.step},
    }


def _relative(file: str, root: Path) -> str | None:
    """A file of the report (relative to where fxcheck traced, or absolute) relative to ``root``, with
    forward slashes; None when it lies outside ``root``."""
    if not file:
        return None
    path = os.path.normpath(os.path.join(root, file))
    try:
        relative = os.path.relpath(path, root)
    except ValueError:  # another drive
        return None
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return Path(relative).as_posix()


def _uri(file: str, root: Path) -> tuple[str, bool]:
    """A file as an artifact URI: relative to %SRCROOT% (True), or absolute when outside it (False)."""
    relative = _relative(file, root)
    if relative is None:
        return Path(os.path.join(root, file)).as_uri(), False
    return quote(relative), True


def _dir_uri(root: Path) -> str:
    """The absolute file URI of a directory; SARIF wants it to end with a slash."""
    uri = root.absolute().as_uri()
    return uri if uri.endswith("/") else uri + "/"
