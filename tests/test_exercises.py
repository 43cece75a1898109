"""The exercises: every check passes on its solution, says "not done yet" on the untouched stub, and fails, in a
few lines, on a typical wrong answer."""

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import ROOT

sys.path.insert(0, str(ROOT / "exercises"))
import check  # noqa: E402
from checks import EXERCISES  # noqa: E402

IDS = [exercise.id for exercise in EXERCISES]
solutions = {lesson: check.load_answers(ROOT / "exercises" / "solutions", lesson) for lesson in {i[:2] for i in IDS}}


def with_answer(exercise_id: str, answer) -> SimpleNamespace:
    """The solution module's functions, with one replaced by a wrong answer."""
    module = solutions[exercise_id[:2]]
    name = next(e.name for e in EXERCISES if e.id == exercise_id)
    return SimpleNamespace(**{**vars(module), name: answer})


def wrong_value():
    """04.1 wrong: gradients assigned (=) instead of added (+=), so b = a + a gives a.grad = 1."""
    class Value(solutions["04"].Value):
        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other))

            def backward():
                self.grad = out.grad
                other.grad = out.grad
            out._backward = backward
            return out
        __radd__ = __add__
    return Value


def wrong_train_step(model, optimizer, x, y):  # 04.2 wrong: no zero_grad, gradients pile up
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


class WrongEarlyStopping(solutions["05"].EarlyStopping):  # 05.2 wrong: an equal loss counts as a new low
    def step(self, val_loss):
        if val_loss <= self.best:
            self.best, self.waited = val_loss, 0
        else:
            self.waited += 1
        return self.waited >= self.patience


def wrong_request():  # 10.1 wrong: no limits, and "5" accepted for a number
    from pydantic import BaseModel

    class Request(BaseModel):
        prompt: str = ""
        max_new_tokens: int = 100
        temperature: float = 0.8
    return Request


def forward_difference(f, x, h=1e-5):  # 03.3 wrong: a one-sided nudge
    x, grad = x.astype(float), np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        base = f(x)
        x[i] += h
        grad[i] = (f(x) - base) / h
        x[i] -= h
    return grad


def crop_off_by_one(image, threshold=0.5):  # 06.1 wrong: the slice stops before the last ink row and column
    rows, cols = np.nonzero(image > threshold)
    return image[rows.min():rows.max(), cols.min():cols.max()] if len(rows) else image


WRONG = {  # one typical mistake per exercise
    "01.1": lambda z: (np.log(1 + np.exp(z)), 1 / (1 + np.exp(-z))),  # overflows at z = 1000
    "01.2": lambda z: (z * 0.5 * (1 + np.tanh(z)), 0.5 * (1 + np.tanh(z))),  # not Phi
    "01.3": lambda f, z, h=1e-5: (f(z + h) - f(z)) / h,  # one-sided
    "02.1": lambda X, y, w, b: (X.T @ (1 / (1 + np.exp(-(X @ w + b))) - y), 0.0),  # no / N, db forgotten
    "02.2": lambda w, b, x, y, lr=1.0: (w + lr * y * x, b + lr * y),  # updates even when right
    "03.1": lambda x, W, g: (x.T @ g, g.mean(axis=0), g @ W.T),  # mean instead of sum
    "03.2": lambda logits, labels: np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    - np.eye(logits.shape[1])[labels],  # no / N (and no max subtracted)
    "03.3": forward_difference,
    "04.1": wrong_value(),
    "04.2": wrong_train_step,
    "04.3": lambda t, p, k: (sum(a == b == k for a, b in zip(t, p)) / max(1, sum(a == k for a in t)),) * 3,  # R for all
    "05.1": lambda w, l1, l2: l1 * np.sign(w) + l2 * w,  # forgot the 2 of 2 w
    "05.2": WrongEarlyStopping,
    "05.3": lambda x, p, rng, training=True: np.where(rng.random(x.shape) >= p, x, 0.0),  # no 1/(1-p)
    "06.1": crop_off_by_one,
    "06.2": lambda image: 1 - image,  # always inverts
    "06.3": lambda image: image,  # does not move it
    "07.1": lambda ids, starts, n: (torch.stack([ids[s:s + n] for s in starts.tolist()]),) * 2,  # y = x
    "07.2": lambda q, k, v: torch.softmax((q @ k.transpose(1, 2) / math.sqrt(q.size(-1))).masked_fill(
        torch.triu(torch.ones(q.size(1), q.size(1), dtype=torch.bool)), -1e9), dim=-1) @ v,  # the diagonal masked
    "08.4": lambda ids, pair, new: [new if (a, b) == pair else a for a, b in zip(ids, ids[1:] + [None])],  # overlaps
    "08.1": lambda step, max_lr, min_lr, warmup, total: max_lr * step / warmup if step < warmup else
    min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2,  # 0 at step 0
    "08.2": lambda nats, cpt: nats / math.log(2) * cpt,  # multiplied
    "08.3": lambda grads, m: [g * min(1.0, m / float(g.norm())) for g in grads],  # one length per tensor
    "09.1": lambda logits, k: torch.softmax(logits, -1),  # no cut
    "09.2": lambda probs, p: (lambda s, o: torch.zeros_like(probs).index_put((o,), (s.cumsum(0) <= p).float() * s)
                              / ((s.cumsum(0) <= p).float() * s).sum())(*probs.sort(descending=True)),  # one too few
    "09.3": lambda cache, k, v: (k, v),  # forgets the cache
    "10.1": wrong_request(),
    "10.2": lambda text: f"data: {text}\n\n",  # a newline inside breaks the event
}


def test_there_are_at_least_28_exercises_and_two_per_lesson():
    per_lesson = {lesson: sum(i.startswith(lesson) for i in IDS) for lesson in (f"{n:02d}" for n in range(1, 11))}
    assert len(IDS) >= 28 and min(per_lesson.values()) >= 2, per_lesson
    assert set(WRONG) == set(IDS)


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_solution_passes(exercise):
    assert check.run_check(exercise, ROOT / "exercises" / "solutions") == ("done", "right")


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_untouched_stub_is_not_done_yet(exercise):
    assert check.run_check(exercise, ROOT / "exercises") == ("todo", "not done yet")


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_a_typical_wrong_answer_fails_in_a_few_lines(exercise, capsys):
    try:
        exercise.check(with_answer(exercise.id, WRONG[exercise.id]))
    except check.Wrong as wrong:  # what was tried, expected and got: no traceback
        message = str(wrong)
        assert message.startswith("tried:") and "expected:" in message and len(message.splitlines()) <= 4
    else:
        pytest.fail(f"{exercise.id}: the wrong answer passed")


def test_the_checker_prints_progress_and_the_next_step():
    result = subprocess.run([sys.executable, str(ROOT / "exercises" / "check.py")], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"0 of {len(IDS)} in all" in result.stdout and "next: 01.1" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    solved = subprocess.run([sys.executable, str(ROOT / "exercises" / "check.py"), "--solutions", "04"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "04: 3 of 3 done" in solved.stdout and "all done" in solved.stdout
