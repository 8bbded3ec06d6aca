"""The package's import graph: no cycle, and no import inside a function to dodge one."""
import ast
import os

import tapegrad

ROOT = os.path.dirname(tapegrad.__file__)


def modules():
    """{dotted name: parsed file} for every module of tapegrad (tapegrad.nn included)."""
    found = {}
    for folder, _, files in os.walk(ROOT, followlinks=True):
        rel = os.path.relpath(folder, ROOT)
        package = "tapegrad" if rel == "." else "tapegrad." + rel.replace(os.sep, ".")
        for f in files:
            if f.endswith(".py"):
                name = package if f == "__init__.py" else f"{package}.{f[:-3]}"
                with open(os.path.join(folder, f), encoding="utf-8") as src:
                    found[name] = (ast.parse(src.read()), f == "__init__.py")
    return found


def imports_of(name, tree, is_package, known):
    """Modules of ``known`` that ``tree`` imports (a ``from m import x`` of a submodule x: m.x)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(p for p in (base, node.module) if p)
            for a in node.names:
                sub = f"{target}.{a.name}"
                yield sub if sub in known else target


def function_level_imports(tree):
    """Line numbers of imports inside a function or class body."""
    for scope in ast.walk(tree):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for node in ast.walk(scope):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node.lineno


def find_cycle(graph):
    """One import cycle of ``graph`` ({module: set of modules}) as a list, or None."""
    state = {}
    for start in graph:
        stack = [(start, iter(graph[start]))]
        path = [start]
        state[start] = "open"
        while stack:
            node, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state and nxt in graph:
                state[nxt] = "open"
                stack.append((nxt, iter(graph[nxt])))
                path.append(nxt)
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    found = modules()
    assert "tapegrad.nn.recurrent.cells" in found and "tapegrad.ops.shape" in found
    graph = {name: set(imports_of(name, tree, is_pkg, found)) - {name}
             for name, (tree, is_pkg) in found.items()}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_no_module_imports_inside_a_function():
    late = {name: lines for name, (tree, _) in modules().items()
            if (lines := sorted(set(function_level_imports(tree))))}
    assert not late, f"imports inside functions or classes (module: lines): {late}"
