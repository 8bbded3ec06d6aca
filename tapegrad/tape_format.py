"""``print(tape)``: a tape's records as a readable Wengert list.

    v0 = input (4, 3) float32 requires_grad
    v1 = input (4, 3) float32
    v2 = mul(v0, v1)   (4, 3)  float32  model.py:12  rnn[t=2]

The values the records read but did not make (leaves, tensors made before
the tape, outputs of released records) are listed first as inputs ``v0 ..
vk-1``; the records' outputs are numbered on from there in execution order,
so every line reads as an assignment and numbers only grow down the list.
"""
from .tensor import TENSOR_TYPES


def _short(value):
    if hasattr(value, "shape"):
        return f"<{tuple(value.shape)}>"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _key(t):
    rec = t._record
    return (rec, max(t._slot, 0)) if rec is not None else t


def _outputs(rec):
    return rec.out if type(rec.out) is tuple else (rec.out,)


def format_tape(records):
    listed = [rec for rec in records if not rec.released]
    made = set()          # keys of values made by a listed record (so far, in pass 1)
    names = {}
    inputs = []
    for rec in listed:    # pass 1: the inputs, in order of first use
        for a in rec.inputs:
            if type(a) in TENSOR_TYPES and _key(a) not in made and _key(a) not in names:
                names[_key(a)] = f"v{len(names)}"
                inputs.append(a)
        made.update((rec, slot) for slot in range(len(_outputs(rec))))
    for rec in listed:    # pass 2: the outputs, in execution order
        for slot in range(len(_outputs(rec))):
            names[(rec, slot)] = f"v{len(names)}"

    released = {rec for rec in records if rec.released}
    header = [f"{names[_key(t)]} = input {tuple(t.shape)} {t.dtype}"
              + (" requires_grad" if t.requires_grad else "")
              + (f"  ({t.name})" if t.name else "")
              + (f"  (made by released #{t._record.index} {t._record.op.name})"
                 if t._record in released else "")
              for t in inputs]
    rows = []
    for rec in records:
        if rec.released:
            rows.append((f"#{rec.index} {rec.op.name} (released by backward)", None, rec))
            continue
        args = [names[_key(a)] if type(a) in TENSOR_TYPES else _short(a) for a in rec.inputs]
        args += [f"{k}={_short(v)}" for k, v in rec.params.items()]
        outs = _outputs(rec)
        lhs = ", ".join(names[(rec, slot)] for slot in range(len(outs)))
        shape = str(outs[0].shape) if len(outs) == 1 else f"{len(outs)} outputs"
        rows.append((f"{lhs} = {rec.op.name}({', '.join(args)})", (shape, str(outs[0].dtype)),
                     rec))
    call_width = max((len(call) for call, facts, _ in rows if facts), default=0)
    shape_width = max((len(facts[0]) for _, facts, _ in rows if facts), default=0)
    lines = []
    for call, facts, rec in rows:
        if facts is None:
            lines.append(f"{call}  {rec.site}")
            continue
        where = rec.scope_path
        lines.append(f"{call:<{call_width}}  {facts[0]:<{shape_width}}  {facts[1]:<7}  "
                     f"{rec.site}" + (f"  {where}" if where else ""))
    return "\n".join(header + lines)
