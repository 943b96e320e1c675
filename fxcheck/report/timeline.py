"""The AMP timeline of a trace (`fxcheck show`): each optimizer cycle as events in canonical columns, with marks.

A cycle here is what a reader of the training loop calls one iteration: the work that ends with an
optimizer step (graph.cycles) plus the bookkeeping after that step which belongs to it (scaler.update,
zero_grad, scheduler.step, a clip that came too late), up to the next training batch. Findings of the
rules are placed on the event they point at ("misplaced") and, for rules that flag something absent,
as a gap in the column where the missing call belongs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from rich.console import Console
from rich.text import Text

from fxcheck import events as ev
from fxcheck.graph import cycles, enabled_scalers, events, involves, stepped_optimizers
from fxcheck.rules import Check, Finding

# The canonical order of an AMP cycle; a scheduler step, when there is one, comes after the update.
FORWARD, SCALE, BACKWARD, UNSCALE, CLIP, STEP, UPDATE, ZERO_GRAD, SCHEDULER = (
    "forward", "scale", "backward", "unscale_", "clip", "step", "update", "zero_grad", "scheduler")
COLUMNS = (FORWARD, SCALE, BACKWARD, UNSCALE, CLIP, STEP, UPDATE, ZERO_GRAD, SCHEDULER)

# What a failing cycle lacks, for rules whose pattern is an absent call: shown as "∅ <column> (rule)".
MISSING = {"FX101": ZERO_GRAD, "FX102": BACKWARD, "FX104": UNSCALE, "FX108": UPDATE}

# Events that are shown in a cycle's detail but have no column (where the loop was, mode switches).
CONTEXT = (ev.LOADER_PASS, ev.LOADER_BATCH, ev.MODULE_MODE, ev.CHECKPOINT, ev.OPTIMIZER_LOAD)

# After a step, these finish that step's cycle wherever they run before the next cycle's work.
BOOKKEEPING = (ev.SCALER_UPDATE, ev.SCHEDULER_STEP, ev.CLIP)

_SEEN = re.compile(r"\(seen (\d+) times\b")


@dataclass(frozen=True)
class Mark:
    """A finding placed on a cycle: on the event it points at, or as a gap in a column."""

    finding: Finding
    column: str | None
    gap: bool = False  # the call this column stands for is missing
    repeat: bool = False  # the same finding, carried to a later identical cycle ("seen N times")

    @property
    def rule(self) -> str:
        return self.finding.rule

    @property
    def place(self) -> str:
        f = self.finding
        return f"{f.file}:{f.line}" if f.file else "<unknown>"

    @property
    def short_place(self) -> str:
        f = self.finding
        return f"{f.file.rsplit('/', 1)[-1]}:{f.line}" if f.file else "<unknown>"


@dataclass
class Slot:
    """One event of a cycle: in a canonical column, or context (column None)."""

    event: dict[str, Any]
    column: str | None
    label: str
    lane: str  # key of the object whose lane draws it
    note: str = ""  # a few words for a picture: "skipped", "2^127 → 2^126", "autocast bfloat16"
    marks: list[Mark] = field(default_factory=list)

    @property
    def seq(self) -> int:
        return self.event["seq"]

    @property
    def place(self) -> str:
        e = self.event
        return f"{e['file']}:{e['line']}" if e.get("file") else "<unknown>"

    def signature(self) -> tuple:
        """What makes two cycles the same: the call, its place and the facts the rules read from it."""
        e, d = self.event, self.event["data"]
        facts = (bool(d.get("scaled")), bool(d.get("internal")), bool(d.get("stale")), d.get("fresh") == 0,
                 bool(d.get("cleared_before_step")), "raised" in d, d.get("training"), d.get("autocast"))
        return self.column, e["kind"], e["obj"], e.get("file"), e.get("line"), facts


@dataclass
class CycleView:
    """One optimizer cycle, its events in happens-before order."""

    optimizer: str
    index: int  # the optimizer's step number (as in findings' "step")
    slots: list[Slot]
    finished: bool  # False: the run ended before this cycle's step
    skipped: bool  # the GradScaler skipped this step (inf/NaN gradients)
    epoch: int | None
    batches: tuple[int, int] | None
    gaps: list[Mark] = field(default_factory=list)

    def column(self, name: str) -> list[Slot]:
        return [s for s in self.slots if s.column == name]

    @property
    def marks(self) -> list[Mark]:
        return [m for s in self.slots for m in s.marks] + self.gaps

    @property
    def updates(self) -> list[tuple[float | None, float | None]]:
        return [(s.event["data"].get("scale_before"), s.event["data"].get("scale_after")) for s in self.column(UPDATE)]

    def signature(self) -> tuple:
        return tuple(s.signature() for s in self.slots if s.column is not None)

    def row_key(self) -> tuple:
        """Two consecutive cycles with equal keys print as one row ("cycles 3-8: same as cycle 2")."""
        marks = tuple(sorted((m.rule, m.column, m.gap) for m in self.marks))
        return self.signature(), marks, tuple(self.updates), self.skipped, self.finished

    @property
    def where(self) -> str:
        text = f"epoch {self.epoch}" if self.epoch is not None else "no epoch"
        if self.batches:
            a, b = self.batches
            text += f", batch {a}" if a == b else f", batches {a}-{b}"
        return text


@dataclass
class Timeline:
    """Every optimizer's cycles, the marks placed on them and the findings that fit on no cycle."""

    meta: dict[str, Any]
    objects: dict[str, dict[str, Any]]
    cycles: dict[str, list[CycleView]]  # by optimizer, in order of first step
    unplaced: list[Finding]
    has_forwards: bool
    scalers: list[str]

    @property
    def count(self) -> int:
        """The highest cycle number of any optimizer (cycles are numbered per optimizer from 1)."""
        return max((len(cs) for cs in self.cycles.values()), default=0)

    def at(self, k: int) -> list[CycleView]:
        """Cycle K of every optimizer that has one."""
        return [cs[k - 1] for cs in self.cycles.values() if 0 < k <= len(cs)]

    def describe(self, key: str) -> str:
        o = self.objects.get(key) or {}
        cls = o.get("cls")
        return f"{key} {cls}" if cls and cls != "?" else key

    def rows(self, opt: str) -> list[tuple[CycleView, list[CycleView]]]:
        """Each shown cycle with the consecutive cycles identical to it."""
        out: list[tuple[CycleView, list[CycleView]]] = []
        for c in self.cycles[opt]:
            if out and out[-1][0].row_key() == c.row_key() and out[-1][0].epoch == c.epoch:
                out[-1][1].append(c)
            else:
                out.append((c, []))
        return out

    def updates(self, scaler: str) -> list[tuple[CycleView, Slot]]:
        """The scaler's updates in order, each with the cycle it closed (the first, when optimizers share it)."""
        seen: dict[int, tuple[CycleView, Slot]] = {}
        for cs in self.cycles.values():
            for c in cs:
                for s in c.column(UPDATE):
                    if s.lane == scaler:
                        seen.setdefault(s.seq, (c, s))
        return [seen[k] for k in sorted(seen)]

    def skipped(self, scaler: str) -> list[CycleView]:
        """Cycles whose step this scaler skipped (inf/NaN gradients)."""
        return [c for cs in self.cycles.values() for c in cs
                if c.skipped and any(s.lane == scaler and s.event["kind"] == ev.SCALER_STEP for s in c.slots)]


