"""The pytest plugin: a `fxcheck_run` fixture that traces a training script, with defaults from the command line.

    def test_training_loop(fxcheck_run):
        fxcheck_run("train.py", "--lr", "3e-4").assert_clean()

Registered through the `pytest11` entry point, so every test session of an environment where
fxcheck is installed loads this module: it imports only pytest and the standard library at
import time (no torch). Options: `--fxcheck-steps`, `--fxcheck-epochs`, `--fxcheck-val-steps`,
`--fxcheck-timeout` (or the ini keys of the same names with `_`); the `fxcheck(...)` marker
overrides them for one test; keyword arguments to `fxcheck_run(...)` override both.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import pytest

from fxcheck import api

@dataclass(frozen=True)
class Settings:
    """Defaults for the session's `fxcheck_run` calls; None leaves it to `fxcheck.run` (the CLI's defaults)."""

    steps: int | None = None
    epochs: int | None = None
    val_steps: int | None = None
    timeout: float | None = None


KEYS = tuple(Settings.__dataclass_fields__)


settings_key = pytest.StashKey[Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fxcheck", "fxcheck: trace training scripts from tests")
    helps = {
        "steps": "training batches per epoch for fxcheck_run (default: fxcheck trace's, 10)",
        "epochs": "epochs fxcheck_run observes (default: fxcheck trace's, 2)",
        "val_steps": "batches per evaluation loader pass for fxcheck_run (default: fxcheck trace's, 2)",
        "timeout": "seconds after which an fxcheck_run call fails (default: none)",
    }
    for name, text in helps.items():
        flag = "--fxcheck-" + name.replace("_", "-")
        group.addoption(flag, dest="fxcheck_" + name, default=None, metavar="SECONDS" if name == "timeout" else "N",
                        help=text)
        parser.addini("fxcheck_" + name, text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fxcheck(steps=None, epochs=None, val_steps=None, timeout=None): defaults for this test's fxcheck_run calls",
    )
    values: dict[str, Any] = {}
    for name in KEYS:
        raw = config.getoption("fxcheck_" + name)
        source = "--fxcheck-" + name.replace("_", "-")
        if raw is None:
            raw, source = config.getini("fxcheck_" + name), "ini fxcheck_" + name
        if raw not in (None, ""):
            values[name] = _parse(name, raw, source)
    config.stash[settings_key] = Settings(**values)


def pytest_report_header(config: pytest.Config) -> str | None:
    s = config.stash.get(settings_key, None)
    given = {k: v for k, v in asdict(s).items() if v is not None} if s is not None else {}
    if not given:  # silent in sessions that did not configure fxcheck
        return None
    return "fxcheck: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in given.items())


def _parse(name: str, raw: Any, source: str) -> int | float:
    try:
        value = float(raw) if name == "timeout" else int(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{source}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise pytest.UsageError(f"{source}: must be positive, got {raw!r}")
    return value


@pytest.fixture
def fxcheck_run(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., api.Result]:
    """Run a training script under fxcheck: `fxcheck_run(script, *script_args, **options) -> fxcheck.Result`.

    Options are those of `fxcheck.run` (steps, epochs, val_steps, cwd, env, timeout, ...); steps,
    epochs, val_steps and timeout default to the `fxcheck` marker, then `--fxcheck-*` options.
    Each run's report and trace go to `tmp_path / "fxcheck-N"`. Call `.assert_clean()` on the result.
    """
    settings = request.config.stash.get(settings_key, Settings())
    marker = request.node.get_closest_marker("fxcheck")
    if marker is not None:
        if marker.args or set(marker.kwargs) - set(KEYS):
            pytest.fail(f"@pytest.mark.fxcheck takes only keywords {', '.join(KEYS)}; got {marker}", pytrace=False)
        settings = replace(settings, **{k: _parse(k, v, f"@pytest.mark.fxcheck({k}=...)") for k, v in marker.kwargs.items()
                                        if v is not None})
    defaults = {k: v for k, v in asdict(settings).items() if v is not None}
    numbers = itertools.count(1)

    def run(script: Any, *args: str, **options: Any) -> api.Result:
        __tracebackhide__ = True
        options.setdefault("out_dir", tmp_path / f"fxcheck-{next(numbers)}")
        return api.run(script, *args, **{**defaults, **options})

    return run
