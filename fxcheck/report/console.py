"""The console report: a table of checks per category, then each finding with its place and fix."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fxcheck.report import Report, loop_lines, model_graphs, model_modes, sections
from fxcheck.rules import FAIL, NA, PASS, when

MARK = {PASS: "✅ pass", FAIL: "❌ fail", NA: "— n/a"}
STYLE = {PASS: "green", FAIL: "bold red", NA: "dim"}
STATUS_LINE = {
    "completed": "the script ran to its end",
    "stopped": "stopped by fxcheck at its limits",
    "crashed": "the script raised before the run was complete",
    "exited": "the script ended the process with os._exit",
}


def _status(meta: dict) -> str:
    line, reason = STATUS_LINE.get(meta.get("status"), meta.get("status")), meta.get("reason")
    return line if not reason or reason == line else f"{line} ({reason})"


def render(report: Report, console: Console) -> None:
    meta = report.meta
    obs = report.observed
    limits = meta.get("limits") or {}
    if report.nothing_observed:
        console.print(Text(f"fxcheck observed nothing to check: no optimizer step ran in {meta.get('script')} "
                           f"({meta.get('reason')}), so no rule could judge the training loop (exit code 4)",
                           style="bold yellow"))
    console.print(Text.assemble(("fxcheck ", "bold"), (str(meta.get("fxcheck")), ""), " · ", (str(meta.get("script")), "bold")))
    console.print(
        f"Run: {_status(meta)} · "
        f"observed {obs['structure']}, {obs['events']} events · {meta.get('seconds')} s · limits: --steps {limits.get('steps')} "
        f"--epochs {limits.get('epochs')} --val-steps {limits.get('val_steps')}",
        highlight=False, markup=False,  # a crash's reason may hold brackets
    )
    loops = [lp for lp in meta.get("loops") or [] if lp.get("iterations", 0) > 1]
    if loops:
        shown = ", ".join(f"{lp['file']}:{lp['line']} ×{lp['iterations']}" for lp in loops[:6])
        console.print(f"Loop heads run once training began (the line tracer runs at each epoch's start and end): {shown}",
                      highlight=False, markup=False)
    if meta.get("tracer"):
        console.print(f"Line tracer: {meta['tracer']}", highlight=False, markup=False)

    for category, checks in sections(report.checks):
        table = Table(title=category, title_justify="left", title_style="bold", expand=False, show_lines=False)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Check", no_wrap=True)
        table.add_column("Status", no_wrap=True)
        table.add_column("Evidence", overflow="fold")
        for c in checks:
            table.add_row(c.rule.id, c.rule.name, Text(MARK[c.status], style=STYLE[c.status]), Text(c.evidence))
        console.print(table)

    for title, lines in (("Loop", loop_lines(report.graph)), ("Model mode", model_modes(report.graph)),
                         ("Model graph", model_graphs(report.graph))):
        if lines:
            console.print(Text(title, style="bold"))
            for line in lines:
                console.print(f"  {line}", highlight=False, markup=False)

    findings = report.findings
    if findings:
        console.print(Text("Findings", style="bold"))
    for f in findings:
        style = "bold red" if f.severity == "error" else ("yellow" if f.severity == "warning" else "cyan")
        place = f"{f.file}:{f.line}" if f.file else "<unknown place>"
        at = when(f.epoch, f.step)
        console.print(Text.assemble(("❌ " if f.severity != "info" else "ℹ ", style), (f"{f.rule} {f.name}", style),
                                    f" ({f.severity}) ", (place, "bold"), f" · {at}" if at else ""))
        console.print(f"   {f.message}", highlight=False, markup=False)
        if f.hint:
            console.print(Text(f"   fix: {f.hint}", style="dim"))
    errors, warnings = report.count("error"), report.count("warning")
    passed = sum(1 for c in report.checks if c.status == PASS)
    na = sum(1 for c in report.checks if c.status == NA)
    console.print(
        f"Summary: {errors} error(s), {warnings} warning(s) · {passed} check(s) passed, {len(report.failed)} failed, "
        f"{na} not applicable",
        style="bold red" if errors else ("yellow" if warnings else "bold green"), highlight=False,
    )


def render_ranks(merged: dict, console: Console) -> None:
    """The "Ranks" section of a distributed run: each rank's run, and the findings of each rank that
    the first rank did not have."""
    ranks = merged["ranks"]
    first = next((e for e in ranks if e.get("status") != "missing"), None)
    console.print(Text.assemble(("Ranks", "bold"), f" ({merged['observed']['ranks']}; the checks above are of all "
                                                   f"ranks together)"))
    shown = {(f.get("rule"), f.get("file"), f.get("line")) for f in (first or {}).get("findings") or []}
    for entry in ranks:
        if entry.get("status") == "missing":
            console.print(Text.assemble(f"  rank {entry['rank']}: ", ("missing", "red"), f" — {entry['reason']}"))
            continue
        found = entry.get("findings") or []
        errors = sum(1 for f in found if f.get("severity") == "error")
        warnings = sum(1 for f in found if f.get("severity") == "warning")
        console.print(f"  rank {entry['rank']}: {entry.get('status')} · {(entry.get('observed') or {}).get('structure')}"
                      f" · {errors} error(s), {warnings} warning(s)", markup=False, highlight=False)
        if entry.get("status") == "crashed" and entry.get("reason"):
            console.print(f"    {entry['reason']}", markup=False, highlight=False)
        if entry is first:
            continue
        for f in found:
            if (f.get("rule"), f.get("file"), f.get("line")) not in shown:
                console.print(f"    {f['rule']} {f['name']} ({f['severity']}) {f.get('file')}:{f.get('line')}: "
                              f"{f['message']}", markup=False, highlight=False)