# -- building ---------------------------------------------------------------------------------

def build(g: nx.DiGraph, checks: list[Check]) -> Timeline:
    objects = {n: dict(a) for n, a in g.nodes(data=True) if a.get("node") == "object"}
    trained = _trained_model(g)
    by_opt = {opt: _cycle_views(g, opt, trained) for opt in stepped_optimizers(g)}
    tl = Timeline(g.graph["meta"], objects, by_opt, [], bool(events(g, ev.MODEL_FORWARD)), enabled_scalers(g))
    for f in (f for c in checks for f in c.findings):
        if not _place(tl, f):
            tl.unplaced.append(f)
    return tl


def _trained_model(g: nx.DiGraph) -> str:
    """The lane a backward is drawn in when no forward says which model ran: the one model switched to train()."""
    switched = {e["obj"] for e in events(g, ev.MODULE_MODE) if e["obj"]}
    return next(iter(switched)) if len(switched) == 1 else "model"


def _is_work(e: dict[str, Any], opt: str) -> bool:
    """An event that begins a cycle's work: a training forward, a loss scale, gradients for this optimizer."""
    kind = e["kind"]
    if kind == ev.MODEL_FORWARD:
        return _training_forward(e)
    if kind == ev.SCALER_SCALE:
        return True
    return kind in (ev.BACKWARD, ev.GRAD_SET) and _touches(e, opt)


