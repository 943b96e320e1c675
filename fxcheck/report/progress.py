"""The transient progress line of `fxcheck trace`: epoch, batch and events so far, on a terminal's stderr.

A daemon thread polls the recorder a few times a second; it only reads (list lengths, a few dict
lookups, the last events), so the traced run is not changed. It writes with os.write on the
descriptor, never through sys.stderr, so it holds no lock of the script's streams (a DataLoader
worker forked mid-write could otherwise inherit it held). The line is redrawn in place and erased
when the run ends, so it never mixes with the report.

The script's own writes to a terminal come first: `guard` gives sys.stdout and sys.stderr (the same
objects, only their `write` shadowed for the run) a write that erases the line before the text goes
out. The line is drawn again only while every guarded stream's last write ended a line, so a bar the
script keeps redrawing on its current line (tqdm's) owns that line until it ends it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, TextIO

from fxcheck import events as ev

if TYPE_CHECKING:
    from fxcheck.capture.recorder import Recorder

ERASE_LINE = "\r\x1b[2K"
DIM, RESET = "\x1b[2m", "\x1b[0m"
LOOKBACK = 512  # events scanned backwards for the current batch


class ProgressLine:
    """Shows ``fxcheck · SCRIPT · epoch 1/2 · batch 4 · 3 optimizer steps · 120 events · 1.4 s``."""

    def __init__(self, fd: int, encoding: str, label: str, color: bool, interval: float = 0.1,
                 delay: float = 0.3) -> None:
        self.fd = fd
        self.encoding = encoding
        self.label = label
        self.color = color
        self.interval = interval
        self.delay = delay  # a run shorter than this shows no line at all
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        self._lock = threading.RLock()  # re-entered when a signal handler writes mid-write
        self._line_open: dict[int, bool] = {}  # per guarded stream: its last write left a line unfinished
        self._guarded: list[TextIO] = []
        self._pid = os.getpid()

    def guard(self, *streams: TextIO) -> None:
        """Erase the line before each write of the script to these streams, where they are terminals."""
        for stream in streams:
            try:
                if stream in self._guarded or "write" in vars(stream) or not stream.isatty():
                    continue
                stream.write = self._guarded_write(stream, stream.write)
            except (AttributeError, TypeError, OSError, ValueError):  # no instance dict, closed, replaced
                continue
            self._line_open[id(stream)] = False
            self._guarded.append(stream)

    def _guarded_write(self, stream: TextIO, write: Callable[[str], Any]) -> Callable[[str], Any]:
        key = id(stream)

        def guarded(text: str) -> Any:
            if os.getpid() != self._pid:  # a forked child: there is no progress line there
                return write(text)
            with self._lock:
                if self._drawn:
                    self._write(ERASE_LINE)
                    self._drawn = False
                if text:
                    self._line_open[key] = not str(text).endswith("\n")
                return write(text)

        return guarded

    def _unguard(self) -> None:
        for stream in self._guarded:
            try:
                del stream.write
            except AttributeError:  # the script replaced it itself
                pass
        self._guarded.clear()

    def watch(self, recorder: Recorder) -> None:
        """Start polling ``recorder`` (runner.run calls this just before the script starts)."""
        started = time.perf_counter()
        self.guard(sys.stdout, sys.stderr)
        self._thread = threading.Thread(target=self._loop, args=(recorder, started), name="fxcheck-progress",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling and erase the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._unguard()
        with self._lock:
            if self._drawn:
                self._write(ERASE_LINE)
                self._drawn = False

    def _loop(self, recorder: Recorder, started: float) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            text = f"fxcheck · {self.label} · {describe(recorder)} · {time.perf_counter() - started:.1f} s"
            with self._lock:
                if self._stop.is_set():
                    break
                if not any(self._line_open.values()):  # else the script's unfinished line (a bar) has it
                    # the cursor goes back to the line's start, so output the script writes to the same
                    # terminal starts at column 0 rather than after the progress text
                    self._write(ERASE_LINE + (f"{DIM}{text}{RESET}" if self.color else text) + "\r")
                    self._drawn = True
            self._stop.wait(self.interval)

    def _write(self, text: str) -> None:
        data = text.encode(self.encoding, errors="replace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:  # the terminal went away
            self._stop.set()


def describe(rec: Recorder) -> str:
    """What the run has reached, read from the recorder's counters."""
    count = len(rec.events)
    steps = sum(list(rec.step_calls.values()))
    parts = []
    loop = rec.loop
    loader = next((p.loader for p in reversed(list(loop.passes)) if p.role == "train"), None)
    if loop.epochs:
        parts.append(f"epoch {len(loop.epochs)}/{rec.limits.epochs}")
    if loader is not None:
        batch = _last_batch(rec, loader, count)
        if batch is not None:
            parts.append(f"batch {batch}")
    parts.append(f"{steps} optimizer step{'s' if steps != 1 else ''}")
    parts.append(f"{count} events")
    return " · ".join(parts)


def _last_batch(rec: Recorder, loader: str, count: int) -> int | None:
    """The 1-based index of the training loader's latest batch (events only grow, so indexing below
    a length read earlier is safe from another thread)."""
    for i in range(count - 1, max(-1, count - 1 - LOOKBACK), -1):
        e = rec.events[i]
        if e.kind == ev.LOADER_BATCH and e.obj == loader:
            return int(e.data.get("index", 0)) + 1
        if e.kind == ev.LOADER_PASS and e.obj == loader:
            return None
    return None
