"""The layout of the code: no import cycles, small modules, and the README's tree is the real one.

Imports are read from the source (ast), including those inside functions: a lazy import
that closes a circle is still a circle between the two modules.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "asyncthink"
README = Path(__file__).parent.parent / "README.md"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that `name` imports (a `from X import y` counts X.y when it is a module)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return {m for m in found if m in known and m != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None (iterative DFS, three colours)."""
    colour = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the current path, 2 done
    for root in sorted(graph):
        if colour[root]:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_cycle_finder_finds_a_cycle_and_accepts_a_dag():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert sum(map(len, graph.values())) > 100  # the walk sees the package's imports
    assert "asyncthink.core.runner" in graph["asyncthink.session.session"]
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _readme_tree() -> set[str]:
    """Paths named by the README's "Layout of the code" block: indentation gives the folders."""
    section = README.read_text().split("## Layout of the code", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    paths, folders = set(), []  # folders: (indent, name) of the enclosing folders
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.match(r"\s*((?:[\w.-]+/?(?:, )?)+)", line)
        if not names or not line.strip():
            continue
        while folders and folders[-1][0] >= indent:
            folders.pop()
        prefix = "/".join(name for _, name in folders)
        for item in names.group(1).split(", "):
            item = item.strip()
            paths.add(f"{prefix}/{item}".strip("/").rstrip("/"))
        if names.group(1).rstrip().endswith("/") and ", " not in names.group(1):
            folders.append((indent, names.group(1).strip().rstrip("/")))
    return paths


def _real_tree() -> set[str]:
    """Every module and folder of the package (no __init__/__main__, no caches, no data files)."""
    root = PACKAGE.parent
    paths = set()
    for p in PACKAGE.rglob("*"):
        rel = p.relative_to(root)
        if "__pycache__" in rel.parts or p.name in ("__init__.py", "__main__.py"):
            continue
        if p.is_dir() and any(p.glob("*.py")):
            paths.add(str(rel))
        elif p.suffix == ".py":
            paths.add(str(rel))
    return paths


def test_readme_layout_matches_the_tree():
    named, real = _readme_tree(), _real_tree()
    assert not real - named, f"in the tree but not in the README's layout: {sorted(real - named)}"
    assert not named - real - _data_paths(named), f"in the README's layout but not in the tree: {sorted(named - real)}"


def _data_paths(named: set[str]) -> set[str]:
    """Data folders and files the README names (configs/, data/, the shipped model): they must exist."""
    return {n for n in named if (PACKAGE.parent / n).exists() and not n.endswith(".py")}
