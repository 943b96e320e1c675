"""Ranks of a distributed run: which one this process is, and how their reports reach rank 0.

Under a launcher (torchrun, `python -m torch.distributed.run`) every rank runs `fxcheck trace` itself
and is captured and cut like a single process; ranks a script starts itself with
`torch.multiprocessing.spawn` are captured by the fxcheck that runs the script (fxcheck.runner), and
hand their traces to it through the folder. Afterwards each rank hands its trace to rank 0
through the launcher's own store (the TCPStore at MASTER_ADDR:MASTER_PORT that the launcher keeps
until every rank has exited; it works across nodes), never through the training's process group, so
a hung collective cannot hang the report. Where that store cannot be reached, a folder in the temp
directory keyed by the run's id is the single-node fallback. Rank 0 waits a bounded time: a rank that
never hands its report over is reported as missing, with what rank 0 knows.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

GATHER_SECONDS = 120.0  # how long rank 0 waits for the other ranks' reports after its own run
_CONNECT_SECONDS = 10.0


@dataclass(frozen=True)
class Rank:
    rank: int
    world_size: int
    run_id: str
    master_addr: str | None
    master_port: int | None


def current() -> Rank | None:
    """This process's rank, when a launcher started it as one of several (RANK, WORLD_SIZE set)."""
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None
    if world < 2 or not 0 <= rank < world:
        return None
    port = os.environ.get("MASTER_PORT")
    run_id = os.environ.get("TORCHELASTIC_RUN_ID") or f"{os.environ.get('MASTER_ADDR')}-{port}"
    return Rank(rank, world, run_id, os.environ.get("MASTER_ADDR"), int(port) if port and port.isdigit() else None)


def _key(r: Rank, rank: int) -> str:
    return f"fxcheck/{r.run_id}/report/{rank}"


def _store(r: Rank) -> Any:
    """The launcher's store, as a client; None where it cannot be reached."""
    if not r.master_addr or not r.master_port:
        return None
    try:
        from torch.distributed import TCPStore

        return TCPStore(r.master_addr, r.master_port, is_master=False,
                        timeout=timedelta(seconds=_CONNECT_SECONDS), wait_for_workers=False)
    except Exception:  # no store there (a launcher without one): the file fallback
        return None


def _folder(r: Rank) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in r.run_id)
    return Path(tempfile.gettempdir()) / f"fxcheck-ranks-{safe}"


def hand_over(r: Rank, payload: str) -> str:
    """Give this rank's trace (its JSON text) to rank 0; returns how it went ("store" or the folder)."""
    store = _store(r)
    if store is not None:
        try:
            store.set(_key(r, r.rank), payload)
            return "store"
        except Exception:
            pass
    folder = _folder(r)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"rank{r.rank}.json.part"
    part.write_text(payload, encoding="utf-8")
    part.replace(folder / f"rank{r.rank}.json")  # whole or absent: never read half-written
    return str(folder)


def gather(r: Rank, seconds: float = GATHER_SECONDS, ranks: range | None = None) -> dict[int, str | None]:
    """On rank 0: the traces of the other ranks (or of `ranks`), None for a rank that handed none over
    in time."""
    store = _store(r)
    folder = _folder(r)
    got: dict[int, str | None] = {}
    deadline = time.monotonic() + seconds
    pending = set(ranks if ranks is not None else range(1, r.world_size))
    while pending:
        for rank in sorted(pending):
            payload = None
            if store is not None:
                try:
                    if store.check([_key(r, rank)]):
                        payload = store.get(_key(r, rank)).decode("utf-8")
                except Exception:
                    store = None
            path = folder / f"rank{rank}.json"
            if payload is None and path.exists():
                payload = path.read_text(encoding="utf-8")
                path.unlink(missing_ok=True)
            if payload is not None:
                got[rank] = payload
                pending.discard(rank)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for rank in pending:
        got[rank] = None
    try:
        folder.rmdir()
    except OSError:
        pass
    return got


