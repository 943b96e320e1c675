"""Reporters: one module per format. Only reporters write output."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from fxcheck.graph import observed
from fxcheck.rules import FAIL, Check, Finding


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
