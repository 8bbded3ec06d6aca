"""Which drawn box each operation goes to: its own, its step's (collapsed), or an elision.

A `Box` stands for one or more operations; its ``cluster`` is the
step it sits in (None outside the steps and for elided runs).
"""
from collections import Counter

from .graph import ident
from .steps import run_of


class Box:
    """A drawn node standing for one or more operations."""

    def __init__(self, box_id, kind, cluster):
        self.id = box_id
        self.kind = kind            # "op", "group" or "elided"
        self.cluster = cluster      # step key of the enclosing cluster, or None
        self.ops = []
        self.key = None             # group path, or (family, run) for elided boxes


def step_text(frames):
    """``l0[t=3]`` -> ``l0 · t = 3`` for cluster titles."""
    f = frames[-1]
    return f"{f.name} · t = {f.step}" if f.name not in ("t", "step") else f"t = {f.step}"


def group_key(op, collapse):
    if collapse is None:
        return None
    if collapse == "step":
        return op.step_key
    return op.frames[:collapse] if len(op.frames) >= collapse else None


def assign(graph, opts, drawn, runs):
    """Map every operation to its box; returns (boxes in order, op -> box)."""
    boxes = {}
    box_of = {}
    for op in graph.ops:
        gk = group_key(op, opts.collapse)
        spans_steps = gk is not None and not any(f.step is not None for f in gk)
        if spans_steps:
            key, kind, cluster = ("group", gk), "group", None
        elif op.step is not None and op.step not in drawn:
            run = run_of(op.step, runs)
            key, kind, cluster = ("elided", op.family, run), "elided", None
        elif gk is not None:
            key, kind, cluster = ("group", gk), "group", op.step_key
        else:
            key, kind, cluster = ("op", op.pos), "op", op.step_key
        box = boxes.get(key)
        if box is None:
            if kind == "op":
                box_id = op.id
            elif kind == "group":
                box_id = "group_" + ident("/".join(str(f) for f in gk))
            else:
                box_id = f"elided_{ident(op.family)}_t{key[2][0]}_{key[2][1]}"
            box = boxes[key] = Box(box_id, kind, cluster)
            box.key = key[1:]
        box.ops.append(op)
        box_of[op] = box
    return list(boxes.values()), box_of


def boundary_norm(box, box_of, consumers, root):
    """Norm of the gradients of the values that leave a box (its outputs as a unit)."""
    parts = []
    for op in box.ops:
        if op is root or any(box_of[c] is not box for c in consumers.get(op, ())):
            if op.grad_norm is not None:
                parts.append(op.grad_norm)
    if not parts:
        return None
    return float(sum(p * p for p in parts) ** 0.5)


def op_summary(ops, width=28):
    """``matmul, add, sigmoid×3`` wrapped into lines of about ``width`` characters."""
    counts = Counter(op.name for op in ops)
    words = [f"{n}×{k}" if k > 1 else n for n, k in counts.items()]
    lines, line = [], ""
    for w in words:
        if line and len(line) + len(w) + 2 > width:
            lines.append(line + ",")
            line = w
        else:
            line = f"{line}, {w}" if line else w
    return lines + [line]
