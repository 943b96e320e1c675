"""Two traces compared: the first optimizer cycle whose events differ, and the rules whose verdict changed.

A cycle's events are compared as what happened to which object, in order ("clip optimizer#1",
"scaler.unscale_ scaler#1 optimizer#1"), never by sequence number, line or measured value, so
two runs of the same script compare equal and an edited script shows only what it changed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from fxcheck import events as ev, graph, rules
from fxcheck.rules import Check, Finding


def signature(e: dict[str, Any]) -> str:
    """An event as compared: its kind and the objects it is about."""
    data = e["data"]
    objects = [e["obj"]] if e["obj"] else []
    targets = [data["optimizer"]] if isinstance(data.get("optimizer"), str) else list(data.get("optimizers") or ())
    objects += [t for t in targets if t not in objects]
    text = " ".join([e["kind"], *objects])
    if e["kind"] == ev.SCALER_UNSCALE and data.get("internal"):
        text += " (inside scaler.step)"
    return text


@dataclass
class EventChange:
    """An event present in one trace's cycle and not at that place in the other's."""

    side: str  # "-" only in the first trace, "+" only in the second
    event: dict[str, Any]


@dataclass
class CycleDiff:
    """The first cycle of an optimizer whose event sequence differs between the traces."""

    optimizer: str | None  # None: no optimizer stepped in both traces, the whole runs are compared
    index: int  # 1-based cycle number (the step it ends with)
    first: graph.Cycle | None  # None: the first trace has no such cycle
    second: graph.Cycle | None
    changes: list[EventChange]
    # the aligned sequence, in order: ("=", event of the first trace, the same event in the second)
    # or a change ("-" or "+", the event, None)
    aligned: list[tuple[str, dict[str, Any], dict[str, Any] | None]]
    differing_cycles: int  # how many of this optimizer's cycles differ in all
    cycles: tuple[int, int]  # the optimizer's cycle counts in the two traces

    @property
    def position(self) -> float:
        """Where the first trace's events begin to differ (to pick the earliest across optimizers)."""
        last = -1.0
        for side, e, _ in self.aligned:
            if side == "-":
                return e["seq"]
            if side == "+":
                return last + 0.5
            last = e["seq"]
        return float("inf")


@dataclass
class StatusChange:
    """A rule whose verdict differs, with the findings that appeared or disappeared."""

    rule: rules.Rule
    before: str
    after: str
    gone: list[Finding] = field(default_factory=list)
    new: list[Finding] = field(default_factory=list)


@dataclass
class TraceDiff:
    first_cycle: CycleDiff | None
    optimizers_only_first: list[str]
    optimizers_only_second: list[str]
    status_changes: list[StatusChange]
    findings_changes: list[StatusChange]  # same verdict, different findings

    @property
    def sequences_equal(self) -> bool:
        return self.first_cycle is None and not self.optimizers_only_first and not self.optimizers_only_second


def compare(a: nx.DiGraph, b: nx.DiGraph) -> TraceDiff:
    opts_a, opts_b = graph.stepped_optimizers(a), graph.stepped_optimizers(b)
    common = [opt for opt in opts_a if opt in opts_b]
    if common:  # each optimizer's cycles cover the whole run
        firsts = [d for d in (_first_differing_cycle(a, b, opt) for opt in common) if d is not None]
    else:
        firsts = [d for d in [_whole_runs(a, b)] if d is not None]
    return TraceDiff(
        first_cycle=min(firsts, key=lambda d: d.position, default=None),
        optimizers_only_first=[o for o in opts_a if o not in opts_b],
        optimizers_only_second=[o for o in opts_b if o not in opts_a],
        **_verdicts(rules.run_all(a), rules.run_all(b)),
    )


def _first_differing_cycle(a: nx.DiGraph, b: nx.DiGraph, opt: str) -> CycleDiff | None:
    cycles_a, cycles_b = graph.cycles(a, opt), graph.cycles(b, opt)
    first: CycleDiff | None = None
    differing = 0
    for i in range(max(len(cycles_a), len(cycles_b))):
        ca = cycles_a[i] if i < len(cycles_a) else None
        cb = cycles_b[i] if i < len(cycles_b) else None
        seq_a = [signature(e) for e in ca.events] if ca else []
        seq_b = [signature(e) for e in cb.events] if cb else []
        if seq_a == seq_b:
            continue
        differing += 1
        if first is None:
            aligned = _align(ca.events if ca else [], cb.events if cb else [], seq_a, seq_b)
            changes = [EventChange(side, e) for side, e, _ in aligned if side != "="]
            first = CycleDiff(opt, i + 1, ca, cb, changes, aligned, 0, (len(cycles_a), len(cycles_b)))
    if first is not None:
        first.differing_cycles = differing
    return first


def _whole_runs(a: nx.DiGraph, b: nx.DiGraph) -> CycleDiff | None:
    events_a, events_b = graph.events(a), graph.events(b)
    seq_a, seq_b = [signature(e) for e in events_a], [signature(e) for e in events_b]
    if seq_a == seq_b:
        return None
    aligned = _align(events_a, events_b, seq_a, seq_b)
    changes = [EventChange(side, e) for side, e, _ in aligned if side != "="]
    return CycleDiff(None, 1, graph.Cycle("", 1, events_a, None), graph.Cycle("", 1, events_b, None), changes,
                     aligned, 1, (1, 1))


def _align(events_a: list[dict[str, Any]], events_b: list[dict[str, Any]], seq_a: list[str],
           seq_b: list[str]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    out: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    matcher = difflib.SequenceMatcher(a=seq_a, b=seq_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [("=", ea, eb) for ea, eb in zip(events_a[i1:i2], events_b[j1:j2])]
            continue
        out += [("-", e, None) for e in events_a[i1:i2]]
        out += [("+", e, None) for e in events_b[j1:j2]]
    return out


def _verdicts(checks_a: list[Check], checks_b: list[Check]) -> dict[str, list[StatusChange]]:
    by_id = {c.rule.id: c for c in checks_b}
    status, findings = [], []
    for ca in checks_a:
        cb = by_id.get(ca.rule.id)
        if cb is None:
            continue
        keys_a, keys_b = {_key(f) for f in ca.findings}, {_key(f) for f in cb.findings}
        change = StatusChange(ca.rule, ca.status, cb.status,
                              gone=[f for f in ca.findings if _key(f) not in keys_b],
                              new=[f for f in cb.findings if _key(f) not in keys_a])
        if ca.status != cb.status:
            status.append(change)
        elif change.gone or change.new:
            findings.append(change)
    return {"status_changes": status, "findings_changes": findings}


def _key(f: Finding) -> tuple[Any, ...]:
    """A finding's identity across runs: its place (counts in the message may differ)."""
    return (f.rule, f.file, f.line)
