"""Import layering: no module of the package imports from a layer below it.

The layers are those of "Import direction" in docs/ARCHITECTURE.md, top (imported by everyone)
to bottom (imports everyone). A module is placed by the longest matching prefix of its dotted
path inside the package, so new files of a sub-package (``simulate/``, ``data/``) fall into
place; a module that matches no prefix fails the test until it is placed here and in the
document. Every import counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "artiphys_course"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_lazy", "runtime", "validation"),  # validation: the shared argument checks
    ("stimuli", "metrics", "losses"),  # pure computations on tensors and arrays
    ("simulate", "hierarchy"),
    ("data",),
    ("models",),
    ("recording", "units", "receptive_fields"),  # units: own-neuron responses of encoders
    ("training", "ridge"),
    ("models.zoo",),  # trains with `training`
    (
        "barmap",
        "gradient_rf",
        "mei",
        "tuning",
        "decoding",
        "rsa",
        "embedding",
        "features",
        "layer_grid",
        "patches",
        "atlas",
        "in_silico",
    ),
    ("plotting",),
    ("checks",),
    ("course",),
)


def layer_of(module: str) -> int | None:
    """Layer index of ``module`` (dotted path inside the package) by longest prefix; None if
    no prefix matches."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), index)
    return None if best is None else best[1]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(target: str, root: Path) -> str:
    """The deepest existing module of ``target`` (``plotting.encoding``, not ``plotting``)."""
    parts = target.split(".")
    while parts:
        candidate = root.joinpath(*parts)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    return target


def internal_imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of the package in the file at ``path``."""
    package = root.name
    package_parts = list(path.parent.relative_to(root).parts)  # the file's own (sub)package
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the file's own package
                base = package_parts[: len(package_parts) - (node.level - 1)]
                module = ".".join([package, *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" for a in node.names]
        for target in targets:
            if target == package or target.startswith(package + "."):
                inner = _resolve(target[len(package) + 1 :], root)
                if inner:
                    found.append((node.lineno, inner))
    return found


def upward_imports(root: Path) -> list[str]:
    """Every import in the package under ``root`` from a lower layer, as readable lines.

    A package's ``__init__`` may re-export its own sub-modules; a module that matches no layer
    is reported too.
    """
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        if not module:  # the package's own __init__: lazy attribute access only
            continue
        layer = layer_of(module)
        if layer is None:
            problems.append(f"{module}: in no layer; place it in LAYERS and ARCHITECTURE.md")
            continue
        for line, target in internal_imports(path, root):
            if path.name == "__init__.py" and target.startswith(module + "."):
                continue
            target_layer = layer_of(target)
            if target_layer is not None and target_layer > layer:
                problems.append(
                    f"{module}:{line} imports {target}: layer {target_layer} "
                    f"({', '.join(LAYERS[target_layer])}) is below layer {layer} "
                    f"({', '.join(LAYERS[layer])})"
                )
    return problems


def test_no_module_imports_from_a_lower_layer():
    problems = upward_imports(PACKAGE)
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_package_init_imports_no_topic_module_eagerly():
    # `import artiphys_course` stays light: topic modules load on first attribute access, through
    # `_lazy`, which imports nothing of the package
    assert [m for _, m in internal_imports(PACKAGE / "__init__.py", PACKAGE)] == ["_lazy"]
    assert internal_imports(PACKAGE / "_lazy.py", PACKAGE) == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("runtime", 0),
        ("validation", 0),
        ("metrics", 1),
        ("simulate.noise", 2),
        ("data.registry", 3),
        ("models.cores", 4),
        ("units", 5),
        ("ridge", 6),
        ("models.zoo", 7),
        ("rsa", 8),
        ("plotting.mei", 9),
        ("checks.core", 10),
        ("course.cli", 11),
        ("modelsx", None),
    ],
)
def test_layer_of_uses_the_longest_prefix(module, layer):
    assert layer_of(module) == layer


def test_the_checker_catches_an_upward_import(tmp_path):
    root = tmp_path / "artiphys_course"
    (root / "simulate").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "simulate" / "__init__.py").write_text("from .images import make\n")
    (root / "simulate" / "images.py").write_text(
        "from artiphys_course.runtime import seeded\n\n\ndef make():\n"
        "    from artiphys_course import data  # lazy, still counts\n"
    )
    (root / "runtime.py").write_text("")
    (root / "data").mkdir()
    (root / "data" / "__init__.py").write_text("from ..simulate import images\n")
    (root / "widgets.py").write_text("")
    problems = upward_imports(root)
    assert any(p.startswith("simulate.images:5 imports data") for p in problems), problems
    assert any(p.startswith("widgets: in no layer") for p in problems), problems
    assert len(problems) == 2, "downward and relative imports are fine"


def _in_a_fresh_interpreter(code: str) -> None:
    """Run ``code`` in a new Python process (nothing imported yet); fail with its stderr."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_importing_the_package_never_imports_torchvision():
    # torchvision's import takes about 5 s (torch._dynamo); only building a torchvision network
    # or resizing with its transforms needs it, so every module imports it inside functions
    _in_a_fresh_interpreter(
        "import importlib, pkgutil, sys, artiphys_course\n"
        "for m in pkgutil.walk_packages(artiphys_course.__path__, 'artiphys_course.'):\n"
        "    importlib.import_module(m.name)\n"
        "    assert 'torchvision' not in sys.modules, m.name\n"
        "from artiphys_course.models.pretrained import load_pretrained\n"
        "load_pretrained('alexnet', weights='untrained')\n"
        "assert 'torchvision' in sys.modules\n"
    )


def test_a_plotting_module_imports_only_what_it_needs():
    # plotting/ names every function but imports a module on first use: the encoding plots
    # must not pay for scipy's statistics (RSA plots) or optimisers (bar-map fits)
    _in_a_fresh_interpreter(
        "import sys\n"
        "from artiphys_course.plotting import encoding\n"
        "loaded = [m for m in ('scipy.stats', 'scipy.optimize', 'artiphys_course.rsa') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "import artiphys_course.plotting as p\n"
        "assert p.plot_rdm.__module__ == 'artiphys_course.plotting.representations'\n"
        "assert 'artiphys_course.rsa' in sys.modules\n"
    )