def _training_forward(e: dict[str, Any]) -> bool:
    return e.get("phase", "train") == "train"  # the loop model's phase, set by graph.build


def _touches(e: dict[str, Any], opt: str) -> bool:
    return involves(e, opt) or not e["data"].get("touched")


def _cycle_views(g: nx.DiGraph, opt: str, trained: str) -> list[CycleView]:
    spans: list[list[dict[str, Any]]] = []
    ends: list[dict[str, Any] | None] = []
    for c in cycles(g, opt):
        evts = c.events
        if spans:
            work = next((i for i, e in enumerate(evts) if _is_work(e, opt)), len(evts))
            # between the previous step and this cycle's work: up to the next training batch (or a mode
            # switch, an evaluation pass, a new epoch) it is the previous cycle's bookkeeping; from there on a
            # zero_grad and the loop's context prepare this cycle, while a late update, scheduler step or
            # clip still belongs to the step before it
            prev = ends[-1]
            gap = evts[:work]
            split = next((i for i, e in enumerate(gap) if e["kind"] in (ev.MODULE_MODE, ev.LOADER_PASS)
                          or (e["epoch"], e["batch"]) != (prev["epoch"], prev["batch"])), work)
            spans[-1].extend(gap[:split] + [e for e in gap[split:] if e["kind"] in BOOKKEEPING])
            if c.end is None and work == len(evts):
                break  # the run ended before another cycle began: what prepared it belongs to no cycle
            evts = [e for e in gap[split:] if e["kind"] not in BOOKKEEPING] + evts[work:]
        spans.append(list(evts))
        ends.append(c.end)
    views = []
    for i, (span, end) in enumerate(zip(spans, ends), start=1):
        slots = [s for s in (_slot(e, opt, span, trained) for e in span) if s is not None]
        stepped = any(e["kind"] == ev.OPTIMIZER_STEP and e["obj"] == opt for e in span)
        skipped = bool(end and end["kind"] == ev.SCALER_STEP
                       and (end["data"]["skipped"] if "skipped" in end["data"] else not stepped))
        work = [e for e in span if _is_work(e, opt)]
        batches = sorted({e["batch"] for e in work if e["batch"] is not None})
        anchor = end or (work[0] if work else span[0])
        views.append(CycleView(opt, i, slots, end is not None, skipped, anchor["epoch"],
                               (batches[0], batches[-1]) if batches else None))
    return views


