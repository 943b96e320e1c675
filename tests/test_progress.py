"""The progress line of `fxcheck trace`: on a terminal's stderr only, erased at the end, never with --quiet;
no colour or progress text when the output is piped."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios

from conftest import ROOT, SCRIPTS

SLOW = [str(SCRIPTS / "clip_order.py"), "--steps", "4"]
SLOW_ARGS = ["--", "--sleep", "0.1"]  # 8 batches of 0.1 s: the line (shown after 0.3 s) gets drawn
ESC = "\x1b["
PROGRESS = "fxcheck · clip_order.py · "  # how the line begins (the report says "fxcheck 0.1.0 · ...")


def env() -> dict[str, str]:
    """A colour-capable terminal type, with nothing that forces or forbids colour."""
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    e.update(PYTHONUNBUFFERED="1", COLUMNS="160", TERM="xterm-256color")
    return e


def trace_with_stderr_on_a_terminal(*args: str, stdout_too: bool = False) -> tuple[int, str, str]:
    """Run `fxcheck trace` with stderr (and with `stdout_too` stdout) on a pseudo-terminal, else piped;
    returns code, stdout, terminal output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal's size, as tqdm reads it
    proc = subprocess.Popen([sys.executable, "-m", "fxcheck", "trace", *args], cwd=ROOT, env=env(),
                            stdin=subprocess.DEVNULL, stdout=slave if stdout_too else subprocess.PIPE, stderr=slave)
    os.close(slave)
    received = bytearray()
    try:
        while True:  # drain the terminal while the run goes on, so the child never blocks on it
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                received += data
            elif proc.poll() is not None:
                break
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(timeout=240)
    finally:
        os.close(master)
        if proc.stdout:
            proc.stdout.close()
    return code, stdout, received.decode(errors="replace")


def test_piped_run_has_no_progress_line_and_no_ansi_escapes():
    proc = subprocess.run([sys.executable, "-m", "fxcheck", "trace", *SLOW, *SLOW_ARGS], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "Summary" in proc.stdout
    assert PROGRESS not in proc.stderr and "\r" not in proc.stderr
    assert ESC not in proc.stdout and ESC not in proc.stderr


def test_terminal_shows_a_transient_progress_line():
    code, stdout, terminal = trace_with_stderr_on_a_terminal(*SLOW, *SLOW_ARGS)
    assert code == 0, terminal
    assert PROGRESS in terminal and "optimizer steps" in terminal
    assert "epoch 2/2" in terminal and "batch " in terminal and " events" in terminal
    # redrawn in place and erased at the end: nothing of it is left on the line
    assert terminal.endswith("\r\x1b[2K"), repr(terminal[-200:])
    # the script's own output and the report, on the piped stdout, are untouched by it
    assert stdout.startswith("epoch 1: loss ") and "Summary" in stdout
    assert PROGRESS not in stdout and ESC not in stdout


def test_quiet_shows_no_progress_line_on_a_terminal():
    code, stdout, terminal = trace_with_stderr_on_a_terminal(*SLOW, "--quiet", *SLOW_ARGS)
    assert code == 0, terminal
    assert PROGRESS not in terminal and ESC not in terminal
    assert "Summary" not in stdout


def test_the_scripts_own_writes_to_the_terminal_erase_the_line_first():
    code, _, terminal = trace_with_stderr_on_a_terminal(str(SCRIPTS / "clip_order.py"), "--steps", "4", "--",
                                                        "--sleep", "0.2", stdout_too=True)
    assert code == 0, terminal
    assert PROGRESS in terminal  # drawn while the script slept in its first epoch
    for epoch in (1, 2):
        at = terminal.index(f"epoch {epoch}: loss ")
        before = terminal[:at]
        # the line was erased just before the script's text (or never drawn since its last line): no
        # progress text is left on the line the script writes
        assert before.endswith(("\r\x1b[2K", "\n")), repr(before[-120:])
    assert PROGRESS in terminal[terminal.index("epoch 1: loss "):]  # and redrawn after


def test_a_tqdm_bar_keeps_its_line():
    code, _, terminal = trace_with_stderr_on_a_terminal(str(SCRIPTS / "clip_order.py"), "--steps", "4", "--",
                                                        "--sleep", "0.2", "--bar")
    assert code == 0, terminal
    bars = [i for i in range(len(terminal)) if terminal.startswith("epoch 1:", i)]
    assert len(bars) >= 3, repr(terminal[:400])  # tqdm redrew its bar batch by batch
    # between the bar's first draw and the newline that ends it, the progress line never draws over it
    first, end = bars[0], terminal.index("\n", bars[0])
    assert PROGRESS not in terminal[first:end], repr(terminal[first:end])
