"""``Module``, ``Sequential`` and ``ModuleList``: PyTorch's containers, on tapegrad.

A module registers the parameters and submodules assigned to its attributes.
Calling a module runs ``forward`` inside ``tapegrad.scope(name)`` -- the
attribute name it has in its parent, or its class name in lower case for the
outermost module -- so every record on the tape carries the module path
(``model/lstm/l0[t=3]``).
"""
from collections import OrderedDict, namedtuple

import numpy

import tapegrad
from tapegrad.errors import OpError, TapegradError, here

from .parameter import Parameter, change_dtype, clear_grads

#: What ``load_state_dict`` returns (the keys it skipped, with ``strict=False``).
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(TapegradError, RuntimeError):
    """``load_state_dict`` found missing/unexpected keys or mismatched shapes/dtypes."""


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters and
    submodules as attributes, and define ``forward``.  Parameter names are the
    dotted attribute paths (``encoder.weight_ih_l0``); each parameter's
    ``.name`` is set to that path when its module is assigned into a parent,
    and refreshed by ``named_parameters()`` called on the outermost module.
    """

    #: The first argument of ``forward`` is a float batch that meets the parameters: a
    #: float input of another dtype is refused (False for lookups such as Embedding).
    input_is_float = True

    def __init__(self):
        setattr_ = object.__setattr__
        setattr_(self, "_parameters", OrderedDict())
        setattr_(self, "_modules", OrderedDict())
        setattr_(self, "training", True)
        setattr_(self, "_scope_name", None)   # attribute name in the parent, once it has one
        setattr_(self, "_in_parent", False)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign {type(value).__name__} {name!r} to "
                                 f"{type(self).__name__} before Module.__init__() ran: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__.")
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._modules.pop(name, None)
            params[name] = value               # a re-assigned name keeps its place
            value.name = name
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            self._modules[name] = value
            object.__setattr__(value, "_scope_name", name)
            object.__setattr__(value, "_in_parent", True)
            for sub, p in value.named_parameters():
                p.name = f"{name}.{sub}"
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a parameter; assign an "
                                f"nn.Parameter (or None), not {type(value).__name__}. To change "
                                f"its values in place: `with tapegrad.no_grad(): "
                                f"module.{name}.copy_(new)`.")
            params[name] = None
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a submodule; assign a Module "
                                f"(or None), not {type(value).__name__}.")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        if param is None:
            self.__dict__.pop(name, None)
            self._modules.pop(name, None)
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name, module):
        """Register ``module`` under ``name`` (same as assigning the attribute)."""
        setattr(self, name, module)

    # ----------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        if args and self._parameters and self.input_is_float:
            _check_input(self, args[0])
        with tapegrad.scope(self._scope_name or type(self).__name__.lower()):
            return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward(); "
                                  f"subclasses of nn.Module must.")

    # -------------------------------------------------------------- traversal
    def named_modules(self, *, prefix=""):
        """(path, module) for this module and every submodule, each once, depth first.

        ``prefix`` is keyword-only: PyTorch's first argument here is ``memo``.
        """
        seen = set()
        stack = [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            children = [(f"{path}.{n}" if path else n, m)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        """This module and every module below it, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """``(name, module)`` for each direct submodule."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        """Each direct submodule."""
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, parameter) pairs, each parameter once, in registration order.

        Called on the outermost module, it also sets every parameter's
        ``.name`` to its dotted path.
        """
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        pairs = []
        for path, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                pairs.append((f"{path}.{name}" if path else name, p))
        if not self._in_parent and not prefix:
            for name, p in pairs:
                p.name = name
        return iter(pairs)

    def parameters(self, recurse=True):
        """Every parameter of this module (and, with ``recurse``, of its submodules), once each."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, then on this one (e.g. custom init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes/state
    def train(self, mode=True):
        """Set training mode (dropout active) on this module and all submodules."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget accumulated gradients: ``.grad = None`` (or zeros, ``set_to_none=False``)."""
        clear_grads(self.parameters(), set_to_none)

    def to(self, dtype):
        """Cast every parameter (and its gradient) to the floating ``dtype``, in place."""
        for p in self.parameters():
            change_dtype(p, dtype)
        return self

    def double(self):
        """Cast every parameter to float64, in place; returns the module."""
        return self.to(numpy.float64)

    def float(self):
        """Cast every parameter to float32, in place; returns the module."""
        return self.to(numpy.float32)

    def state_dict(self):
        """OrderedDict of parameter name -> a writable NumPy copy of its values."""
        return OrderedDict((name, numpy.array(p.data, copy=True))
                           for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` (name -> array or tensor) into the parameters.

        Everything is checked before anything is written: missing and
        unexpected keys (ignored with ``strict=False``), and every shape and
        dtype mismatch, are reported together by name, and on any error the
        module is left untouched.  Returns ``IncompatibleKeys``.
        """
        own = OrderedDict(self.named_parameters())
        arrays = OrderedDict((k, _as_array(v)) for k, v in state_dict.items())
        missing = [k for k in own if k not in arrays]
        unexpected = [k for k in arrays if k not in own]
        problems = []
        if strict and missing:
            problems.append("missing keys (in the model, not in the state dict): "
                            + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected keys (in the state dict, not in the model): "
                            + ", ".join(repr(k) for k in unexpected))
        for k, p in own.items():
            if k not in arrays:
                continue
            a = arrays[k]
            if a.shape != p.shape:
                problems.append(f"shape mismatch for {k!r}: the state dict has {a.shape}, "
                                f"the model has {p.shape}")
            elif a.dtype != p.dtype:
                problems.append(f"dtype mismatch for {k!r}: the state dict has {a.dtype}, "
                                f"the model has {p.dtype}")
        if problems:
            raise StateDictError(
                f"load_state_dict: cannot load into {type(self).__name__}; nothing was loaded.\n  "
                + "\n  ".join(problems)
                + "\nFix: build the model with the sizes of the one that was saved; match dtypes "
                  "with model.double()/model.float() or by casting the arrays; pass strict=False "
                  "to skip missing and unexpected keys.")
        with tapegrad.no_grad():
            for k, p in own.items():
                if k in arrays:
                    p.copy_(arrays[k])
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- display
    def describe(self):
        """``Linear(in_features=3, ...) 'fc' (at model.py:12)``: this module and the user's
        line that called it, for error messages."""
        where = f" {self._scope_name!r}" if self._scope_name else ""
        return f"{type(self).__name__}({self.extra_repr()}){where} (at {here()})"

    def extra_repr(self):
        """The text inside this module's parentheses in ``repr`` (override it)."""
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        head = type(self).__name__ + "("
        if not lines:
            return head + self.extra_repr() + ")"
        extra = self.extra_repr()
        inner = ([extra] if extra else []) + lines
        return head + "\n  " + "\n  ".join(inner) + "\n)"


def _check_input(module, x):
    """Refuse a float input whose dtype differs from the module's parameters, and a list of
    floats, naming the module and the fix (PyTorch refuses both; tapegrad would otherwise
    run the layer in the promoted dtype, or fail deep inside)."""
    if isinstance(x, (list, tuple)):
        try:
            kind = numpy.asarray(x).dtype.kind
        except ValueError:          # ragged
            kind = "O"
        if kind in "fO":            # lists of ids (for Embedding) stay accepted
            raise OpError(f"{module.describe()}: input is a {type(x).__name__}; nn layers take "
                          f"a tensor. Fix: tapegrad.tensor(numbers), or tapegrad.stack(tensors).")
        return
    dtype = getattr(x, "dtype", None)
    if dtype is None or dtype.kind != "f":
        return
    for p in module._parameters.values():
        if p is not None and p.dtype.kind == "f":
            if p.dtype != dtype:
                raise OpError(f"{module.describe()}: input is {dtype} but the layer's "
                              f"parameters are {p.dtype}; the layer would silently run in "
                              f"{numpy.result_type(dtype, p.dtype)}. Fix: cast the input "
                              f"(x.to(tapegrad.{p.dtype}) or tapegrad.tensor(batch, "
                              f"dtype=tapegrad.{p.dtype})), or the model (model.to("
                              f"tapegrad.{dtype})).")
            return


def _as_array(value):
    """A state-dict value as an ndarray (tapegrad tensors, torch tensors, arrays)."""
    if hasattr(value, "detach"):
        value = value.detach()
    return numpy.asarray(value)


def _view(cls, items):
    """A container of ``cls`` holding ``items`` ((name, module) pairs) without adopting them.

    A slice of a container is such a view: its modules keep the scope names
    and parameter names they have in the container they belong to (assigning
    them into the view would rename them, and the tape and the drawings of the
    whole model would then show the slice's numbering).
    """
    view = cls.__new__(cls)
    Module.__init__(view)
    view._modules.update((str(name), m) for name, m in items)
    object.__setattr__(view, "_in_parent", True)     # its parameter names are not its own
    return view


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 8), Tanh(), Linear(8, 1))``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module):
        """Add ``module`` at the end; returns the container."""
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):        # keeps the names, like PyTorch's
            return _view(Sequential, list(self._modules.items())[index])
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules whose parameters are registered (named ``0``, ``1``, ...)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        """Add ``module`` at the end; returns the list."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        """Add each of ``modules`` at the end; returns the list."""
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):        # renumbered from 0, like PyTorch's
            return _view(ModuleList, enumerate(items[index]))
        return items[index]

    def __setitem__(self, index, module):
        name = list(self._modules)[index]
        self.add_module(name, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