def _slot(e: dict[str, Any], opt: str, span: list[dict[str, Any]], trained: str) -> Slot | None:
    kind, d, obj = e["kind"], e["data"], e["obj"]
    if kind == ev.MODEL_FORWARD:
        if not _training_forward(e):
            return None  # evaluation forwards: the loader pass line says where evaluation ran
        amp = f"autocast {d['autocast']}" if d.get("autocast") else "no autocast"
        return Slot(e, FORWARD, f"{obj} forward ({amp})", obj, amp)
    if kind == ev.SCALER_SCALE:
        return Slot(e, SCALE, "scaler.scale(loss)", obj)
    if kind == ev.BACKWARD and _touches(e, opt):
        label, note = ("backward on scaler.scale(loss)", "scaled") if d.get("scaled") else ("backward", "")
        if isinstance(d.get("divisor"), (int, float)) and d["divisor"] != 1:
            label += f" (loss / {d['divisor']:g})"
            note += f" ÷{d['divisor']:g}"
        return Slot(e, BACKWARD, label, _backward_lane(e, span, trained), note.strip())
    if kind == ev.GRAD_SET and involves(e, opt):
        return Slot(e, BACKWARD, "gradients assigned by hand", opt, "by hand")
    if kind == ev.SCALER_UNSCALE and d.get("optimizer") == opt:
        if d.get("internal"):
            return Slot(e, STEP, f"unscale_({opt}) inside scaler.step", obj, "inside scaler.step")
        return Slot(e, UNSCALE, f"scaler.unscale_({opt})", obj)
    if kind == ev.CLIP and opt in (d.get("optimizers") or ()):
        limit = d.get("limit")
        what = "norm only" if limit == float("inf") else f"max {limit:g}" if isinstance(limit, (int, float)) else ""
        return Slot(e, CLIP, f"{d.get('function')}({what})", opt, what)
    if kind == ev.OPTIMIZER_STEP and obj == opt:
        if d.get("via_scaler"):
            return Slot(e, STEP, f"{opt}.step() inside scaler.step", opt, "inside scaler.step")
        return Slot(e, STEP, f"{opt}.step() called directly", opt, "called directly")
    if kind == ev.SCALER_STEP and d.get("optimizer") == opt:
        if "raised" in d:
            return Slot(e, STEP, f"scaler.step({opt}) raised {d['raised']}", obj, "raised " + d["raised"].split(":")[0])
        if d.get("skipped") or ("skipped" not in d and not any(
                x["kind"] == ev.OPTIMIZER_STEP and x["obj"] == opt for x in span)):
            return Slot(e, STEP, f"scaler.step({opt}) skipped the step (inf/NaN gradients)", obj, "skipped: inf/NaN")
        return Slot(e, STEP, f"scaler.step({opt})", obj)
    if kind == ev.SCALER_UPDATE:
        change = scale_change(d.get("scale_before"), d.get("scale_after"))
        return Slot(e, UPDATE, f"scaler.update() scale {change}", obj, change.split(" (")[0])
    if kind == ev.GRAD_CLEAR and involves(e, opt):
        how = d.get("via") or "cleared"
        note = how
        if d.get("set_to_none") is not None and "zero_grad" in how:
            how += f"(set_to_none={d['set_to_none']})"
            note = "set_to_none" if d["set_to_none"] else "zeroed"
        return Slot(e, ZERO_GRAD, how, obj if obj and not obj.startswith(ev.LOADER) else opt, note)
    if kind == ev.SCHEDULER_STEP and d.get("optimizer") == opt:
        lr = d.get("lr")
        lr_text = ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in lr) if isinstance(lr, list) else str(lr)
        return Slot(e, SCHEDULER, f"{obj}.step() lr {lr_text}", obj, f"lr {lr_text}")
    if kind in CONTEXT:
        return Slot(e, None, _context_label(e), obj or "")
    return None


def _backward_lane(e: dict[str, Any], span: list[dict[str, Any]], trained: str) -> str:
    """A backward runs through the model whose training forward came first in the cycle before it."""
    first = next((x for x in span if x["seq"] < e["seq"] and x["kind"] == ev.MODEL_FORWARD
                  and _training_forward(x)), None)
    return first["obj"] if first else trained


def _context_label(e: dict[str, Any]) -> str:
    kind, d, obj = e["kind"], e["data"], e["obj"]
    if kind == ev.LOADER_PASS:
        role = {"train": "training", "eval": "evaluation"}.get(e.get("role") or "", "data")
        return f"{role} pass over {obj} ({d.get('batches')} batches)"
    if kind == ev.LOADER_BATCH:
        return f"{obj} batch {d.get('index')}"
    if kind == ev.MODULE_MODE:
        return f"{obj}.{'train' if d.get('training') else 'eval'}()"
    if kind == ev.CHECKPOINT:
        return "torch.save(checkpoint)"
    return f"{obj}.load_state_dict()"


