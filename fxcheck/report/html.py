"""The HTML timeline (`fxcheck show --html`): one self-contained page, inline CSS and SVG, nothing fetched.

Each shown cycle is a picture with a lane per object (model, scaler, optimizer, scheduler) and a
column per event in happens-before order; findings are drawn on the event they point at, a missing
call as a dashed box in the column where it belongs, skipped steps and scale changes on the scaler.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from fxcheck import events as ev
from fxcheck.report.timeline import (
    BACKWARD, FORWARD, SCALE, UNSCALE, UPDATE, CycleView, Mark, Slot, Timeline, scale_text, with_gaps,
)

COL_W, LANE_H, LABEL_W, TOP, BOX_W, BOX_H, MARK_H = 114, 62, 150, 34, 104, 46, 44
LANE_ORDER = (ev.MODEL, "model", ev.SCALER, ev.OPTIMIZER, ev.SCHEDULER)

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} h3{font-size:15px;margin:18px 0 6px}
.meta,.note{color:#5b6475} .order{font-family:ui-monospace,monospace;color:#5b6475}
section.cycle{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 14px;margin:12px 0;overflow-x:auto}
section.cycle.flagged{border-color:#d33}
.same{color:#5b6475;margin:4px 0 4px 14px;font-style:italic}
.epoch{margin:18px 0 4px;color:#5b6475;font-weight:600}
ul.findings{margin:6px 0 0;padding-left:18px} ul.findings li{margin:4px 0}
.rule{color:#c21f1f;font-weight:600} code{font-family:ui-monospace,monospace;font-size:12.5px}
.fix{color:#5b6475}
svg text{font-family:system-ui,-apple-system,"Segoe UI",sans-serif}
svg .lane-label{font-size:12px;fill:#1d2330;font-weight:600} svg .lane-cls{font-size:11px;fill:#5b6475}
svg .col{font-size:11px;fill:#5b6475} svg .title{font-size:12px;font-weight:600;fill:#1d2330}
svg .sub{font-size:10.5px;fill:#3b4456} svg .sub.small{font-size:9.5px} svg .place{font-size:10px;fill:#7a8396}
svg .box{fill:#eef3fb;stroke:#8aa4cc} svg .box.internal{fill:#f4f5f7;stroke:#b8bfcc;stroke-dasharray:3 2}
svg .box.skipped{fill:#fff4db;stroke:#d9a21b} svg .box.raised{fill:#fde8e8;stroke:#c21f1f}
svg .box.flagged{fill:#fde8e8;stroke:#c21f1f;stroke-width:2}
svg .gap{fill:#fff;stroke:#c21f1f;stroke-width:1.5;stroke-dasharray:5 3} svg .gap-text{fill:#c21f1f;font-size:12px;font-weight:600}
svg .ghost{fill:none;stroke:#d9a21b;stroke-dasharray:4 3}
svg .badge{fill:#c21f1f} svg .badge-text{fill:#fff;font-size:11px;font-weight:600}
svg .mark-place{fill:#c21f1f;font-size:10.5px}
svg .path{fill:none;stroke:#9aa5b8;stroke-width:1.2} svg .lane-bg{fill:#f6f7f9} svg .lane-bg.alt{fill:#fff}
svg .down{fill:#c27c00;font-weight:600} svg .up{fill:#1f7a3a;font-weight:600}
svg .spark{fill:none;stroke:#3a62a8;stroke-width:1.5} svg .dot{fill:#3a62a8} svg .dot.skipped{fill:#d9a21b}
"""


def write(tl: Timeline, path: str | Path, only: int | None = None) -> None:
    Path(path).write_text(render(tl, only), encoding="utf-8")


