"""Machinery shared by every exercise check: run, compare, diagnose, explain.

A check runs the student's function on fixed and seeded inputs and compares each answer with
the package's reference. When an answer is wrong it looks for the reason instead of printing the
solution:

- **Known mistakes.** Each :class:`Mistake` is a plausible wrong implementation (population vs
  unbiased s.d., a transpose, degrees for radians...). When the student's answer matches one on
  every failing input, the message names the mistake and gives its hint.
- **The reference, called.** While the student's function runs, the package functions the check
  lists as ``forbidden`` raise :class:`ReferenceCalled`; the message says to write the exercise
  instead of calling the package.
- **Loops where one batched call is asked.** With ``max_calls``, every ``nn.Module`` argument
  counts its forward calls; more than allowed fails with a hint to batch.
- **Chained exercises.** ``uses`` names the student's own helper functions the exercise calls
  (``{"rf_step": reference_rf_step}``). When the answer is wrong, the check reruns it with the
  references swapped in; if it is right then, the message blames the helper, not this function.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from artiphys_course.runtime import seeded

__all__ = [
    "CheckFailed",
    "CheckResult",
    "Mistake",
    "Observed",
    "ReferenceCalled",
    "STRICT_ENV",
    "adapt",
    "check_function",
    "compare",
    "strict",
    "tiny_cnn",
]

PASS = "\u2705"
TODO = "\u23f3"
FAIL = "\u274c"


def _to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x


def compare(
    got: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-6, path: str = "output"
) -> str | None:
    """Compare two results recursively; return ``None`` when they match, else the first difference.

    Arrays and tensors are compared by shape, then with ``np.allclose``; tuples, lists and dicts
    element by element; anything else with ``==``.
    """
    got, expected = _to_numpy(got), _to_numpy(expected)
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"{path} should be a dict, got {type(got).__name__}"
        missing = set(expected) - set(got)
        if missing:
            return f"{path} lacks the keys {sorted(map(str, missing))}"
        for key in expected:
            msg = compare(got[key], expected[key], rtol, atol, f"{path}[{key!r}]")
            if msg:
                return msg
        return None
    if isinstance(expected, (tuple, list)) and not np.isscalar(expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{path} should be a sequence of length {len(expected)}, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            msg = compare(g, e, rtol, atol, f"{path}[{i}]")
            if msg:
                return msg
        return None
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        g = np.asarray(got)
        e = np.asarray(expected)
        if g.shape != e.shape:
            return f"{path} has shape {g.shape}, expected {e.shape}"
        if e.dtype.kind in "biuf" and g.dtype.kind in "biuf":
            if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
                err = np.nanmax(np.abs(g.astype(float) - e.astype(float)))
                return f"{path} differs from the reference (largest difference {err:.3g})"
            return None
        if not np.array_equal(g, e):
            return f"{path} differs from the reference"
        return None
    if isinstance(expected, (float, int, np.floating, np.integer)) and not isinstance(
        expected, bool
    ):
        try:
            ok = np.isclose(float(got), float(expected), rtol=rtol, atol=atol)
        except (TypeError, ValueError):
            return f"{path} should be a number, got {_describe(got)}"
        return None if ok else f"{path} is {float(got):.6g}, expected {float(expected):.6g}"
    return None if got == expected else f"{path} is {got!r}, expected {expected!r}"


def _describe(x: Any) -> str:
    x = _to_numpy(x)
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"[:80]


STRICT_ENV = "ARTIPHYS_STRICT_CHECKS"
"""Set to ``1`` (the test configuration does): a wrong exercise raises :class:`CheckFailed`."""


class CheckFailed(AssertionError):
    """A check found a wrong answer while ``ARTIPHYS_STRICT_CHECKS=1`` (CI runs of solutions)."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check; renders as one line in Jupyter.

    Attributes
    ----------
    name : str
        The exercise.
    status : str
        ``"correct"``, ``"wrong"`` (a case differs or the function raised) or
        ``"not implemented"``.
    passed, total : int
        Test inputs answered correctly, of all inputs tried.
    points, max_points : float
        ``max_points * passed / total`` (0 when not implemented).
    message : str
        What a student reads: the verdict, the first difference, and a hint.
    """

    name: str
    status: str
    passed: int
    total: int
    points: float
    max_points: float
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        return "<pre style='margin:0'>" + html.escape(self.message) + "</pre>"


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer to an exercise, recognised by its output.

    Attributes
    ----------
    name : str
        What the student did, in a few words (``"unbiased s.d. (ddof=1)"``); shown in the message.
    answer : callable
        The wrong implementation, called with the same arguments as the reference.
    hint : str
        Where to look, without giving the solution.
    """

    name: str
    answer: Callable[..., Any]
    hint: str


