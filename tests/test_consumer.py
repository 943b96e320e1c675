"""The cut ends a pass only where the script reads StopIteration as the end of its data."""

from __future__ import annotations

import sys

from fxcheck.capture.consumer import stops_cleanly


class Probe:
    """An iterator that records, at each `__next__`, whether an early end would stop its caller cleanly."""

    def __init__(self) -> None:
        self.answers: list[bool] = []

    def __iter__(self) -> "Probe":
        return self

    def __next__(self) -> int:
        self.answers.append(stops_cleanly(sys._getframe(1)))
        if len(self.answers) > 1:
            raise StopIteration
        return 0


def test_for_loops_and_builtins_driven_by_them_stop_cleanly():
    for probe in (Probe(), Probe()):
        for _ in probe:
            pass
        assert probe.answers == [True, True]
    probe = Probe()
    for _ in enumerate(zip(probe, range(5))):
        pass
    assert probe.answers == [True, True]


def test_next_without_a_handler_would_crash_the_script():
    probe = Probe()
    next(probe)
    assert probe.answers == [False]
    with open(__file__):  # a with-block passes the exception on
        probe2 = Probe()
        next(probe2)
    assert probe2.answers == [False]


def test_next_under_a_handler_for_stopiteration_stops_cleanly():
    probe = Probe()
    try:
        next(probe)
    except (ValueError, StopIteration):
        pass
    assert probe.answers == [True]
    probe = Probe()
    try:
        with open(__file__):
            next(probe)
    except StopIteration:
        pass
    assert probe.answers == [True]


def test_a_catch_all_is_not_read_as_handling_the_end_of_the_data():
    probe = Probe()
    try:
        next(probe)
    except Exception:
        pass
    assert probe.answers == [False]


def test_a_wrapper_next_is_judged_by_its_caller_and_a_generator_never_leaks_it():
    class Wrapper:
        def __init__(self, inner):
            self.inner = inner

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.inner)

    probe = Probe()
    for _ in Wrapper(probe):
        pass
    assert probe.answers == [True, True]

    def prefetch(it):
        current = next(it)  # an escaping StopIteration would be a RuntimeError here
        yield current

    probe = Probe()
    for _ in prefetch(probe):
        pass
    assert probe.answers == [False]