def scale_text(value: float | None) -> str:
    """A loss scale as people read it: 65536, or 2^127 when the integer would be unreadable."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "?" if value is None else str(value)
    mantissa, exp = math.frexp(value)
    if value > 0 and mantissa == 0.5 and exp - 1 > 24:
        return f"2^{exp - 1}"
    return f"{value:g}" if value != int(value) or abs(value) >= 1e15 else str(int(value))


def scale_change(before: float | None, after: float | None) -> str:
    if before == after or before is None or after is None:
        return scale_text(after if after is not None else before)
    trend = "backoff" if after < before else "growth"
    return f"{scale_text(before)} → {scale_text(after)} ({trend} ×{after / before:g})"


def _place(tl: Timeline, f: Finding) -> bool:
    """Put a finding on the event it points at; carry it to later identical cycles it was seen in too."""
    located = _locate(tl, f)
    if located is None:
        return False
    cycle, slot = located
    _mark(cycle, slot, f, repeat=False)
    m = _SEEN.search(f.message)
    more = int(m.group(1)) - 1 if m else 0
    signature = cycle.signature()
    for later in tl.cycles[cycle.optimizer][cycle.index:]:
        if more <= 0:
            break
        if later.signature() != signature:
            continue
        twin = next((s for s in later.slots if s.signature() == slot.signature()), None)
        if twin is not None and not any(x.rule == f.rule for x in later.marks):
            _mark(later, twin, f, repeat=True)
            more -= 1
    return True


def _locate(tl: Timeline, f: Finding) -> tuple[CycleView, Slot] | None:
    if not f.file:
        return None

    def at_line(c: CycleView) -> Slot | None:
        here = [s for s in c.slots if s.event.get("file") == f.file and s.event.get("line") == f.line]
        placed = [s for s in here if s.column is not None] or here
        # the events of a scaler.step (its unscale_, the optimizer's step) share its line: the call the
        # user wrote is the last of them; otherwise the first event at the line (e.g. the first backward)
        return placed[-1] if placed and placed[0].column == STEP else (placed[0] if placed else None)

    candidates = [c for c in tl.at(f.step)] if f.step else []
    candidates += [c for cs in tl.cycles.values() for c in cs if c.epoch == f.epoch and c not in candidates]
    for c in candidates:
        slot = at_line(c)
        if slot is not None:
            return c, slot
    return None


def _mark(cycle: CycleView, slot: Slot, f: Finding, repeat: bool) -> None:
    missing = MISSING.get(f.rule)
    gap = missing is not None and not cycle.column(missing)
    # FX108 points at the scaler.step that no update followed: the step itself is where it should be
    if not (gap and slot.column == STEP and missing == UPDATE):
        slot.marks.append(Mark(f, slot.column, repeat=repeat))
    if gap:
        cycle.gaps.append(Mark(f, missing, gap=True, repeat=repeat))


# -- console ----------------------------------------------------------------------------------

def render(tl: Timeline, console: Console, only: int | None = None) -> None:
    """The summary of every cycle plus the detail of those with findings; or one cycle's detail."""
    _header(tl, console)
    if not tl.cycles:
        console.print("No optimizer cycle in this trace: nothing was stepped.")
        return
    if only is not None:
        for c in tl.at(only):
            detail(tl, c, console)
        return
    for opt in tl.cycles:
        _summary(tl, opt, console)
    _scaler_lines(tl, console)
    firsts = [c for cs in tl.cycles.values() for c in cs if any(not m.repeat for m in c.marks)]
    if firsts:
        console.print()
        console.print(Text("Cycles with findings", style="bold"))
    for c in firsts:
        detail(tl, c, console)
    if tl.unplaced:
        console.print()
        console.print(Text("Findings not on a cycle's events", style="bold"))
        for f in tl.unplaced:
            console.print(Text.assemble((f"  {f.rule} {f.name}", _severity_style(f.severity)),
                                        f" {f.file}:{f.line}" if f.file else "",
                                        f" · epoch {f.epoch}" if f.epoch is not None else ""))


