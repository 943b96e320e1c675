"""The `fxcheck` command line: trace, check, diff, show, rules, explain.

Exit codes: 0 no error findings; 1 error findings; 2 bad input (missing or non-Python script or
module, syntax error, bad option, unreadable or damaged trace, an output that cannot be written);
3 the script raised (or exited with a non-zero status) before the run was complete
(its traceback is shown and the partial report and trace are still written); 4 nothing to check:
the run observed no optimizer step, so no rule could judge anything; 5 the --timeout stopped the run
(and there is no error finding); 130 / 143 SIGINT / SIGTERM stopped it (report and trace still
written). `diff` exits 1 when a rule's verdict differs between the two traces.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fxcheck import __version__, distributed, graph, rules
from fxcheck.report import Report, console as console_report, json_report, sarif as sarif_report

if TYPE_CHECKING:
    import networkx as nx

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_SCRIPT_ERROR, EXIT_NOTHING, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5

class _Group(typer.core.TyperGroup):
    """`fxcheck nosuchcommand` or an unknown option before the command: one line and exit 2, as all bad input is."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return _one_line_usage(lambda: super(_Group, self).parse_args(ctx, args), _COMMANDS)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        return _one_line_usage(lambda: super(_Group, self).resolve_command(ctx, args), _COMMANDS)


_COMMANDS = "`fxcheck --help` lists the commands"


def _one_line_usage(parse: Callable[[], Any], where_help_is: str) -> Any:
    """Click's usage errors (exit 2, with a usage block) as one line naming where the help is; the help
    itself (asked for, or shown for no arguments) is left as it is."""
    try:
        return parse()
    except Exception as exc:
        if getattr(exc, "exit_code", None) != EXIT_BAD_INPUT or not hasattr(exc, "format_message") or \
                type(exc).__name__ == "NoArgsIsHelpError":
            raise
        raise _fail(f"{exc.format_message()} ({where_help_is})") from None


