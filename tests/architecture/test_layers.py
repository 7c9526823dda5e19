"""The layer rules of docs/architecture.md, checked on the source: a test fails the moment an import or
a client construction crosses a line it should not."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "dialogs", "cards", "sandbox")
# Only the composition root builds these (bot.py); everything else is handed what it needs.
ROOT_ONLY_CALLS = frozenset({"GraphServiceClient", "ExchangeClient", "create_async_engine", "CloudAdapter"})


def _sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((REPO / package).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, TYPE_CHECKING blocks included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _crossing(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("path", list(_sources("services")), ids=_rel)
def test_services_never_import_dialogs_cards_or_bot(path: Path) -> None:
    assert _crossing(path, ("dialogs", "cards", "bot")) == []


@pytest.mark.parametrize("path", list(_sources("cards")), ids=_rel)
def test_cards_never_import_the_store(path: Path) -> None:
    assert _crossing(path, ("services.store",)) == []


@pytest.mark.parametrize("path", list(_sources(*PACKAGES)), ids=_rel)
def test_sqlalchemy_only_inside_services_store(path: Path) -> None:
    if _rel(path).startswith("services/store/"):
        return
    assert _crossing(path, ("sqlalchemy",)) == []


@pytest.mark.parametrize("path", [*_sources(*PACKAGES), REPO / "bot.py"], ids=_rel)
def test_table_objects_only_inside_services_store(path: Path) -> None:
    """Outside services/store nobody builds SQL from the tables: it asks services/store by name."""
    if _rel(path).startswith("services/store/"):
        return
    assert _crossing(path, ("services.store.schema",)) == []
    columns = [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Attribute) and node.attr == "c"]  # table.c.<column>
    assert columns == []


@pytest.mark.parametrize("path", list(_sources(*PACKAGES)), ids=_rel)
def test_nobody_imports_the_composition_root(path: Path) -> None:
    assert _crossing(path, ("bot",)) == []


def _calls(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


@pytest.mark.parametrize("path", list(_sources(*PACKAGES)), ids=_rel)
def test_only_bot_py_builds_the_tenant_clients_the_engine_and_the_adapter(path: Path) -> None:
    assert sorted(_calls(path) & ROOT_ONLY_CALLS) == []


def test_bot_py_builds_each_of_them() -> None:
    assert _calls(REPO / "bot.py") >= ROOT_ONLY_CALLS


def test_bot_py_is_the_composition_root_and_small() -> None:
    lines = (REPO / "bot.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    text = "\n".join(lines)
    assert "extras" not in (REPO / "services" / "runtime.py").read_text(encoding="utf-8")
    assert 'if __name__ == "__main__":' in text


def test_the_runtime_is_frozen() -> None:
    import dataclasses

    from services.runtime import Runtime

    params = Runtime.__dataclass_params__
    assert params.frozen and "extras" not in {f.name for f in dataclasses.fields(Runtime)}


def _verb_handlers(tree: ast.Module) -> set[str]:
    """Names of the functions a module registers with router.on_verb(verb, lambda turn: NAME(deps, turn))."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "on_verb"
                and len(node.args) == 2 and isinstance(node.args[1], ast.Lambda)
                and isinstance(node.args[1].body, ast.Call) and isinstance(node.args[1].body.func, ast.Name)):
            names.add(node.args[1].body.func.id)
    return names


@pytest.mark.parametrize("path", list(_sources("dialogs/flows")), ids=_rel)
def test_every_card_verb_goes_through_the_one_guard(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    handlers = _verb_handlers(tree)
    unguarded = [fn.name for fn in ast.walk(tree) if isinstance(fn, ast.AsyncFunctionDef) and fn.name in handlers
                 and not any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "guarded"
                             for d in fn.decorator_list)]
    assert unguarded == []
