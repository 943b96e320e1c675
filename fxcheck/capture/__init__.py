"""Capture: the only code that touches the running program (tracer + torch API hooks)."""

from __future__ import annotations

from fxcheck.capture.hooks import Hooks
from fxcheck.capture import looptracer
from fxcheck.capture.recorder import Limits, Recorder, StopRun

__all__ = ["Capture", "Limits", "StopRun"]


class Capture:
    """Installs the loop tracer and the torch hooks for one run, and takes them away again."""

    def __init__(self, user_roots: list[str], limits: Limits) -> None:
        self.tracer, self.tracer_choice = looptracer.make(user_roots)  # which backend, and why
        self.recorder = Recorder(limits, self.tracer.is_user_file)
        self.hooks = Hooks(self.recorder, self.tracer)

    def start(self) -> None:
        try:
            self.hooks.install()
        except BaseException:
            self.hooks.uninstall()
            raise
        self.tracer.start()

    def stop(self) -> None:
        self.tracer.stop()
        self.hooks.uninstall()
