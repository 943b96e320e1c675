"""Reporters: one module per format. Only reporters write output."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from fxcheck.graph import observed
from fxcheck.rules import FAIL, Check, Finding


# The report's sections: what an audit of a training loop asks, in its order.
SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Order of operations within a cycle", ("FX102", "FX103", "FX104", "FX105", "FX106", "FX107", "FX108", "FX109")),
    ("Resets each batch/cycle", ("FX101",)),
    ("Persists across batches", ("FX202", "FX205")),
    ("Persists across epochs", ("FX201", "FX203", "FX204")),
    ("Resets each epoch", ("FX206", "FX207")),
    ("Model modes and normalization", ("FX301", "FX302", "FX303", "FX304", "FX305")),
    ("Gradient accumulation", ("FX401", "FX402", "FX403")),
    ("Checkpoints", ("FX601",)),
]


def sections(checks: list[Check]) -> list[tuple[str, list[Check]]]:
    """Checks grouped by report section; a rule in no section goes under its catalog category."""
    placed = {rule_id: title for title, ids in SECTIONS for rule_id in ids}
    grouped: dict[str, list[Check]] = {title: [] for title, _ in SECTIONS}
    for c in checks:
        grouped.setdefault(placed.get(c.rule.id, c.rule.category), []).append(c)
    return [(title, cs) for title, cs in grouped.items() if cs]


@dataclass
class Report:
    """Everything a reporter needs: the run's facts and the rules' verdicts."""

    graph: nx.DiGraph
    checks: list[Check]

    @property
    def meta(self) -> dict:
        return self.graph.graph["meta"]

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings]

    @property
    def observed(self) -> dict[str, int]:
        return observed(self.graph)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]
