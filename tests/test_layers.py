"""The import diagram of docs/architecture.md, enforced: every ``rxbybit`` import in the package
(top-level, inside functions, or under ``TYPE_CHECKING``) must point to a layer its module may use.

The table below is the diagram; when the architecture changes, change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rxbybit"

BASE = ("rxbybit.errors",)
"""Importable from every layer."""

ALLOWED: dict[str, tuple[str, ...]] = {
    "rxbybit.protocol": (),
    "rxbybit.transport": ("rxbybit.protocol",),
    "rxbybit.rest": ("rxbybit.protocol",),
    "rxbybit.client": ("rxbybit.rest", "rxbybit.transport", "rxbybit.protocol", "rxbybit.sim.embedded"),
    "rxbybit.display": (),
    "rxbybit.frames": ("rxbybit.display", "rxbybit.client.stream", "rxbybit.protocol"),
    "rxbybit.ops": ("rxbybit.frames", "rxbybit.display", "rxbybit.client.stream", "rxbybit.protocol"),
    "rxbybit.widgets": ("rxbybit.ops", "rxbybit.frames", "rxbybit.display", "rxbybit.client.stream",
                        "rxbybit.client.health", "rxbybit.protocol"),
    "rxbybit.sim": ("rxbybit.protocol", "rxbybit.transport.ws_internals"),
    "rxbybit.gateway": ("rxbybit.client", "rxbybit.transport", "rxbybit.protocol"),
    "rxbybit.recordings": ("rxbybit.client", "rxbybit.protocol", "rxbybit.sim.replay"),
}
"""Layer -> what it may import besides itself and :data:`BASE`. Modules outside these layers
(``rxbybit/__init__.py``, ``cli.py``, ``demo.py``, ``tools.py``, ``playback.py``) are applications: they may import
anything."""


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every rxbybit import in ``path``, relative ones resolved."""
    return imports_in(path.read_text(), module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, name: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every rxbybit import in ``source``, the text of module ``name``."""
    package = name if is_package else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "rxbybit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "rxbybit":
                continue
            for a in node.names:  # `from ..sim import embedded`: a name that is a module is the target
                sub = f"{target}.{a.name}"
                out.append((node.lineno, sub if is_module(sub) else target))
    return out


def is_module(dotted: str) -> bool:
    """True when ``dotted`` names a module or package of rxbybit."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer_of(module: str) -> str | None:
    for layer in ALLOWED:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        layer = layer_of(me)
        if layer is None:
            continue  # an application module
        for line, target in imports(path):
            if within(target, (layer, *BASE, *ALLOWED[layer])):
                continue
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {layer} may not import {target}")
    return found


def test_every_import_follows_the_architecture_diagram() -> None:
    assert violations() == []


SAMPLE = """
from typing import TYPE_CHECKING
from . import book
from ..transport import Connection
import rxbybit.frames.live
if TYPE_CHECKING:
    from ..sim import Simulator

def later():
    from ..client.stream import Stream
"""


def test_the_checker_sees_relative_lazy_and_type_checking_imports() -> None:
    """The checker itself: a layer test that cannot fail would prove nothing."""
    found = sorted(t for _, t in imports_in(SAMPLE, "rxbybit.protocol.sample"))
    assert found == ["rxbybit.client.stream", "rxbybit.frames.live", "rxbybit.protocol.book", "rxbybit.sim",
                     "rxbybit.transport"]
    bad = [t for t in found if not within(t, ("rxbybit.protocol", *BASE, *ALLOWED["rxbybit.protocol"]))]
    assert bad == ["rxbybit.client.stream", "rxbybit.frames.live", "rxbybit.sim", "rxbybit.transport"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_exists(layer: str) -> None:
    assert (PACKAGE / layer.split(".", 1)[1]).is_dir(), f"{layer} is drawn but has no package"