def merge(reports: dict[int, dict[str, Any] | None], world: int) -> dict[str, Any]:
    """One JSON report of every rank (each rank's JSON report with its `exit`; None for a missing one):
    the first rank's report, with `observed.ranks`, each rank's run and findings under `ranks`, and
    `findings` over all ranks (one per rule and line, with the ranks it was seen on)."""
    own = next((rep for _, rep in sorted(reports.items()) if rep is not None), {})
    merged = dict(own)
    merged["observed"] = dict(own.get("observed") or {}, ranks=world)
    merged["ranks"] = []
    findings: dict[tuple, dict[str, Any]] = {}
    for rank in range(world):
        rep = reports.get(rank)
        if rep is None:
            merged["ranks"].append({"rank": rank, "status": "missing",
                                    "reason": "no report reached rank 0 (the rank was killed, hung, or never ran "
                                              "fxcheck)"})
            continue
        merged["ranks"].append({"rank": rank, **(rep.get("run") or {}), "exit": rep.get("exit"),
                                "observed": rep.get("observed"), "findings": rep.get("findings") or []})
        for f in rep.get("findings") or []:
            key = (f.get("rule"), f.get("file"), f.get("line"))
            if key in findings:
                findings[key]["ranks"].append(rank)
            else:
                findings[key] = dict(f, rank=rank, ranks=[rank])
    merged["findings"] = list(findings.values())
    return merged


def combined(reports: dict[int, Any]) -> list[Any]:
    """The checks of all ranks together (each rank's Report, by rank): a rule fails when it failed on any rank
    (its findings once per line), else passes when it passed on any rank, else is n/a."""
    from fxcheck.rules import FAIL, PASS, Check

    out = []
    numbers = list(reports)
    for checks in zip(*(r.checks for r in reports.values())):
        failed = [c for c in checks if c.status == FAIL]
        if failed:
            findings, seen = [], set()
            for f in (f for c in failed for f in c.findings):
                if (f.file, f.line, f.message) not in seen:
                    seen.add((f.file, f.line, f.message))
                    findings.append(f)
            ranks = "all ranks" if len(failed) == len(checks) else "rank(s) " + ", ".join(
                str(n) for n, c in zip(numbers, checks) if c.status == FAIL)
            out.append(Check(failed[0].rule, FAIL, f"{failed[0].evidence} (on {ranks})", findings))
        else:
            out.append(next((c for c in checks if c.status == PASS), checks[0]))
    return out


EXIT_FILE = "FXCHECK_EXIT_FILE"  # set by `fxcheck trace --nproc-per-node`: where rank 0 leaves its exit code


def tell_launcher(code: int) -> int:
    """Rank 0's exit code. Under `fxcheck trace --nproc-per-node` it goes to the launching fxcheck
    through a file and rank 0 exits 0, so that torch.distributed.run does not report a failed worker."""
    path = os.environ.get(EXIT_FILE)
    if not path:
        return code
    Path(path).write_text(str(code), encoding="utf-8")
    return 0


def launch(nproc: int, target: list[str], options: list[str], script_args: list[str]) -> int:
    """`fxcheck trace --nproc-per-node N`: start N ranks on 127.0.0.1 (a free port chosen now) through
    torch.distributed.run, the launcher torchrun is, each running `fxcheck trace`; returns rank 0's exit
    code (the worst of all ranks), or the launcher's own when rank 0 left none. `target` is [SCRIPT] or
    ["-m", MODULE]."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="fxcheck-launch-") as folder:
        exit_file = Path(folder) / "exit"
        proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
                               "--master-addr=127.0.0.1", f"--master-port={port}", "-m", "fxcheck", "trace",
                               *options, *target, "--", *script_args],
                              env=dict(os.environ, **{EXIT_FILE: str(exit_file)}))
        if exit_file.exists():
            return int(exit_file.read_text() or 3)
        return proc.returncode or 3  # rank 0 left no code: it did not finish its report
