"""fxcheck: verify a PyTorch training loop by running it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The Python API, loaded on first use: `import fxcheck`, which the CLI and the pytest plugin (loaded
# by every test session) both do, imports neither torch nor networkx.
__all__ = ["__version__", "run", "assert_clean", "Result", "RuleCheck", "UsageError", "FxcheckFailed"]
_API = frozenset(__all__[1:])

if TYPE_CHECKING:
    from fxcheck.api import FxcheckFailed, Result, RuleCheck, UsageError, assert_clean, run


def __getattr__(name: str) -> Any:
    if name in _API:
        from fxcheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'fxcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
