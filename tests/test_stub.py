"""pygd/_core.pyi matches the compiled module: the same public names, the same
parameter names for every function and constructor (as pybind11 reports them in
the first line of each docstring), the same enum members and class attributes."""

from __future__ import annotations

import ast
import inspect
import os
import re

import pytest

import pygd
from pygd import _core

STUB = os.path.join(os.path.dirname(pygd.__file__), "_core.pyi")


def _stub() -> ast.Module:
    if not os.path.exists(STUB):
        pytest.skip(f"no stub next to {pygd.__file__}")
    with open(STUB, encoding="utf-8") as f:
        return ast.parse(f.read())


def _public(name: str) -> bool:
    return not name.startswith("_")


def _stub_names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
    return names


def _stub_params(fn: ast.FunctionDef) -> list[str]:
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return [n for n in names if n != "self"]


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def _bound_params(obj: object, name: str) -> list[str] | None:
    """Parameter names from pybind11's signature line ``name(a: T, *, b: U = ...) -> R``;
    None for an overloaded function (its first line is ``name(*args, **kwargs)``)."""
    doc = (obj.__doc__ or "").lstrip()
    first = doc.splitlines()[0] if doc else ""
    match = re.match(rf"{re.escape(name)}\((.*)\)( -> .*)?$", first)
    assert match, f"no signature line in the docstring of {name}: {first!r}"
    if "*args" in match.group(1):
        return None
    names = []
    for part in _split_top_level(match.group(1)):
        part = part.strip()
        if part in ("*", "/"):
            continue
        param = re.split(r"[:=]", part, maxsplit=1)[0].strip()
        if param != "self":
            names.append(param)
    return names


def test_same_public_names():
    stub = {n for n in _stub_names(_stub().body) if _public(n)}
    module = {n for n in dir(_core) if _public(n)}
    assert sorted(module - stub) == [], "bound but missing from _core.pyi"
    assert sorted(stub - module) == [], "in _core.pyi but not bound"


def test_function_parameters_match():
    stub = _stub_names(_stub().body)
    checked = 0
    for name, node in stub.items():
        if not isinstance(node, ast.FunctionDef) or not _public(name):
            continue
        bound = _bound_params(getattr(_core, name), name)
        if bound is None:
            continue
        assert _stub_params(node) == bound, f"_core.{name}"
        checked += 1
    assert checked > 20


def _is_enum(cls: type) -> bool:
    return hasattr(cls, "__members__")


def test_classes_match():
    stub = _stub_names(_stub().body)
    classes = [(n, node) for n, node in stub.items() if isinstance(node, ast.ClassDef)]
    assert classes
    for name, node in classes:
        cls = getattr(_core, name)
        members = _stub_names(node.body)
        if _is_enum(cls):
            assert list(members) == list(cls.__members__), f"_core.{name} members"
            continue
        public = {n for n in members if _public(n)}
        bound = {n for n, _ in inspect.getmembers(cls) if _public(n)}
        assert public == bound, f"_core.{name} attributes"
        if "__init__" in members:
            assert _stub_params(members["__init__"]) == _bound_params(cls.__init__, "__init__"), \
                f"_core.{name}.__init__"
