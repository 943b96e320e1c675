"""The `fxcheck` command line: trace, check, rules, explain.

Exit codes: 0 no error findings; 1 error findings; 2 bad input (missing or non-Python script,
syntax error, bad option, unreadable trace); 3 the script raised before the run was complete
(its traceback is shown and the partial report and trace are still written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from fxcheck import __version__, graph, rules
from fxcheck.capture import Limits
from fxcheck.report import Report, console as console_report, json_report

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_SCRIPT_ERROR = 0, 1, 2, 3

app = typer.Typer(
    name="fxcheck",
    help="Verify a PyTorch training loop by running it: every check passed or failed, with evidence.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err.print(f"[bold red]fxcheck: error:[/] {message}")
    return typer.Exit(code)


def _finish(report: Report, json_path: Optional[Path], quiet: bool) -> int:
    if json_path is not None:
        json_report.write(report, json_path)
    if not quiet:
        console_report.render(report, out)
    return EXIT_FINDINGS if report.count("error") else EXIT_OK


def _writable(path: Optional[Path], option: str) -> None:
    if path is not None and not path.parent.exists():
        raise _fail(f"{option}: folder does not exist: {path.parent}")


@app.command()
def trace(
    script: Annotated[str, typer.Argument(help="The training script, run as `python SCRIPT SCRIPT_ARGS` would.")],
    script_args: Annotated[Optional[list[str]], typer.Argument(help="Arguments for the script (after --).")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Training batches per epoch (optimizer steps for loops without a DataLoader).")] = 10,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs to observe; the run stops when epoch E+1 would begin.")] = 2,
    val_steps: Annotated[int, typer.Option(min=1, help="Batches per evaluation loader pass.")] = 2,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the JSON report here.")] = None,
    save: Annotated[Optional[Path], typer.Option(help="Save the trace (JSON) for `fxcheck check`.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console report.")] = False,
) -> None:
    """Run SCRIPT under capture for a few steps and epochs, then check the rules."""
    from fxcheck import runner  # imports torch: keep `fxcheck rules` and `--help` fast

    _writable(json_path, "--json")
    _writable(save, "--save")
    try:
        outcome = runner.run(script, list(script_args or []), Limits(steps, epochs, val_steps))
    except runner.BadInput as exc:
        raise _fail(str(exc)) from None
    sys.stdout.flush()
    if outcome.user_traceback:
        err.print(outcome.user_traceback, end="", markup=False)
    elif outcome.status == "crashed":
        err.print(f"fxcheck: {outcome.reason}", markup=False)
    if save is not None:
        graph.save(outcome.trace, save)
    g = graph.build(outcome.trace)
    code = _finish(Report(g, rules.run_all(g)), json_path, quiet)
    raise typer.Exit(EXIT_SCRIPT_ERROR if outcome.status == "crashed" else code)


@app.command()
def check(
    trace_file: Annotated[Path, typer.Argument(metavar="TRACE", help="A trace saved by `fxcheck trace --save`.")],
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the JSON report here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console report.")] = False,
) -> None:
    """Re-run the rules on a saved trace (no code is executed)."""
    _writable(json_path, "--json")
    try:
        saved = graph.load(trace_file)
    except graph.TraceFormatError as exc:
        raise _fail(str(exc)) from None
    g = graph.build(saved)
    raise typer.Exit(_finish(Report(g, rules.run_all(g)), json_path, quiet))


@app.command("rules")
def list_rules() -> None:
    """List the rule catalog."""
    table = Table(title="fxcheck rules", title_justify="left")
    for col in ("ID", "Name", "Severity"):
        table.add_column(col, no_wrap=True)
    table.add_column("Flags", overflow="fold")
    for r in rules.all_rules():
        table.add_row(r.id, r.name, r.severity, r.summary)
    out.print(table)


@app.command()
def explain(rule_id: Annotated[str, typer.Argument(metavar="RULE", help="A rule ID, e.g. FX104.")]) -> None:
    """Print one rule's documentation."""
    r = rules.get(rule_id)
    if r is None:
        known = ", ".join(x.id for x in rules.all_rules())
        raise _fail(f"unknown rule {rule_id!r} (known: {known})")
    out.print(Markdown(rule_markdown(r)))


def rule_markdown(r: rules.Rule) -> str:
    return (
        f"# {r.id} {r.name} ({r.severity})\n\n{r.summary}.\n\n"
        f"## What it does\n{r.what}\n\n## Why is this bad\n{r.why}\n\n"
        f"## Example\n```python\n{r.example}\n```\n\n## Use instead\n```python\n{r.instead}\n```\n\n"
        f"## Known limits\n{r.limits}\n"
    )


def version_callback(value: bool) -> None:
    if value:
        out.print(f"fxcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Verify a PyTorch training loop by running it."""


def main() -> None:
    app()
