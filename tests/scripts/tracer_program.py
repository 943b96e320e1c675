"""A program for tracer_backends.py (which sets `tracer` and `seen`): loops before and during training,
hand edits of a .grad and of an optimizer's .state, the tracer paused and resumed inside each epoch as
fxcheck's windows do, a tracer the program installs itself, and a thread of its own."""
import sys
import threading


class Param:
    state: dict = {}
    grad = 1


def prepare(n):
    total = 0
    for i in range(n):  # data preparation: 5 iterations and the check that ends the loop
        total += i
    return total


def train_step(p):
    p.grad = None  # a hand edit of a gradient
    p.state.clear()  # a hand edit of an optimizer's state


def worker():
    for _ in range(50):  # the program's own thread: not the traced one
        pass


def profiler(frame, event, arg):
    if frame.f_code.co_name == "train_step":
        calls.append(event)
    return profiler


prepare(5)
tracer.training[0] = True  # fxcheck's hooks set this at the first optimizer step
p, calls = Param(), []
for epoch in range(3):  # epoch loop
    for step in range(4):  # batch loop
        if step == 1:
            tracer.pause()
        if step == 3:
            tracer.resume()
        train_step(p)
        seen["edits"].append([tracer.take_edit(1), tracer.take_edit(2)])
sys.settrace(profiler)  # a profiler the program starts: it sees what it would see without fxcheck
for k in range(2):  # profiled loop
    train_step(p)
t = threading.Thread(target=worker)
t.start()
t.join()
sys.settrace(None)
seen["profiler_calls"] = calls.count("call")