def _header(tl: Timeline, console: Console) -> None:
    meta = tl.meta
    rank = f" · rank {meta['rank']}" if isinstance(meta.get("rank"), int) else ""
    console.print(Text.assemble(("fxcheck show ", "bold"), (str(meta.get("script")), "bold"), rank,
                                f" · run {meta.get('status')} ({meta.get('reason')})"))
    console.print(Text("Canonical order: " + " → ".join(c for c in COLUMNS if c != SCHEDULER)
                       + " (scheduler.step after the update)", style="dim"))
    if not tl.has_forwards:
        console.print(Text("This trace has no model.forward events (recorded by an older fxcheck): "
                           "the forward column is empty.", style="dim"))


def _cell(c: CycleView, column: str) -> Text:
    slots = c.column(column)
    gaps = [m for m in c.gaps if m.column == column]
    if not slots:
        if gaps:
            return Text("∅ " + column + " (" + ", ".join(m.rule for m in gaps) + ")", style="bold red")
        return Text("·", style="dim")
    base = _cell_text(c, column, slots)
    marks = [m for s in slots for m in s.marks]
    if marks:
        return Text(" ".join(f"✗ {m.rule} {m.short_place}" for m in marks), style="bold red")
    style = "yellow" if (column == STEP and c.skipped) or (column == UPDATE and _changed(c)) else ""
    return Text(base, style=style)


def _changed(c: CycleView) -> bool:
    return any(b != a for b, a in c.updates)


def _cell_text(c: CycleView, column: str, slots: list[Slot]) -> str:
    n = f" ×{len(slots)}" if len(slots) > 1 else ""
    if column == FORWARD:
        amps = {s.event["data"].get("autocast") for s in slots}
        return ("/".join(sorted(a or "fp32" for a in amps))) + n
    if column == STEP:
        if any("raised" in s.event["data"] for s in slots):
            return "raised"
        if c.skipped:
            return "skipped (inf/NaN)"
        kinds = {s.event["kind"] for s in slots}
        return "scaler.step" if ev.SCALER_STEP in kinds else "direct"
    if column == UPDATE:
        return ", ".join(scale_change(b, a) for b, a in c.updates)
    if column == BACKWARD:
        scaled = sum(1 for s in slots if s.event["data"].get("scaled"))
        return ("scaled" if scaled == len(slots) else f"{scaled}/{len(slots)} scaled" if scaled else "✓") + n
    return "✓" + n


def _summary(tl: Timeline, opt: str, console: Console) -> None:
    cs = tl.cycles[opt]
    columns = [c for c in COLUMNS if c != SCHEDULER or any(x.column(SCHEDULER) for x in cs)]
    console.print()
    console.print(Text.assemble((tl.describe(opt), "bold"), f" · {len(cs)} cycle(s)"))
    header = [Text("cycle"), Text("where")] + [Text(col) for col in columns]
    lines: list[tuple[int | None, list[Text]]] = []  # (epoch, cells); one cell: a free line
    for first, same in tl.rows(opt):
        cells = [Text(str(first.index) + ("" if first.finished else " (unfinished)")), Text(_where_short(first))]
        cells += [_cell(first, col) for col in columns]
        others = [m for s in first.slots if s.column is None for m in s.marks]
        if others:
            cells[-1] = cells[-1] + Text("  also " + ", ".join(f"✗ {m.rule} {m.short_place}" for m in others),
                                         style="bold red")
        lines.append((first.epoch, cells))
        if same:
            span = f"{same[0].index}" if len(same) == 1 else f"{same[0].index}-{same[-1].index}"
            plural = "s" if len(same) > 1 else ""
            lines.append((first.epoch, [Text(f"cycle{plural} {span}: same as cycle {first.index}", style="dim")]))
    widths = [max(len(cells[i]) for cells in [header] + [c for _, c in lines if len(c) > 1])
              for i in range(len(header))]

    def show(cells: list[Text], style: str = "") -> None:
        line = Text("  ", style=style)
        for i, cell in enumerate(cells):
            line.append_text(cell)
            if len(cells) > 1 and i < len(cells) - 1:
                line.append(" " * (widths[i] - len(cell) + 2))
        console.print(line, no_wrap=True, crop=False, overflow="ignore")

    show(header, "bold")
    epoch = lines[0][0] if lines else None
    for e, cells in lines:
        if e != epoch:
            console.print(Text(f"  ── epoch {e} ──", style="dim"))
            epoch = e
        show(cells)


