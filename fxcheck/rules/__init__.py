"""The rule registry: every rule is registered once, with its documentation; rules never print."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import networkx as nx

from fxcheck.graph import gc_paused, loop_model

SEVERITIES = ("error", "warning", "info")
PASS, FAIL, NA = "pass", "fail", "n/a"

CATEGORIES = {
    "FX1": "Order of operations within a cycle",
    "FX2": "State that must persist across batches and epochs",
    "FX3": "Model modes and normalization state",
    "FX4": "Gradient accumulation and loss reporting",
    "FX5": "Distributed",
    "FX6": "Checkpoints",
}


def when(epoch: Any, step: Any) -> str:
    """"epoch 2, step 11", leaving out what is not known."""
    return ", ".join(f"{name} {value}" for name, value in (("epoch", epoch), ("step", step)) if value is not None)


@dataclass(frozen=True)
class Finding:
    """One distinct occurrence of a rule's pattern, located in the user's script."""

    rule: str
    name: str
    severity: str
    message: str
    file: str | None
    line: int | None
    epoch: int | None
    step: int | None
    hint: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, "severity": self.severity, "message": self.message,
                "file": self.file, "line": self.line, "epoch": self.epoch, "step": self.step, "hint": self.hint}


@dataclass
class Check:
    """A rule's verdict on one run: pass (with evidence), fail (with findings) or n/a."""

    rule: "Rule"
    status: str
    evidence: str
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule.id, "name": self.rule.name, "severity": self.rule.severity,
                "status": self.status, "evidence": self.evidence}


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str
    summary: str  # one line: what the rule flags
    what: str  # What it does
    why: str  # Why is this bad
    example: str  # code showing the pattern
    instead: str  # Use instead
    limits: str  # Known limits
    hint: str  # the fix, in one line, shown under each finding
    check: Callable[[nx.DiGraph, "Rule"], Check]

    @property
    def category(self) -> str:
        return CATEGORIES.get(self.id[:3], "Other")

    def finding(self, message: str, at: dict[str, Any] | None, step: int | None = None) -> Finding:
        """A finding located at an event of the graph."""
        at = at or {}
        return Finding(self.id, self.name, self.severity, message, at.get("file"), at.get("line"),
                       at.get("epoch"), step if step is not None else at.get("step"), self.hint)

    def result(self, findings: list[Finding], evidence: str, applicable: bool = True) -> Check:
        if findings:
            return Check(self, FAIL, evidence, findings)
        return Check(self, PASS if applicable else NA, evidence)

    def markdown(self) -> str:
        """The rule's documentation as Markdown (`fxcheck explain`, SARIF's help.markdown)."""
        return (
            f"# {self.id} {self.name} ({self.severity})\n\n{self.summary}.\n\n"
            f"## What it does\n{self.what}\n\n## Why is this bad\n{self.why}\n\n"
            f"## Example\n```python\n{self.example}\n```\n\n## Use instead\n```python\n{self.instead}\n```\n\n"
            f"## Known limits\n{self.limits}\n"
        )

    def text(self) -> str:
        """The same documentation as plain text (SARIF's help.text), code indented."""

        def code(src: str) -> str:
            return "\n".join("    " + line for line in src.splitlines())

        return (
            f"{self.id} {self.name} ({self.severity}): {self.summary}.\n\n"
            f"What it does:\n{self.what}\n\nWhy is this bad:\n{self.why}\n\n"
            f"Example:\n{code(self.example)}\n\nUse instead:\n{code(self.instead)}\n\n"
            f"Known limits:\n{self.limits}\n"
        )


class Occurrences:
    """Collects a rule's hits and merges those at the same line into one finding."""

    def __init__(self, r: Rule) -> None:
        self.rule = r
        self._by_line: dict[tuple[Any, Any], list[tuple[str, dict[str, Any], int | None]]] = {}

    def add(self, message: str, at: dict[str, Any] | None, step: int | None = None) -> None:
        at = at or {}
        self._by_line.setdefault((at.get("file"), at.get("line")), []).append((message, at, step))

    def findings(self, checked: str | None = None) -> list[Finding]:
        """One finding per line. `checked` says what the rule looked at when that is not every such
        event of the run ("of the 4 backward passes walked"), so a count reads against the right total."""
        out = []
        for hits in self._by_line.values():
            message, at, step = hits[0]
            if len(hits) > 1 or checked:
                first = when(at.get("epoch"), step or at.get("step"))
                seen = (f"seen {len(hits)} times" if len(hits) > 1 else "seen once") + (f" {checked}" if checked else "")
                message += f" ({seen}" + (f"; first at {first})" if first else ")")
            out.append(self.rule.finding(message, at, step))
        return out


REGISTRY: dict[str, Rule] = {}


def rule(*, id: str, name: str, severity: str, summary: str, what: str, why: str, example: str,
         instead: str, limits: str, hint: str) -> Callable[[Callable], Callable]:
    """Register a check function as a rule; IDs and names must be unique."""
    if severity not in SEVERITIES:
        raise ValueError(f"{id}: unknown severity {severity!r}")

    def register(fn: Callable[[nx.DiGraph, Rule], Check]) -> Callable:
        if id in REGISTRY or any(r.name == name for r in REGISTRY.values()):
            raise ValueError(f"rule {id} {name} registered twice")
        REGISTRY[id] = Rule(id, name, severity, summary, what.strip(), why.strip(), example.strip("\n"),
                            instead.strip("\n"), limits.strip(), hint, fn)
        return fn

    return register


def all_rules() -> list[Rule]:
    _load_families()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def get(rule_id: str) -> Rule | None:
    _load_families()
    return REGISTRY.get(rule_id.upper())


NOTHING_TO_CHECK = "no optimizer step ran: nothing to check"


def run_all(g: nx.DiGraph) -> list[Check]:
    """Every rule's verdict. Without an optimizer step no pass is earned: those checks are n/a."""
    with gc_paused():  # the rules' indexes of a long trace are as many small objects as its events
        checks = [r.check(g, r) for r in all_rules()]
    if not loop_model(g).steps:
        checks = [Check(c.rule, NA, NOTHING_TO_CHECK) if c.status == PASS else c for c in checks]
    return checks


def _load_families() -> None:
    from fxcheck.rules import accumulation, checkpoints, distributed, modes, ordering, persistence  # noqa: F401  (each registers its family)
