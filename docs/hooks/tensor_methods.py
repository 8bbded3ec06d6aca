"""Griffe extension: ``Tensor``'s methods, which ``tapegrad.methods`` attaches at import time.

Read statically, ``tapegrad/tensor.py`` shows only what its class body
defines; the operators and method forms are set on the class by
``tapegrad.methods`` (so that ``Tensor`` sits below the operations).  This
extension adds the members the imported class has and the source lacks,
as the runtime inspector sees them, so the API reference shows them all
(with ``inspect.getdoc``'s docstring where the inspector finds none: the
slots' docstrings are in ``Tensor.__slots__``).
"""
import importlib
import inspect
import sys

import griffe


class TensorMethods(griffe.Extension):
    def on_package(self, *, pkg, **kwargs):
        if pkg.name != "tapegrad":
            return
        static = pkg["tensor"]["Tensor"]
        root = str(pkg.filepath.parent.parent)
        runtime = griffe.inspect("tapegrad.tensor", import_paths=[root, *sys.path])
        tensor = importlib.import_module("tapegrad.tensor").Tensor
        for name, member in runtime["Tensor"].members.items():
            if name.startswith("_") or name in static.members:
                continue
            value = getattr(tensor, name)
            doc = inspect.getdoc(value)
            if "<locals>" in getattr(value, "__qualname__", ""):
                # made by a factory (e.g. the dtype casts): an alias to it cannot resolve
                member = griffe.Function(name, parameters=griffe.Parameters(
                    griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)))
            if not member.is_alias and not member.docstring and doc:
                member.docstring = griffe.Docstring(doc, parent=member)
            static.set_member(name, member)