class ReferenceCalled(RuntimeError):
    """Raised when a student's function calls a package function that its exercise re-implements."""


def _qualified(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


@contextlib.contextmanager
def _forbidden(
    functions: Sequence[Callable[..., Any]], namespaces: Sequence[dict]
) -> Iterator[None]:
    """Within the block, the ``functions`` raise :class:`ReferenceCalled` wherever they are bound.

    Rebinds every attribute of the loaded ``artiphys_course`` modules and every entry of
    ``namespaces`` (the student's globals) that is one of the functions; restores them after.
    """
    if not functions:
        yield
        return
    targets = {id(f): f for f in functions}

    def blocker(func: Callable[..., Any]) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            raise ReferenceCalled(
                f"your function calls the package's `{func.__name__}`; this exercise is to "
                "write that computation yourself"
            )

        return blocked

    stubs = {key: blocker(f) for key, f in targets.items()}
    spaces = [
        vars(m) for name, m in list(sys.modules.items()) if name.startswith("artiphys_course")
    ]
    spaces += list(namespaces)
    saved: list[tuple[dict, str, Any]] = []
    try:
        for space in spaces:
            for attr, value in list(space.items()):
                if id(value) in targets:
                    saved.append((space, attr, value))
                    space[attr] = stubs[id(value)]
        yield
    finally:
        for space, attr, value in reversed(saved):
            space[attr] = value


@contextlib.contextmanager
def _count_calls(args: Sequence[Any]) -> Iterator[list[int]]:
    """Count forward calls of every ``nn.Module`` among ``args`` (top-level modules only)."""
    counter = [0]
    handles = []
    for arg in args:
        if isinstance(arg, nn.Module):
            handles.append(
                arg.register_forward_pre_hook(lambda *_: counter.__setitem__(0, counter[0] + 1))
            )
    try:
        yield counter
    finally:
        for handle in handles:
            handle.remove()


_TRUSTED = [0]  # > 0 while a check runs one of its own reference helpers (``uses``)


def trusted() -> bool:
    """True while a check runs a reference helper it swapped into the student's code.

    :mod:`artiphys_course.course.grading` lets such calls reach the package functions it
    disables for student code: they are the check's, not the student's.
    """
    return _TRUSTED[0] > 0


def _trusted(helper: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(helper)
    def call(*args: Any, **kwargs: Any) -> Any:
        _TRUSTED[0] += 1
        try:
            return helper(*args, **kwargs)
        finally:
            _TRUSTED[0] -= 1

    return call


def _globals_of(student: Callable[..., Any]) -> dict:
    """The module namespace the student's function runs in (through wrappers' ``__wrapped__``)."""
    return getattr(inspect.unwrap(student), "__globals__", {})


def _resolve(func: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(func):
        return func
    module, _, attr = func.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def strict() -> bool:
    """True when ``ARTIPHYS_STRICT_CHECKS`` is set to a true value."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class _TooManyCalls(Exception):
    def __init__(self, calls: int, allowed: int) -> None:
        super().__init__(
            f"called the model {calls} times where {allowed} batched call"
            f"{'s are' if allowed != 1 else ' is'} asked (no loop over neurons or images)"
        )


@dataclass
class _Case:
    """One test input's verdict."""

    problem: str | None  # None: correct
    got: Any = None
    answered: bool = False  # the function returned a value (not an error)
    unsolved: bool = False  # raised NotImplementedError


def _run_cases(
    student: Callable[..., Any],
    expected: Callable[[int], Any],
    cases: list[tuple[tuple, dict]],
    *,
    rtol: float,
    atol: float,
    forbidden: list[Callable[..., Any]],
    max_calls: int | None,
    helpers: Mapping[str, Callable[..., Any]] | None = None,
) -> list[_Case]:
    space = _globals_of(student)
    saved = {key: space[key] for key in (helpers or {}) if key in space}
    space.update({key: _trusted(helper) for key, helper in (helpers or {}).items()})
    verdicts = []
    try:
        for i, (args, kwargs) in enumerate(cases):
            args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
            try:
                with _forbidden(forbidden, [space]), _count_calls([*args, *kwargs.values()]) as n:
                    got = student(*args, **kwargs)
                if max_calls is not None and n[0] > max_calls:
                    raise _TooManyCalls(n[0], max_calls)
            except NotImplementedError:
                verdicts.append(_Case("not implemented", unsolved=True))
            except (ReferenceCalled, _TooManyCalls) as err:
                verdicts.append(_Case(str(err)))
            except Exception as err:  # noqa: BLE001 - any student error becomes feedback
                verdicts.append(_Case(f"raised {type(err).__name__}: {err}"))
            else:
                problem = compare(got, expected(i), rtol=rtol, atol=atol)
                verdicts.append(_Case(problem, got, answered=True))
    finally:
        for key in helpers or {}:
            if key in saved:
                space[key] = saved[key]
            else:
                space.pop(key, None)
    return verdicts


def _diagnose(
    verdicts: list[_Case],
    cases: list[tuple[tuple, dict]],
    mistakes: Sequence[Mistake],
    rtol: float,
    atol: float,
) -> Mistake | None:
    """The first known mistake whose output matches every wrong answer, if any."""
    wrong = [(v, c) for v, c in zip(verdicts, cases, strict=True) if v.problem and v.answered]
    if not wrong or len(wrong) != sum(bool(v.problem) for v in verdicts):
        return None
    for mistake in mistakes:
        try:
            if all(
                compare(v.got, mistake.answer(*copy.deepcopy(a), **copy.deepcopy(k)), rtol, atol)
                is None
                for v, (a, k) in wrong
            ):
                return mistake
        except Exception:  # noqa: BLE001 - a mistake that does not apply to these inputs
            continue
    return None


def check_function(
    student: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    name: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str | None = None,
    fallback: str | None = None,
    max_points: float = 1.0,
    mistakes: Sequence[Mistake] = (),
    forbidden: Sequence[Callable[..., Any] | str] = (),
    max_calls: int | None = None,
    uses: Mapping[str, Callable[..., Any]] | None = None,
) -> CheckResult:
    """Check a student's function against the reference on every test input, and diagnose.

    Parameters
    ----------
    student, reference : callable
        The exercise function and the package's reference. They get the same arguments (each
        call gets its own deep copy, so an in-place edit by the student changes nothing else).
    cases : iterable
        Each case is a tuple of positional arguments or a dict of keyword arguments.
    name : str, optional
        The exercise's name (default: ``student.__name__``).
    rtol, atol : float
        Tolerances for numeric comparison.
    hint : str, optional
        Shown when the answer is wrong and no known mistake explains it. Never the solution.
    fallback : str, optional
        What the notebook uses instead while the exercise is unsolved (said with
        ``not implemented yet``).
    max_points : float
        Points for a fully correct answer; ``max_points * passed / total`` otherwise.
    mistakes : sequence of Mistake
        Known wrong implementations; the first one matching every wrong answer is named.
    forbidden : sequence of callables or dotted names
        Package functions the student must not call (those the exercise re-implements).
    max_calls : int, optional
        Most forward calls allowed per test input on each ``nn.Module`` argument (``1`` for
        "one batched pass").
    uses : mapping, optional
        The student's own helper functions this exercise calls, by global name, with their
        reference implementations; when the answer is wrong only because of a helper, the
        message blames the helper and the exercise keeps its points.

    Returns
    -------
    CheckResult
        Truthy when every case matches.

    Raises
    ------
    CheckFailed
        When the answer is wrong and ``ARTIPHYS_STRICT_CHECKS=1`` (an unsolved exercise never
        raises).
    """
    name = name or getattr(student, "__name__", "exercise")
    cases = [((), dict(case)) if isinstance(case, Mapping) else (tuple(case), {}) for case in cases]
    total = len(cases)
    outputs: dict[int, Any] = {}

    def expected(i: int) -> Any:  # the reference's answer, computed once, only when needed
        if i not in outputs:
            args, kwargs = cases[i]
            outputs[i] = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        return outputs[i]

    blocked = [_resolve(f) for f in forbidden]
    run = dict(rtol=rtol, atol=atol, forbidden=blocked, max_calls=max_calls)
    verdicts = _run_cases(student, expected, cases, **run)
    blame: list[str] = []
    if uses and any(v.problem for v in verdicts):
        with_references = _run_cases(student, expected, cases, **run, helpers=uses)
        if not any(v.problem for v in with_references):
            own = _globals_of(student)
            blame = [  # the helpers that break the answer when they are the student's own
                helper
                for helper in uses
                if helper in own
                and any(
                    v.problem
                    for v in _run_cases(
                        student, expected, cases, **run, helpers={**uses, helper: own[helper]}
                    )
                )
            ] or sorted(uses)
            verdicts = with_references
    if any(v.unsolved for v in verdicts):
        message = f"{TODO} {name}: not implemented yet."
        if fallback:
            message += f" The notebook goes on with the reference `{fallback}`."
        return CheckResult(name, "not implemented", 0, total, 0.0, max_points, message)
    passed = sum(v.problem is None for v in verdicts)
    points = max_points * passed / total if total else 0.0
    inputs = f"{total} test input{'s' if total != 1 else ''}"
    if passed == total:
        message = f"{PASS} {name}: correct on {inputs}."
        if blame:
            helpers = ", ".join(f"`{h}`" for h in blame)
            message += (
                f" But it is right only with correct helpers: your {helpers} "
                f"{'is' if len(blame) == 1 else 'are'} wrong or unfinished; fix {helpers} first "
                "(see its check)."
            )
        return CheckResult(name, "correct", passed, total, points, max_points, message)
    i, first = next((i, v) for i, v in enumerate(verdicts, 1) if v.problem)
    message = (
        f"{FAIL} {name}: {first.problem} (test input {i} of {total}); "
        f"{passed} of {total} inputs correct."
    )
    mistake = _diagnose(verdicts, cases, mistakes, rtol, atol)
    if mistake is not None:
        message += f"\n   This looks like {mistake.name}. {mistake.hint}"
    elif hint:
        message += f"\n   Hint: {hint}"
    result = CheckResult(name, "wrong", passed, total, points, max_points, message)
    if strict():
        raise CheckFailed(message)
    return result


def adapt(student: Callable[..., Any], call: Callable[..., Any]) -> Callable[..., Any]:
    """The student's function seen through ``call(student, *args, **kwargs)``, for a check.

    Use it where a check compares a transformed answer (angles modulo 180, a summary of a
    trained model). Unlike a ``lambda``, the wrapper points to the student's function
    (``__wrapped__``), so :func:`check_function` still finds, in the student's globals, the
    ``forbidden`` references the notebook imported and the ``uses`` helpers it defines.
    """

    @functools.wraps(student)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return call(student, *args, **kwargs)

    return wrapper


class Observed:
    """A student's function followed by a summary of what it did: what a check compares.

    Some exercises return an object that cannot be compared with the reference's directly (a
    model built from parts) or act on their arguments (an optimizer step). Pass
    ``Observed(student, summary)`` and ``Observed(reference, summary)`` to :func:`check_function`:
    each call returns ``summary(result, *args, **kwargs)`` (the arguments after the call). The
    call runs inside :func:`~artiphys_course.runtime.seeded` ``(0)``, so a random initialisation
    is the same for every implementation and leaves the caller's random state as it was. The
    student's name and globals stay visible, so ``forbidden`` and ``uses`` reach the notebook.

    Parameters
    ----------
    func : callable
        The student's function (or the reference, or a known mistake).
    summary : callable
        ``summary(result, *args, **kwargs)`` -> anything :func:`compare` understands (a dict of
        named properties gives the clearest messages).
    prepare : callable, optional
        ``prepare(*args, **kwargs)``, run on the arguments just before ``func``: state that
        the per-call deep copy of the arguments loses (the ``.grad`` of parameters).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        summary: Callable[..., Any],
        prepare: Callable[..., None] | None = None,
    ) -> None:
        self.func = func
        self.summary = summary
        self.prepare = prepare
        self.__name__ = getattr(func, "__name__", "exercise")
        self.__wrapped__ = func  # check_function finds the student's globals through it

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with seeded(0):
            if self.prepare is not None:
                self.prepare(*args, **kwargs)
            return self.summary(self.func(*args, **kwargs), *args, **kwargs)


def tiny_cnn(
    seed: int, image_shape: tuple[int, int], n_neurons: int, *, kernel: int = 3
) -> nn.Module:
    """A small conv (3 channels, same padding) + ELU + linear + Softplus model for checks.

    Initialised inside :func:`~artiphys_course.runtime.seeded`, so building it leaves the
    caller's random state untouched. Input ``(B, 1, *image_shape)``, output ``(B, n_neurons)``.
    """
    height, width = image_shape
    with seeded(seed):
        return nn.Sequential(
            nn.Conv2d(1, 3, kernel, padding=kernel // 2),
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(3 * height * width, n_neurons),
            nn.Softplus(),
        ).eval()
