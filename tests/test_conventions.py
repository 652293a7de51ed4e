"""The one-word-one-meaning conventions of docs/ARCHITECTURE.md, checked on every public function.

Parsed with ``ast`` (nothing is imported): public module-level functions and public methods of
public classes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "artiphys_course"
NEVER_IMAGE_SHAPE = {"input_size", "image_size", "img_size"}


def _public_functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, functions) and not node.name.startswith("_"):
                yield f"{module}.{node.name}", node
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for item in node.body:
                    if isinstance(item, functions) and not item.name.startswith("_"):
                        yield f"{module}.{node.name}.{item.name}", item
                    elif isinstance(item, functions) and item.name == "__init__":
                        yield f"{module}.{node.name}", item


def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr | None]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr | None] = {a.arg: None for a in positional}
    tail = positional[len(positional) - len(args.defaults) :]
    for arg, default in zip(tail, args.defaults, strict=True):
        defaults[arg.arg] = default
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        defaults[arg.arg] = default
    return defaults


def test_progress_defaults_to_true():
    wrong = []
    for name, node in _public_functions():
        default = _defaults(node).get("progress", ast.Constant(True))
        if not (isinstance(default, ast.Constant) and default.value is True):
            wrong.append(name)
    assert not wrong, f"progress must default to True in: {wrong}"


def test_image_dimensions_are_called_image_shape():
    wrong = []
    for name, node in _public_functions():
        names = set(_defaults(node))
        # in plotting/, `size` is a panel size in inches, not an image's
        bad = names & (NEVER_IMAGE_SHAPE | (set() if name.startswith("plotting.") else {"size"}))
        if bad:
            wrong.append(f"{name}({', '.join(sorted(bad))})")
    assert not wrong, f"use image_shape=(height, width) instead in: {wrong}"
