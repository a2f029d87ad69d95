"""The import graph of `bot/` keeps the architecture: a pure domain, adapters that do not know
each other, and no circles (a `TYPE_CHECKING` import counts: it is still a circle in the design).

Read from the source with `ast`, so nothing is imported and lazy imports inside functions count
as well as those at the top of a module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"

# The domain is pure: no I/O, no event loop, no platform or network library.
IO_LIBRARIES = {
    "asyncio",
    "aiosqlite",
    "asyncpg",
    "sqlite3",
    "httpx",
    "aiohttp",
    "websockets",
    "telegram",
    "discord",
    "apscheduler",
    "socket",
    "subprocess",
    "prometheus_client",
    "matplotlib",
    "prompt_toolkit",
    "yaml",
    "pydantic_settings",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    # a package's own __init__ is its level-1 anchor; a module's anchor is its package
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every module (ours: the longest known prefix; others: the top-level name) `path` imports."""
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def ours_or_top(name: str) -> str:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                return candidate
        return parts[0]

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(ours_or_top(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            for alias in node.names:
                # `from bot.chat import console` imports the module bot.chat.console
                full = f"{target}.{alias.name}"
                found.add(ours_or_top(full if full in known else target))
    found.discard(module)
    return found


def graph() -> dict[str, set[str]]:
    files = sorted(BOT.rglob("*.py"))
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) for p in files}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root] & edges.keys())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child] & edges.keys()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


EDGES = graph()


def test_the_graph_is_read() -> None:
    # a reader that found nothing would pass every contract below
    assert "bot.runtime.app" in EDGES and "bot.domain.rules" in EDGES
    assert "bot.domain.models" in EDGES["bot.domain.rules"]
    assert "bot.chat.telegram_bot" in EDGES["bot.runtime.app"]  # a lazy import inside a function


def test_no_import_circles() -> None:
    assert cycles(EDGES) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_the_domain_imports_nothing_outside_it() -> None:
    bad = {
        module: sorted(
            dep
            for dep in deps
            if (dep.startswith("bot.") and not dep.startswith("bot.domain")) or dep in IO_LIBRARIES
        )
        for module, deps in EDGES.items()
        if module.startswith("bot.domain")
    }
    assert {m: d for m, d in bad.items() if d} == {}


ADAPTERS = {
    "telegram": ("bot.chat.telegram_",),
    "discord": ("bot.chat.discord_",),
    "console": ("bot.chat.console",),
}


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_the_chat_adapters_do_not_import_each_other(adapter: str) -> None:
    mine = ADAPTERS[adapter]
    others = tuple(p for name, prefixes in ADAPTERS.items() if name != adapter for p in prefixes)
    bad = {
        module: sorted(dep for dep in deps if dep.startswith(others))
        for module, deps in EDGES.items()
        if module.startswith(mine)
    }
    assert {m: d for m, d in bad.items() if d} == {}


def test_the_platform_libraries_stay_in_their_adapters() -> None:
    places = {"telegram": "bot.chat.telegram_", "discord": "bot.chat.discord_"}
    bad = {
        module: sorted(lib for lib, prefix in places.items() if lib in deps)
        for module, deps in EDGES.items()
        if not any(module.startswith(p) for p in places.values())
    }
    assert {m: libs for m, libs in bad.items() if libs} == {}


if __name__ == "__main__":  # python tests/test_import_graph.py: print the circles
    for component in cycles(EDGES):
        print(" <-> ".join(component))
    sys.exit(0)