def _where_short(c: CycleView) -> str:
    text = f"e{c.epoch}" if c.epoch is not None else "-"
    if c.batches:
        a, b = c.batches
        text += f" b{a}" if a == b else f" b{a}-{b}"
    return text


def _scaler_lines(tl: Timeline, console: Console) -> None:
    for sk in tl.scalers:
        updates = tl.updates(sk)
        if not updates:
            continue
        data = [s.event["data"] for _, s in updates]
        console.print()
        console.print(Text.assemble((tl.describe(sk), "bold"), f": scale {scale_text(data[0].get('scale_before'))} → "
                                    f"{scale_text(data[-1].get('scale_after'))} over {len(updates)} update(s)"))
        skipped = tl.skipped(sk)
        if skipped:
            named = len(tl.cycles) > 1
            console.print(Text(f"  {len(skipped)} step(s) skipped for inf/NaN gradients: "
                               + ", ".join(f"{c.optimizer} " * named + f"cycle {c.index}" for c in skipped),
                               style="yellow"))
        for (c, _), d in zip(updates, data):
            b, a = d.get("scale_before"), d.get("scale_after")
            if b != a:
                why = "after a skipped step" if c.skipped else "after good steps"
                console.print(Text(f"  cycle {c.index} ({c.where}): {scale_change(b, a)} {why}",
                                   style="yellow" if a is not None and b is not None and a < b else ""))


def detail(tl: Timeline, c: CycleView, console: Console) -> None:
    """Every event of one cycle with its file:line; gaps where the missing call belongs."""
    console.print()
    state = "" if c.finished else " (unfinished: the run ended before its step)"
    skipped = " · step skipped by the GradScaler (inf/NaN gradients)" if c.skipped else ""
    console.print(Text.assemble((f"cycle {c.index}", "bold"), f" of {tl.describe(c.optimizer)} · {c.where}{state}",
                                (skipped, "yellow")))
    width = max((len(s.label) for s in c.slots), default=10)
    for item in with_gaps(c):
        if isinstance(item, Mark):
            line = Text(f"  {'':>5}  {'∅ ' + str(item.column):<11} {'missing':<{width}}  {item.rule} "
                        f"{item.finding.name} ({item.place})", style="bold red")
        else:
            line = Text(f"  {item.seq:>5}  {item.column or '':<11} {item.label:<{width}}  {item.place}",
                        style="dim" if item.column is None else "")
            for m in item.marks:
                line.append(f"  ✗ {m.rule} {m.finding.name}", style="bold red")
        console.print(line, no_wrap=True, crop=False, overflow="ignore")
    for f in dict.fromkeys(m.finding for m in c.marks):
        console.print(Text.assemble(("  ", ""), (f"{f.rule} {f.name}", _severity_style(f.severity)),
                                    f" ({f.severity}) {f.file}:{f.line}"))
        console.print(f"     {f.message}", highlight=False, markup=False)
        if f.hint:
            console.print(Text(f"     fix: {f.hint}", style="dim"))


def with_gaps(c: CycleView) -> list[Slot | Mark]:
    """The cycle's events with each gap placed where its call belongs in the canonical order."""
    items: list[Slot | Mark] = list(c.slots)
    for gap in c.gaps:
        rank = COLUMNS.index(gap.column)
        placed = [i for i, x in enumerate(items) if isinstance(x, Slot) and x.column is not None]
        if gap.column == ZERO_GRAD:
            # gradients are cleared before the cycle's work begins (or after the previous step)
            at = next((i for i in placed if items[i].column in (FORWARD, SCALE, BACKWARD)), len(items))
        else:
            before = [i for i in placed if COLUMNS.index(items[i].column) < rank]
            at = before[-1] + 1 if before else (placed[0] if placed else len(items))
        items.insert(at, gap)
    return items


def _severity_style(severity: str) -> str:
    return "bold red" if severity == "error" else "yellow" if severity == "warning" else "cyan"
