"""The API reference documents exactly each package's ``__all__``, every name with a description."""
import html
import inspect
import importlib
import re

import pytest

# The packages the reference covers, and the page each is documented on.
PACKAGES = {
    "tapegrad": ["tapegrad", "ops"],
    "tapegrad.viz": ["viz"],
    "tapegrad.testing": ["testing"],
    "tapegrad.nn": ["nn"],
    "tapegrad.nn.functional": ["functional"],
    "tapegrad.nn.init": ["functional"],
    "tapegrad.nn.optim": ["optim"],
    "tapegrad.nn.optim.lr_scheduler": ["optim"],
    "tapegrad.nn.utils": ["utils"],
}
ELSEWHERE = {"tapegrad.viz": ["../viz"]}   # draw and Drawing are documented on the viz guide
MODULES = {"tapegrad.backend"}              # documented whole, beside tapegrad.testing
HEADING = re.compile(r'<h(\d) id="([\w.]+)" class="doc doc-heading">')
ROLE = re.compile(r":(func|meth|class|attr|mod|data|exc|obj):")


def ids(site, pages):
    found = set()
    for page in pages:
        text = (site / "api" / page / "index.html").read_text(encoding="utf-8")
        found |= set(re.findall(r'id="([\w.]+)"', text))
    return found


def documented_paths(package, name):
    """The identifiers under which ``package.name`` may be documented: its own, or its definition's.

    (A submodule in ``__all__`` that is itself one of ``PACKAGES`` has a section of its own.)
    """
    obj = getattr(importlib.import_module(package), name)
    paths = {f"{package}.{name}"}
    if getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None):
        paths.add(f"{obj.__module__}.{obj.__qualname__}")
    return paths


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_is_documented(site, package):
    found = ids(site, PACKAGES[package] + ELSEWHERE.get(package, []))
    missing = [n for n in importlib.import_module(package).__all__
               if not documented_paths(package, n) & found and f"{package}.{n}" not in PACKAGES]
    pages = ", ".join(f"docs/api/{page}.md" for page in PACKAGES[package])
    assert not missing, (f"{package}.__all__ names missing from the API reference: {missing}; "
                         f"add a '::: {package}.NAME' line for each to {pages}")


@pytest.mark.parametrize("package", PACKAGES)
def test_the_reference_documents_nothing_outside_all(site, package):
    """Each top-level entry of the package's pages is a name of some documented package's ``__all__``."""
    public = set()
    for other in PACKAGES:
        for n in importlib.import_module(other).__all__:
            public |= documented_paths(other, n)
    for page in PACKAGES[package]:
        text = (site / "api" / page / "index.html").read_text(encoding="utf-8")
        tops = [ident for level, ident in HEADING.findall(text) if level == "3"]
        assert tops, f"api/{page} documents nothing"
        extra = [t for t in tops if t not in public | MODULES]
        assert not extra, f"api/{page} documents names outside every __all__: {extra}"


def test_every_documented_object_has_a_description(site):
    """A heading whose contents start with no text is an object without a docstring."""
    bare = []
    for page in (site / "api").glob("*/index.html"):
        text = page.read_text(encoding="utf-8")
        for match in HEADING.finditer(text):
            contents = re.compile(r'<div class="doc doc-contents[^"]*">\s*(<\w+[^>]*>|</div>)')
            first = contents.search(text, match.end())
            if first is None or first.group(1) in ("</div>", '<div class="doc doc-children">'):
                bare.append(match.group(2))
    assert not bare, f"documented without a description: {bare}"


def test_no_raw_sphinx_roles_in_the_built_site(site):
    hits = []
    for page in site.rglob("*.html"):
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        hits += [f"{page.relative_to(site)}: ...{text[max(m.start() - 30, 0):m.end() + 30]}..."
                 for m in ROLE.finditer(text)]
    assert not hits, "raw Sphinx roles in the built docs:\n" + "\n".join(hits)


def test_properties_are_attributes_with_their_docstring(site):
    """``Tensor.shape`` reads as an attribute with its description, not as ``property(lambda ...)``."""
    text = (site / "api" / "tapegrad" / "index.html").read_text(encoding="utf-8")
    assert "lambda" not in re.sub(r"<[^>]+>", "", text)
    start = text.index('id="tapegrad.Tensor.shape"')
    assert "doc-symbol-attribute" in text[start:start + 300]


# Called through ``module(x)`` / ``repr(module)``, so left out of the reference (mkdocs.yml filters).
HIDDEN = {"forward", "extra_repr"}


def public_methods(cls):
    """Public functions and properties that ``cls`` or a project base class defines."""
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] != "tapegrad":
            continue
        for name, member in vars(klass).items():
            if not name.startswith("_") and name not in HIDDEN and (
                    inspect.isfunction(member) or isinstance(member, (property, classmethod,
                                                                      staticmethod))):
                yield f"{klass.__qualname__}.{name}", member


def test_every_public_function_and_method_has_a_docstring():
    """The reference hides what has no docstring, so nothing public may lack one."""
    bare = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                bare |= {f"{obj.__module__}.{q}" for q, m in public_methods(obj)
                         if not inspect.getdoc(m.__func__ if hasattr(m, "__func__") else m)}
            elif callable(obj) and not inspect.getdoc(obj):
                bare.add(f"{package}.{name}")
    assert not bare, f"public functions and methods without a docstring: {sorted(bare)}"


def test_every_public_member_of_tensor_is_in_the_reference(site):
    """``Tensor``'s methods are attached at import (``tapegrad.methods``), so its page lists them
    by name: a new method must be added there."""
    import tapegrad
    text = (site / "api" / "tapegrad" / "index.html").read_text(encoding="utf-8")
    members = {n for klass in tapegrad.Tensor.__mro__[:-1] for n in vars(klass)
               if not n.startswith("_")}
    missing = sorted(n for n in members if f'id="tapegrad.Tensor.{n}"' not in text)
    assert not missing, f"Tensor members missing from docs/api/tapegrad.md: {missing}"