def render(tl: Timeline, only: int | None = None) -> str:
    meta = tl.meta
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>fxcheck timeline · {escape(str(meta.get('script')))}</title>", f"<style>{CSS}</style>",
        "</head><body>",
        f"<h1>AMP timeline · <code>{escape(str(meta.get('script')))}</code></h1>",
        f'<p class="meta">run {escape(str(meta.get("status")))} ({escape(str(meta.get("reason")))}) · '
        f'fxcheck {escape(str(meta.get("fxcheck")))} · torch {escape(str(meta.get("torch")))}</p>',
        '<p class="order">forward → scale → backward → unscale_ → clip → step → update → zero_grad'
        " (scheduler.step after the update)</p>",
    ]
    if not tl.has_forwards:
        parts.append('<p class="note">This trace has no model.forward events (recorded by an older fxcheck).</p>')
    if not tl.cycles:
        parts.append("<p>No optimizer cycle in this trace: nothing was stepped.</p>")
    for sk in tl.scalers:
        parts.append(_scaler_chart(tl, sk))
    for opt in tl.cycles:
        parts.append(f"<h2>{escape(tl.describe(opt))} · {len(tl.cycles[opt])} cycle(s)</h2>")
        if only is not None:
            parts.extend(_cycle(tl, c) for c in tl.at(only) if c.optimizer == opt)
            continue
        epoch = None
        for first, same in tl.rows(opt):
            if first.epoch != epoch:
                parts.append(f'<div class="epoch">epoch {escape(str(first.epoch))}</div>')
                epoch = first.epoch
            parts.append(_cycle(tl, first))
            if same:
                span = f"{same[0].index}" if len(same) == 1 else f"{same[0].index}–{same[-1].index}"
                parts.append(f'<div class="same" data-cycles="{same[0].index}-{same[-1].index}" '
                             f'data-same-as="{first.index}">cycle{"s" if len(same) > 1 else ""} {span}: '
                             f"same as cycle {first.index}</div>")
    if tl.unplaced and only is None:
        parts.append("<h2>Findings not on a cycle's events</h2><ul class=\"findings\">")
        for f in tl.unplaced:
            parts.append(f'<li><span class="rule">{escape(f.rule)}</span> {escape(f.name)} '
                         f"<code>{escape(f'{f.file}:{f.line}')}</code> · {escape(f.message)}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _lanes(tl: Timeline, c: CycleView, items: list[Slot | Mark]) -> list[str]:
    keys: list[str] = []
    for it in items:
        key = it.lane if isinstance(it, Slot) else _gap_lane(tl, c, it)
        if key not in keys:
            keys.append(key)
    if c.skipped and c.optimizer not in keys:
        keys.append(c.optimizer)

    def rank(key: str) -> tuple[int, str]:
        kind = (tl.objects.get(key) or {}).get("type", key.split("#")[0])
        return (LANE_ORDER.index(kind) if kind in LANE_ORDER else len(LANE_ORDER)), key

    return sorted(keys, key=rank)


def _gap_lane(tl: Timeline, c: CycleView, gap: Mark) -> str:
    """The object whose call is missing."""
    if gap.column in (FORWARD, BACKWARD):
        lanes = [s.lane for s in c.slots if s.column in (FORWARD, BACKWARD)]
        return lanes[0] if lanes else "model"
    if gap.column in (SCALE, UNSCALE, UPDATE):
        lanes = [s.lane for s in c.slots if s.column in (SCALE, UNSCALE, UPDATE) or s.event["kind"] == ev.SCALER_STEP]
        return lanes[0] if lanes else (tl.scalers[0] if tl.scalers else "scaler")
    return c.optimizer


def _cycle(tl: Timeline, c: CycleView) -> str:
    items = [it for it in with_gaps(c) if isinstance(it, Mark) or it.column is not None]
    lanes = _lanes(tl, c, items)
    y_of = {key: TOP + i * LANE_H for i, key in enumerate(lanes)}
    width = LABEL_W + max(len(items), 1) * COL_W + 10
    marks_y = TOP + len(lanes) * LANE_H + 6
    stacked = max((len(it.marks) for it in items if isinstance(it, Slot)), default=0)
    height = marks_y + MARK_H * stacked + 4
    script = tl.meta.get("script")
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="cycle {c.index} timeline">']
    for i, key in enumerate(lanes):
        y = y_of[key]
        o = tl.objects.get(key) or {}
        cls = o.get("cls") if o.get("cls") not in (None, "?") else ("autograd" if key == "model" else "")
        svg.append(f'<g class="lane" data-object="{escape(key)}">'
                   f'<rect class="lane-bg{" alt" if i % 2 else ""}" x="0" y="{y}" width="{width}" height="{LANE_H}"/>'
                   f'<text class="lane-label" x="10" y="{y + 26}">{escape(key)}</text>'
                   f'<text class="lane-cls" x="10" y="{y + 42}">{escape(str(cls))}</text></g>')
    centers = []
    for i, it in enumerate(items):
        x = LABEL_W + i * COL_W
        if isinstance(it, Mark):
            lane = _gap_lane(tl, c, it)
            centers.append(None)
            svg.append(_gap(it, x, y_of[lane], i))
            continue
        y = y_of[it.lane]
        centers.append((x + COL_W / 2, y + LANE_H / 2))
        svg.append(_event(it, c, x, y, i, script))
        if c.skipped and it.event["kind"] == ev.SCALER_STEP:
            oy = y_of[c.optimizer]
            svg.append(f'<g class="skipped-step" data-optimizer="{escape(c.optimizer)}">'
                       f'<rect class="ghost" x="{x + 7}" y="{oy + 8}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
                       f'<text class="sub" x="{x + COL_W / 2}" y="{oy + 30}" text-anchor="middle">no optimizer.step</text>'
                       f'<text class="place" x="{x + COL_W / 2}" y="{oy + 44}" text-anchor="middle">skipped: inf/NaN</text></g>')
    path = [p for p in centers if p is not None]
    if len(path) > 1:
        points = " ".join(f"{x:.0f},{y:.0f}" for x, y in path)
        svg.insert(len(lanes) + 1, f'<polyline class="path" points="{points}"/>')
    for i, it in enumerate(items):
        # a gap carries its rule in its own dashed box; a misplaced event gets a badge under the lanes
        for k, m in enumerate(it.marks if isinstance(it, Slot) else []):
            x = LABEL_W + i * COL_W + 7
            y = marks_y + k * MARK_H
            svg.append(f'<g class="mark" data-rule="{escape(m.rule)}" data-gap="{str(m.gap).lower()}">'
                       f"<title>{escape(m.finding.message)}</title>"
                       f'<rect class="badge" x="{x}" y="{y}" width="{BOX_W}" height="18" rx="9"/>'
                       f'<text class="badge-text" x="{x + BOX_W / 2}" y="{y + 13}" text-anchor="middle">'
                       f"✗ {escape(m.rule)}</text>"
                       f'<text class="mark-place" x="{x + BOX_W / 2}" y="{y + 33}" text-anchor="middle">'
                       f"{escape(_place(m.finding.file, m.finding.line, script))}</text></g>")
    svg.append("</svg>")
    flagged = " flagged" if c.marks else ""
    state = "" if c.finished else " · unfinished: the run ended before its step"
    skipped = " · <strong>step skipped by the GradScaler (inf/NaN gradients)</strong>" if c.skipped else ""
    head = (f'<section class="cycle{flagged}" data-optimizer="{escape(c.optimizer)}" data-cycle="{c.index}">'
            f"<h3>cycle {c.index} · {escape(c.where)}{state}{skipped}</h3>")
    findings = []
    for f in dict.fromkeys(m.finding for m in c.marks):
        findings.append(f'<li><span class="rule">{escape(f.rule)} {escape(f.name)}</span> '
                        f"<code>{escape(f'{f.file}:{f.line}')}</code> · {escape(f.message)}"
                        + (f'<br><span class="fix">fix: {escape(f.hint)}</span>' if f.hint else "") + "</li>")
    tail = f'<ul class="findings">{"".join(findings)}</ul>' if findings else ""
    return head + "".join(svg) + tail + "</section>"


TITLES = {ev.SCALER_STEP: "scaler.step", ev.OPTIMIZER_STEP: "optimizer.step", ev.SCALER_UNSCALE: "unscale_",
          ev.GRAD_SET: "grad set", ev.BACKWARD: "backward", ev.CLIP: "clip", ev.SCALER_SCALE: "scale",
          ev.SCALER_UPDATE: "update", ev.GRAD_CLEAR: "zero_grad", ev.SCHEDULER_STEP: "scheduler.step"}


def _event(s: Slot, c: CycleView, x: float, y: float, i: int, script: str | None) -> str:
    e, d = s.event, s.event["data"]
    classes = ["box"]
    if s.marks:
        classes.append("flagged")
    elif "raised" in d:
        classes.append("raised")
    elif e["kind"] == ev.SCALER_STEP and c.skipped:
        classes.append("skipped")
    elif s.note == "inside scaler.step":
        classes.append("internal")
    title = TITLES.get(e["kind"], s.column or e["kind"])
    note_class = "sub"
    if e["kind"] == ev.SCALER_UPDATE and d.get("scale_before") != d.get("scale_after"):
        note_class += " down" if (d.get("scale_after") or 0) < (d.get("scale_before") or 0) else " up"
    place = _place(e.get("file"), e.get("line"), script)
    cx = x + COL_W / 2
    return (f'<g class="event" data-seq="{e["seq"]}" data-kind="{escape(e["kind"])}" data-column="{escape(str(s.column))}" '
            f'data-lane="{escape(s.lane)}" data-place="{escape(s.place)}">'
            f"<title>{escape(s.label)} · {escape(s.place)}</title>"
            f'<text class="col" x="{cx}" y="{TOP - 10}" text-anchor="middle">{i + 1}. {escape(str(s.column))}</text>'
            f'<rect class="{" ".join(classes)}" x="{x + 7}" y="{y + 8}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text class="title" x="{cx}" y="{y + 24}" text-anchor="middle">{escape(title)}</text>'
            f'<text class="{note_class}{" small" if len(s.note) > 17 else ""}" x="{cx}" y="{y + 37}" '
            f'text-anchor="middle">{escape(_fit(s.note, 21))}</text>'
            f'<text class="place" x="{cx}" y="{y + 49}" text-anchor="middle">{escape(place)}</text></g>')


def _gap(m: Mark, x: float, y: float, i: int) -> str:
    cx = x + COL_W / 2
    return (f'<g class="missing" data-column="{escape(str(m.column))}" data-rule="{escape(m.rule)}">'
            f"<title>{escape(m.column or '')} missing: {escape(m.finding.message)}</title>"
            f'<text class="col" x="{cx}" y="{TOP - 10}" text-anchor="middle">{i + 1}. {escape(str(m.column))}</text>'
            f'<rect class="gap" x="{x + 7}" y="{y + 8}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text class="gap-text" x="{cx}" y="{y + 28}" text-anchor="middle">∅ {escape(str(m.column))}</text>'
            f'<text class="gap-text" x="{cx}" y="{y + 44}" text-anchor="middle">({escape(m.rule)})</text></g>')


def _place(file: str | None, line: int | None, script: str | None) -> str:
    """Under a box: the line in the traced script, or the file's name and line elsewhere."""
    if not file:
        return ""
    return f"line {line}" if file == script else _fit(f"{file.rsplit('/', 1)[-1]}:{line}", 20)


def _fit(text: str, n: int) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


def _scaler_chart(tl: Timeline, sk: str) -> str:
    """The scale factor at every update (log scale), skipped steps in amber."""
    points = tl.updates(sk)
    if not points:
        return ""
    values = [p[1].event["data"].get("scale_after") for p in points]
    logs = [math.log2(v) for v in values if isinstance(v, (int, float)) and v > 0]
    before = points[0][1].event["data"].get("scale_before")
    skipped = sum(1 for c, _ in points if c.skipped)
    text = (f"<h2>{escape(tl.describe(sk))}</h2><p>scale {escape(scale_text(before))} → "
            f"{escape(scale_text(values[-1]))} over {len(points)} update(s); "
            f"{skipped} step(s) skipped for inf/NaN gradients (amber: the update after a skipped step)</p>")
    if not logs:
        return text
    lo, hi = min(logs), max(logs)
    span = (hi - lo) or 1.0
    w, h, pad = max(240, 28 * len(points) + 80), 110 if hi > lo else 56, 60
    step = (w - pad - 20) / max(len(points) - 1, 1)
    coords, dots = [], []
    for n, ((c, s), v) in enumerate(zip(points, values)):
        if not isinstance(v, (int, float)) or v <= 0:
            continue
        x = pad + n * step
        y = 15 + (1 - (math.log2(v) - lo) / span) * (h - 40)
        coords.append(f"{x:.1f},{y:.1f}")
        dots.append(f'<circle class="dot{" skipped" if c.skipped else ""}" cx="{x:.1f}" cy="{y:.1f}" r="4">'
                    f"<title>cycle {c.index}: {escape(s.label)}</title></circle>")
    return (text + f'<svg class="scale-chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="loss scale per update">'
            f'<text class="col" x="4" y="19">{escape(scale_text(2 ** hi))}</text>'
            + (f'<text class="col" x="4" y="{h - 21}">{escape(scale_text(2 ** lo))}</text>' if hi > lo else "") +
            f'<polyline class="spark" points="{" ".join(coords)}"/>{"".join(dots)}'
            f'<text class="col" x="{pad}" y="{h - 4}">update 1</text>'
            f'<text class="col" x="{w - 20}" y="{h - 4}" text-anchor="end">update {len(points)}</text></svg>')