app = typer.Typer(
    cls=_Group,
    name="fxcheck",
    help="Verify a PyTorch training loop by running it: every check passed or failed, with evidence.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _Command(typer.core.TyperCommand):
    """Help and usage as a user reads them: `TRACE`, not typer's `{TRACE}`; an argument's metavar without
    a type label after it (`SCRIPT`, not `SCRIPT <str>`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, typer.core.TyperArgument):
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]

    def get_usage(self, ctx: typer.Context) -> str:
        return re.sub(r"\{([A-Z_]+)\}", r"\1", super().get_usage(ctx))

    def get_help(self, ctx: typer.Context) -> str:
        return re.sub(r"\{([A-Z_]+)\}", r"\1", super().get_help(ctx))

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        """A bad option value or a missing argument is one line and exit 2, as all bad input is."""
        return _one_line_usage(lambda: super(_Command, self).parse_args(ctx, args),
                               f"`fxcheck {ctx.info_name} --help` lists the options")


def _terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _width(stream: object) -> int | None:
    """Piped output (CI logs) is laid out wide enough that no table cuts a `file:line` (and its lines of
    text are never wrapped: soft_wrap below)."""
    return None if _terminal(stream) or os.environ.get("COLUMNS") else 240


out = Console(highlight=False, width=_width(sys.stdout), soft_wrap=not _terminal(sys.stdout))
err = Console(stderr=True, highlight=False, width=_width(sys.stderr), soft_wrap=not _terminal(sys.stderr))


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err.print(f"[bold red]fxcheck: error:[/] {escape(_one_line(message))}", soft_wrap=True)
    return typer.Exit(code)


def _one_line(text: str) -> str:
    """One line, whatever its length: a character that is not printable (a newline, or a separator from
    a damaged file's names) is shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


_UNWRITTEN: list[str] = []  # outputs that could not be written at the end of this command


@contextlib.contextmanager
def _writing(flag: str, path: Path) -> Iterator[None]:
    """Writing one output once the run is over: a failure (its folder removed during the run, a full disk)
    is one line, the other outputs and the report are still written, and the command exits 2."""
    try:
        yield
    except OSError as exc:
        _UNWRITTEN.append(flag)
        err.print(f"[bold red]fxcheck: error:[/] "
                  f"{escape(_one_line(f'could not write {flag} {path}: {exc.strerror or exc}'))}", soft_wrap=True)


def _written(code: int) -> int:
    """The command's exit code: 2 when an output could not be written."""
    return EXIT_BAD_INPUT if _UNWRITTEN else code


def _exit_code(report: Report, crashed: bool) -> int:
    if crashed:
        return EXIT_SCRIPT_ERROR
    if report.nothing_observed:
        return EXIT_NOTHING
    return EXIT_FINDINGS if report.count("error") else EXIT_OK


def _finish(report: Report, json_path: Optional[Path], quiet: bool, sarif_path: Optional[Path] = None,
            crashed: bool = False) -> int:
    code = _exit_code(report, crashed)
    shown = None if quiet else _rendered(console_report.render, report)
    if json_path is not None:
        with _writing("--json", json_path):
            json_report.write(report, json_path)
    if sarif_path is not None:
        with _writing("--sarif", sarif_path):
            sarif_report.write(report, sarif_path, exit_code=code, execution_successful=not crashed)
    _show(shown)
    return _written(code)


def _rendered(render: Callable[..., None], *args: Any) -> str:
    """What `render(*args, out)` prints, rendered whole before any of it is shown: a trace that turns out
    damaged halfway through is one line of error, not half a report and then the error."""
    with out.capture() as captured:
        render(*args, out)
    return captured.get()


def _show(rendered: Optional[str]) -> None:
    if rendered:
        sys.stdout.write(rendered)
        sys.stdout.flush()


def _finish_rank(rank: "distributed.Rank", trace: "graph.Trace", json_path: Optional[Path], quiet: bool,
                 sarif_path: Optional[Path], save: Optional[Path]) -> int:
    """One rank of a launched run. Ranks N > 0 hand their trace to rank 0 and exit 0 (a failing rank
    would make the launcher stop the others); rank 0 writes the one report and trace of all ranks."""
    if rank.rank != 0:
        how = distributed.hand_over(rank, graph.dumps(trace))
        err.print(f"fxcheck: rank {rank.rank} of {rank.world_size}: trace handed to rank 0 ({how})", markup=False)
        return EXIT_OK
    traces: dict[int, "graph.Trace | None"] = {0: trace}
    for n, text in distributed.gather(rank).items():
        traces[n] = _handed_over(n, text)
    return distributed.tell_launcher(_finish_ranks(graph.Ranked(traces), json_path, quiet, sarif_path, save))


def _handed_over(rank: int, text: str | None) -> "graph.Trace | None":
    """A rank's trace from the text it handed over (None: it handed none over, or not a readable one)."""
    if text is None:
        return None
    try:
        loaded = graph.loads(text, f"rank {rank}'s trace")
    except graph.TraceFormatError as exc:
        err.print(f"fxcheck: {exc}", markup=False)
        return None
    return loaded if isinstance(loaded, graph.Trace) else None


def _rank_graphs(ranked: "graph.Ranked") -> "dict[int, nx.DiGraph]":
    """Every present rank's event graph, each linked to the others' (FX504 and FX505 compare them)."""
    from fxcheck.rules.distributed import link_ranks

    graphs = {n: graph.build(t) for n, t in sorted(ranked.ranks.items()) if t is not None}
    link_ranks(graphs)
    return graphs


def _finish_ranks(ranked: "graph.Ranked", json_path: Optional[Path], quiet: bool, sarif_path: Optional[Path],
                  save: Optional[Path] = None) -> int:
    """The one report of a run's ranks: the console and SARIF show the checks of all ranks together and a
    Ranks section, the JSON has every rank, the saved trace every rank's events, and the exit code is the
    worst of them (a missing rank counts as crashed)."""
    if save is not None:
        with _writing("--save", save):
            graph.save(ranked, save)
    reports = {n: Report(g, rules.run_all(g)) for n, g in _rank_graphs(ranked).items()}
    codes = {n: _exit_code(reports[n], ranked.ranks[n].meta.get("status") == "crashed") if n in reports
             else EXIT_SCRIPT_ERROR for n in ranked.ranks}
    merged = distributed.merge({n: dict(json_report.as_dict(reports[n]), exit=codes[n]) if n in reports else None
                                for n in ranked.ranks}, len(ranked.ranks))
    worst = _worst(list(codes.values()))
    if json_path is not None:
        with _writing("--json", json_path):
            json_path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    together = Report(next(iter(reports.values())).graph, distributed.combined(reports)) \
        if reports else None
    if sarif_path is not None and together is not None:
        with _writing("--sarif", sarif_path):
            sarif_report.write(together, sarif_path, exit_code=worst,
                               execution_successful=worst != EXIT_SCRIPT_ERROR)
    if not quiet:
        if together is not None:
            _show(_rendered(console_report.render, together))
        _show(_rendered(console_report.render_ranks, merged))
    return _written(worst)


def _worst(codes: list[int]) -> int:
    """Crashes first, then error findings, then a run that observed nothing, then clean."""
    for code in (EXIT_SCRIPT_ERROR, EXIT_FINDINGS, EXIT_NOTHING):
        if code in codes:
            return code
    return EXIT_OK


def _progress_line(script: str, quiet: bool):
    """The transient progress line, only when stderr is a terminal and a console report is wanted."""
    if quiet or err.is_dumb_terminal:
        return None
    try:
        if not sys.stderr.isatty():
            return None
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stderr without a descriptor
        return None
    from fxcheck.report.progress import ProgressLine

    sys.stderr.flush()
    return ProgressLine(fd, sys.stderr.encoding or "utf-8", Path(script).name,
                        color=err.color_system is not None and not err.no_color)


def _ours(path: Path) -> bool:
    """Is this existing file one fxcheck may replace: empty, or a report, SARIF log or trace it wrote?"""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return not head.strip() or any(mark in head for mark in (b'"fxcheck":', b'"fxcheck-trace"', b"sarif-2.1.0",
                                                             b"<title>fxcheck timeline"))


def _problem(target: Path, inputs: list[Path]) -> str | None:
    if target.is_dir():
        return "is a folder"
    if target in inputs:
        return "is an input of this command; not overwriting it"
    if target.exists() and not _ours(target):
        return "exists and is not a file fxcheck wrote; not overwriting it"
    parent = target.parent
    if not parent.exists():
        return f"folder does not exist: {parent}"
    if not parent.is_dir():
        return f"not a folder: {parent}"
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        return f"cannot write in {parent} ({exc.strerror or exc})"
    return None


def _outputs(inputs: list[str], **options: Optional[Path]) -> dict[str, Optional[Path]]:
    """Every output path resolved against the directory fxcheck starts in (a script that changes directory
    does not move them) and checked before anything runs: exit 2 with one line otherwise."""
    sources = [Path(p).resolve() for p in inputs]
    resolved: dict[str, Optional[Path]] = {}
    for name, path in options.items():
        if path is None:
            resolved[name] = None
            continue
        flag = "--" + name.replace("_", "-")
        target = Path(os.path.abspath(path.expanduser()))
        problem = _problem(target, sources)
        if problem is None and target in resolved.values():
            problem = "is also another output of this command"
        if problem:
            raise _fail(f"{flag} {path}: {problem}")
        resolved[name] = target
    return resolved


@app.command(cls=_Command)
def trace(
    script: Annotated[Optional[str], typer.Argument(
        metavar="SCRIPT", show_default=False,
        help="The training script, run as `python SCRIPT SCRIPT_ARGS` would (or use -m MODULE).")] = None,
    script_args: Annotated[Optional[list[str]], typer.Argument(
        metavar="SCRIPT_ARGS", show_default=False, help="Arguments for the script (after --).")] = None,
    module: Annotated[Optional[str], typer.Option(
        "-m", "--module", metavar="MODULE", help="Run a module as `python -m MODULE SCRIPT_ARGS` would "
                                                 "(found from the current directory), instead of SCRIPT.")] = None,
    steps: Annotated[int, typer.Option(min=1, metavar="N", help="Training batches per epoch (optimizer steps for loops without a DataLoader).")] = 10,
    epochs: Annotated[int, typer.Option(min=1, metavar="E", help="Epochs to observe; the run stops when epoch E+1 would begin.")] = 2,
    val_steps: Annotated[int, typer.Option(min=1, metavar="N", help="Batches per evaluation loader pass.")] = 2,
    no_graph: Annotated[bool, typer.Option("--no-graph", help="Skip the TorchDynamo capture of the model's graph (hooks only).")] = False,
    json_path: Annotated[Optional[Path], typer.Option("--json", metavar="PATH", help="Write the JSON report here.")] = None,
    sarif_path: Annotated[Optional[Path], typer.Option("--sarif", metavar="PATH", help="Write a SARIF 2.1.0 report here (GitHub code scanning).")] = None,
    save: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Save the trace (JSON) for `fxcheck check`.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console report.")] = False,
    timeout: Annotated[Optional[float], typer.Option(
        min=0.001, metavar="SECONDS", help="Stop the script after this much wall-clock time and report what was "
                                           "observed (exit 5 unless there are error findings).")] = None,
    nproc_per_node: Annotated[Optional[int], typer.Option(
        "--nproc-per-node", min=1, metavar="N", help="Start N ranks on this machine through torch.distributed.run "
                                                     "(as torchrun does) and trace every one.")] = None,
) -> None:
    """Run SCRIPT (or -m MODULE) under capture for a few steps and epochs, then check the rules."""
    script_args = list(script_args or [])
    if module is not None:  # as with python -m, every argument after the module is the module's
        script_args = [script, *script_args] if script is not None else script_args
        script = None
    elif script is None:
        raise _fail("give the training script to run (fxcheck trace SCRIPT [SCRIPT_ARGS]...) or -m MODULE")
    try:
        from fxcheck import runner  # imports torch: keep `fxcheck rules` and `--help` fast
        spec = runner.find_module(module) if module is not None else None
    except runner.BadInput as exc:
        raise _fail(str(exc)) from None
    source = spec.origin if spec is not None else script
    outputs = _outputs([source], json=json_path, sarif=sarif_path, save=save)
    json_path, sarif_path, save = outputs["json"], outputs["sarif"], outputs["save"]
    from fxcheck.capture import Limits

    if nproc_per_node is not None and nproc_per_node > 1:
        try:
            runner.compile_script(source)  # bad input is told once, here, not by every rank
        except runner.BadInput as exc:
            raise _fail(str(exc)) from None
        options = [f"--steps={steps}", f"--epochs={epochs}", f"--val-steps={val_steps}", *(["--no-graph"] * no_graph),
                   *(["-q"] * quiet), *([f"--timeout={timeout}"] if timeout is not None else [])]
        for flag, path in (("--json", json_path), ("--sarif", sarif_path), ("--save", save)):
            if path is not None:
                options.append(f"{flag}={path}")
        target = ["-m", module] if module is not None else [script]
        raise typer.Exit(distributed.launch(nproc_per_node, target, options, script_args))
    progress = _progress_line(source, quiet)

    def report(outcome: "runner.RunOutcome") -> int:
        code = judge(outcome)
        if outcome.signal is not None:
            return 128 + outcome.signal  # as a shell reports a process a signal ended: 130, 143
        if outcome.timed_out and code in (EXIT_OK, EXIT_NOTHING):
            return EXIT_TIMEOUT
        return code

    def judge(outcome: "runner.RunOutcome") -> int:
        if progress is not None:
            progress.close()
        sys.stdout.flush()
        if outcome.user_traceback:  # verbatim, as python prints it: never wrapped, styled or cut
            sys.stderr.write(outcome.user_traceback)
            sys.stderr.flush()
        elif outcome.status == "crashed":
            err.print(f"fxcheck: {outcome.reason}", markup=False)
        if outcome.ranks:  # the script spawned its ranks: they are the run
            return _finish_ranks(graph.Ranked({n: _handed_over(n, text) for n, text in sorted(outcome.ranks.items())}),
                                 json_path, quiet, sarif_path, save)
        rank = distributed.current()
        if rank is not None:
            return _finish_rank(rank, outcome.trace, json_path, quiet, sarif_path, save)
        if save is not None:
            with _writing("--save", save):
                graph.save(outcome.trace, save)
        g = graph.build(outcome.trace)  # the script's garbage is collected on the way out (_on_the_way_out)
        return _finish(Report(g, rules.run_all(g)), json_path, quiet, sarif_path, outcome.status == "crashed")

    try:
        limits = Limits(steps, epochs, val_steps, graph=not no_graph, rank=distributed.current() is not None)
        outcome = runner.run(script or "", script_args, limits, on_start=progress.watch if progress else None,
                             on_hard_exit=report, timeout=timeout, module=module)
    except runner.BadInput as exc:
        if progress is not None:
            progress.close()
        raise _fail(str(exc)) from None
    raise typer.Exit(report(outcome))


def _rank_graph(path: Path, rank: Optional[int]) -> "nx.DiGraph":
    """The event graph of a saved trace, or of one rank of a distributed run's trace (linked to the other
    ranks' graphs, so the cross-rank rules judge it as `check` does)."""
    try:
        saved = graph.load(path)
    except graph.TraceFormatError as exc:
        raise _fail(str(exc)) from None
    if isinstance(saved, graph.Trace):
        if rank not in (None, 0):
            raise _fail(f"--rank {rank}: {path} is the trace of a single process")
        with _reading(path):
            return graph.build(saved)
    with _reading(path):
        graphs = _rank_graphs(saved)
    if not graphs:
        raise _fail(f"{path}: no rank's trace reached rank 0 in that run")
    chosen = rank if rank is not None else min(graphs)
    if chosen not in graphs:
        raise _fail(f"--rank {chosen}: {path} has the traces of ranks {', '.join(map(str, sorted(graphs)))}")
    return graphs[chosen]


@app.command(cls=_Command)
def check(
    trace_file: Annotated[Path, typer.Argument(metavar="TRACE", help="A trace saved by `fxcheck trace --save`.")],
    json_path: Annotated[Optional[Path], typer.Option("--json", metavar="PATH", help="Write the JSON report here.")] = None,
    sarif_path: Annotated[Optional[Path], typer.Option("--sarif", metavar="PATH", help="Write a SARIF 2.1.0 report here (GitHub code scanning).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console report.")] = False,
) -> None:
    """Re-run the rules on a saved trace (no code is executed)."""
    outputs = _outputs([str(trace_file)], json=json_path, sarif=sarif_path)
    json_path, sarif_path = outputs["json"], outputs["sarif"]
    with _judging():
        try:
            saved = graph.load(trace_file)
        except graph.TraceFormatError as exc:
            raise _fail(str(exc)) from None
        with _reading(trace_file):
            if isinstance(saved, graph.Ranked):
                code = _finish_ranks(saved, json_path, quiet, sarif_path)
            else:
                g = graph.build(saved)
                code = _finish(Report(g, rules.run_all(g)), json_path, quiet, sarif_path)
    raise typer.Exit(code)


@contextlib.contextmanager
def _judging() -> Iterator[None]:
    """Reading, building and judging a trace, with one pause of the cycle collector over all of it (see
    graph.gc_paused). What it made is then frozen out of later collections: the command ends here,
    and a long trace's million objects would otherwise be walked once more on the way out."""
    with graph.gc_paused():
        try:
            yield
        finally:
            gc.freeze()


@contextlib.contextmanager
def _reading(*paths: Path) -> Iterator[None]:
    """Judging a loaded trace: values that are not what fxcheck writes (a number where a count belongs, a
    list for a mapping) are a damaged trace, told in one line with exit 2, never a traceback."""
    try:
        yield
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:
        names = " or ".join(map(str, paths))
        raise _fail(f"{names} is a damaged fxcheck trace ({type(exc).__name__} while judging it: "
                    f"{str(exc)[:120]})") from None


@app.command(cls=_Command)
def diff(
    first: Annotated[Path, typer.Argument(metavar="A", help="A trace saved by `fxcheck trace --save`.")],
    second: Annotated[Path, typer.Argument(metavar="B", help="Another saved trace, compared with A.")],
    rank: Annotated[Optional[int], typer.Option(min=0, metavar="N", help="Of traces of distributed runs: compare this rank (default: the first).")] = None,
) -> None:
    """Compare two saved traces cycle by cycle: the first cycle whose events differ, and the rules whose
    verdict changed (exit 1 when one did)."""
    from fxcheck import diff as trace_diff
    from fxcheck.report import diff as diff_report

    with _judging():
        a, b = _rank_graph(first, rank), _rank_graph(second, rank)
        with _reading(first, second):
            result = trace_diff.compare(a, b)
            shown = _rendered(diff_report.render, result, a, b, (str(first), str(second)))
    _show(shown)
    raise typer.Exit(EXIT_FINDINGS if result.status_changes else EXIT_OK)


@app.command(cls=_Command)
def show(
    trace_file: Annotated[Path, typer.Argument(metavar="TRACE", help="A trace saved by `fxcheck trace --save`.")],
    cycle: Annotated[Optional[int], typer.Option(metavar="K", help="Show optimizer cycle K in detail (every event with its file:line).")] = None,
    html_path: Annotated[Optional[Path], typer.Option("--html", metavar="PATH", help="Write the timeline as one self-contained HTML page.")] = None,
    rank: Annotated[Optional[int], typer.Option(min=0, metavar="N", help="Of a distributed run's trace: show this rank (default: the first).")] = None,
) -> None:
    """The AMP timeline of a saved trace: each optimizer cycle in canonical order, findings where they belong,
    the GradScaler's scale factor and skipped steps."""
    from fxcheck.report import html, timeline

    html_path = _outputs([str(trace_file)], html=html_path)["html"]
    with _judging():
        g = _rank_graph(trace_file, rank)
        with _reading(trace_file):
            tl = timeline.build(g, rules.run_all(g))
    if cycle is not None and not 1 <= cycle <= tl.count:
        raise _fail(f"--cycle {cycle}: this trace has cycles 1-{tl.count}" if tl.count
                    else f"--cycle {cycle}: this trace has no optimizer cycle")
    wrote = False
    with _reading(trace_file):
        shown = _rendered(lambda console: timeline.render(tl, console, cycle))
        if html_path is not None:
            with _writing("--html", html_path):
                html.write(tl, html_path, cycle)
                wrote = True
    _show(shown)
    if wrote:
        out.print(f"wrote {html_path}")
    raise typer.Exit(_written(EXIT_OK))


@app.command("rules", cls=_Command)
def list_rules() -> None:
    """List the rule catalog."""
    table = Table(title="fxcheck rules", title_justify="left")
    for col in ("ID", "Name", "Severity"):
        table.add_column(col, no_wrap=True)
    table.add_column("Flags", overflow="fold")
    for r in rules.all_rules():
        table.add_row(r.id, r.name, r.severity, r.summary)
    out.print(table)


@app.command(cls=_Command)
def explain(rule_id: Annotated[str, typer.Argument(metavar="RULE", help="A rule ID, e.g. FX104.")]) -> None:
    """Print one rule's documentation."""
    r = rules.get(rule_id)
    if r is None:
        known = ", ".join(x.id for x in rules.all_rules())
        raise _fail(f"unknown rule {rule_id!r} (known: {known})")
    from rich.markdown import Markdown  # only `explain` renders Markdown: 40 ms of imports kept off a trace

    out.print(Markdown(r.markdown()))


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
    try:
        app()
    finally:
        _on_the_way_out()


def _on_the_way_out() -> None:
    """The process ends after this. Where a script ran, its garbage in reference cycles is collected
    now, once; what is left alive (the script's objects, torch's, the thousands of modules Dynamo
    imports, a long trace's events) is then kept out of the cycle collections Python runs while it
    shuts down, which take over half a second with Dynamo loaded. Reference counting still frees it
    all and every atexit handler still runs."""
    if "fxcheck.capture" in sys.modules:  # the capture ran a script in this process
        gc.collect()
    gc.freeze()
