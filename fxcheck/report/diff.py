"""The console rendering of `fxcheck diff`: the first differing cycle, then the changed verdicts."""

from __future__ import annotations

from typing import Any

import networkx as nx
from rich.console import Console
from rich.text import Text

from fxcheck.diff import CycleDiff, StatusChange, TraceDiff, signature
from fxcheck.graph import observed, where
from fxcheck.report.console import MARK, STYLE
from fxcheck.rules import when

CONTEXT = 2  # identical events shown around each change
MAX_LINES = 60  # of the event listing; runs that differ throughout would otherwise print all of it
SIDE_STYLE = {"-": "red", "+": "green", "=": ""}


def render(d: TraceDiff, a: nx.DiGraph, b: nx.DiGraph, names: tuple[str, str], console: Console) -> None:
    console.print(Text.assemble(("fxcheck diff", "bold"), f" · {names[0]} → {names[1]}"))
    for label, g in (("A", a), ("B", b)):
        console.print(f"{label}: {_describe(g)}", highlight=False, markup=False)

    for label, opts in (("A", d.optimizers_only_first), ("B", d.optimizers_only_second)):
        if opts:
            console.print(f"Optimizers that stepped only in {label}: {', '.join(opts)}", highlight=False)
    if d.first_cycle is not None:
        _cycle(d.first_cycle, console)
    elif not d.optimizers_only_first and not d.optimizers_only_second:
        console.print("Event sequences: every optimizer cycle has the same events, in the same order.")

    if d.status_changes:
        console.print(Text("Rules whose verdict changed", style="bold"))
        for change in d.status_changes:
            _status(change, console, verdict_changed=True)
    if d.findings_changes:
        console.print(Text("Rules with the same verdict but other findings", style="bold"))
        for change in d.findings_changes:
            _status(change, console, verdict_changed=False)

    if d.status_changes:
        n = len(d.status_changes)
        console.print(f"Result: {n} rule{'s' if n != 1 else ''} changed verdict.", style="bold red", highlight=False)
    elif d.sequences_equal:
        console.print("Result: no difference: same event sequences and the same verdict for every rule.",
                      style="bold green", highlight=False)
    else:
        console.print("Result: the event sequences differ, but no rule changed its verdict.",
                      style="yellow", highlight=False)


def _describe(g: nx.DiGraph) -> str:
    meta = g.graph["meta"]
    args = " ".join(str(x) for x in meta.get("args") or [])
    obs = observed(g)
    return (f"{meta.get('script')}{' ' + args if args else ''} ({meta.get('status')}; "
            f"{obs['structure']}, {obs['events']} events)")


def _cycle(c: CycleDiff, console: Console) -> None:
    if c.optimizer is None:
        console.print(Text("First difference: the runs' events (no optimizer stepped in both traces)", style="bold"))
        console.print("  - only in A, + only in B", highlight=False)
        _events(c, console)
        return
    cycle = c.first or c.second
    at = (cycle.end or cycle.events[-1]) if cycle and cycle.events else {}
    head = f"First differing cycle: {c.optimizer} cycle {c.index} (epoch {at.get('epoch')}, step {c.index})"
    if c.first is None or c.second is None:
        head += f" — only in {'B' if c.first is None else 'A'}"
    console.print(Text(head, style="bold"))
    counts = f"{max(c.cycles)}" if c.cycles[0] == c.cycles[1] else f"{max(c.cycles)} (A has {c.cycles[0]}, B has {c.cycles[1]})"
    console.print(f"  {c.differing_cycles} of {counts} cycles of {c.optimizer} differ; "
                  "- only in A, + only in B", highlight=False)
    _events(c, console)


def _events(c: CycleDiff, console: Console) -> None:
    width = max((len(signature(e)) for _, e, _ in c.aligned), default=0) + 2
    shown = _with_context(c.aligned)
    for n, item in enumerate(shown):
        if n == MAX_LINES:
            rest = sum(1 if not isinstance(x, int) else x for x in shown[n:])
            console.print(f"    … {rest} more event(s)", style="dim", highlight=False)
            break
        if isinstance(item, int):
            console.print(f"    … {item} identical event{'s' if item != 1 else ''}", style="dim", highlight=False)
            continue
        side, e, other = item
        mark = " " if side == "=" else side
        place = where(e) if other is None or where(other) == where(e) else f"{where(e)} (B: {where(other)})"
        console.print(Text.assemble(f"  {mark} ", (signature(e).ljust(width), SIDE_STYLE[side]), (place, "dim")))


def _with_context(aligned: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> list[Any]:
    """The aligned events with runs of identical ones beyond CONTEXT collapsed into a count."""
    near = set()
    for i, (side, _, _) in enumerate(aligned):
        if side != "=":
            near.update(range(i - CONTEXT, i + CONTEXT + 1))
    out: list[Any] = []
    for i, item in enumerate(aligned):
        if i in near:
            out.append(item)
        elif out and isinstance(out[-1], int):
            out[-1] += 1
        else:
            out.append(1)
    return out


def _status(change: StatusChange, console: Console, verdict_changed: bool) -> None:
    r = change.rule
    line = Text.assemble(f"  {r.id} {r.name} ({r.severity})")
    if verdict_changed:
        line.append(": ")
        line.append(MARK[change.before], style=STYLE[change.before])
        line.append(" → ")
        line.append(MARK[change.after], style=STYLE[change.after])
    console.print(line)
    for side, findings in (("-", change.gone), ("+", change.new)):
        for f in findings:
            place = f"{f.file}:{f.line}" if f.file else "<unknown place>"
            console.print(Text.assemble(f"    {side} ", (place, SIDE_STYLE[side]),
                                        f" · {when(f.epoch, f.step) or 'no epoch or step'}: {f.message}"))
