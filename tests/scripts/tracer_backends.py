"""Runs a program under each loop tracer of fxcheck/capture/looptracer.py and prints what each saw, as
JSON. The tracer module needs only the standard library, so it is loaded by its path: an interpreter
without torch (a newer Python than torch has wheels for) runs it too.

usage: python tracer_backends.py LOOPTRACER_PY PROGRAM_PY"""

import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("looptracer", sys.argv[1])
lt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lt)
program = sys.argv[2]
backends = {"settrace": lambda roots: lt.LoopTracer(roots)}
if hasattr(sys, "monitoring"):
    backends["monitoring"] = lambda roots: lt.MonitoringLoopTracer(roots, 4)


def run(make):
    import os
    tracer = make([os.path.dirname(os.path.abspath(program))])
    seen = {"edits": []}
    env = {"__name__": "__main__", "tracer": tracer, "seen": seen}
    code = compile(open(program).read(), program, "exec")
    tracer.start()
    try:
        exec(code, env)
    finally:
        tracer.stop()
    seen["loop_hits"] = sorted([line, n] for (_, line), n in tracer.loop_hits.items())
    seen["training_loop_hits"] = sorted([line, n] for (_, line), n in tracer.training_loop_hits.items())
    seen["trace_after_stop"] = sys.gettrace() is None
    if hasattr(sys, "monitoring"):
        seen["tool_free_after_stop"] = sys.monitoring.get_tool(4) is None
    return seen


choice = lt.make(["."])
print(json.dumps({"choice": choice[1], "python": sys.version.split()[0],
                  **{name: run(make) for name, make in backends.items()}}))
