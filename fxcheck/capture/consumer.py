"""Would ending a loader early be seen by the script as the loader's normal end?

A pass is cut by raising StopIteration from its iterator. A `for` loop (or `zip`, `enumerate`, a
generator's `for`) takes that as the end of the data; `batch = next(it)` with no handler for it
crashes the script, and inside a generator it becomes a RuntimeError. The cut only ends a pass the
way the script itself ends one: the frames that would receive the StopIteration are read from their
bytecode (the instruction under way and the exception table that covers it).
"""

from __future__ import annotations

import dis
from functools import lru_cache
from types import CodeType, FrameType
from typing import Any

_DEPTH = 32  # frames walked up at most
_HANDLER_SCAN = 80  # instructions read in one handler


def stops_cleanly(frame: FrameType | None) -> bool:
    """Does a StopIteration raised into `frame` (at its current instruction) end a loop or get caught?"""
    for _ in range(_DEPTH):
        if frame is None:
            return False
        code, offset = frame.f_code, frame.f_lasti
        ops = _instructions(code)
        op = ops.get(offset)
        if op is not None and op.opname == "FOR_ITER":
            return True
        caught = _caught(code, offset)
        if caught is not None:
            return caught
        if code.co_flags & 0x20:  # CO_GENERATOR: an escaping StopIteration becomes RuntimeError (PEP 479)
            return False
        frame = frame.f_back
    return False


def _caught(code: CodeType, offset: int) -> bool | None:
    """True if a handler of this frame names StopIteration at `offset`; False if a catch-all takes it
    (the script treats it as an error); None if none does (a with-block, a finally or another except
    passes it on: it leaves the frame)."""
    entries = _table(code)
    ops = _instructions(code)
    for _ in range(_DEPTH):
        entry = next((e for e in entries if e.start <= offset < e.end), None)
        if entry is None:
            return None
        verdict = _handler(ops, entry.target)
        if verdict is not None:
            return verdict
        offset = entry.target  # climb to the handler that covers this one
    return None


def _handler(ops: dict[int, Any], target: int) -> bool | None:
    """True: an `except` naming StopIteration; False: a catch-all; None: the exception goes on."""
    order = sorted(o for o in ops if o >= target)[:_HANDLER_SCAN]
    if not order or ops[order[0]].opname != "PUSH_EXC_INFO":
        return None  # a cleanup that re-raises
    following = [ops[o] for o in order[1:]]
    if following and following[0].opname == "POP_TOP":
        return False  # a bare `except:`
    names: list[str] = []
    for op in following:
        if op.opname in ("WITH_EXCEPT_START", "RERAISE"):
            return None
        if op.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_FAST", "LOAD_DEREF") and isinstance(op.argval, str):
            names.append(op.argval.rsplit(".", 1)[-1])
        elif op.opname == "CHECK_EXC_MATCH":
            if "StopIteration" in names:
                return True
            if {"Exception", "BaseException"} & set(names):
                return False
            names = []
    return None


@lru_cache(maxsize=512)
def _instructions(code: CodeType) -> dict[int, Any]:
    return {i.offset: i for i in dis.get_instructions(code)}


@lru_cache(maxsize=512)
def _table(code: CodeType) -> list[Any]:
    parse = getattr(dis, "_parse_exception_table", None)
    if parse is None:
        return []
    try:
        return list(parse(code))
    except Exception:  # a format this interpreter's dis cannot read: assume no handlers
        return []
