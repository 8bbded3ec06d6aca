"""``print(tape)``: a tape's records as a readable Wengert list.

    v7 = mul(v3, v5)              (4, 3) float32   model.py:12   rnn[t=2]

Tensors are numbered as they first appear (leaves and inputs too), so every
line reads as an assignment in execution order.
"""
from .tensor import TENSOR_TYPES


def _short(value):
    if hasattr(value, "shape"):
        return f"<{tuple(value.shape)}>"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def format_tape(records):
    names = {}
    leaves = []

    def name_of(t):
        rec = t._record
        key = (rec, max(t._slot, 0)) if rec is not None else t
        if key not in names:               # a leaf, made before the tape, or by a released record
            names[key] = f"v{len(names)}"
            leaves.append((names[key], t))
        return names[key]

    seen = set()
    lines = []
    for rec in records:
        if rec.released:
            lines.append(f"#{rec.index} {rec.op.name} (released by backward)  {rec.site}")
            seen.add(rec)
            continue
        args = [name_of(a) if type(a) in TENSOR_TYPES else _short(a) for a in rec.inputs]
        args += [f"{k}={_short(v)}" for k, v in rec.params.items()]
        seen.add(rec)
        outs = rec.out if type(rec.out) is tuple else (rec.out,)
        targets = []
        for slot in range(len(outs)):
            key = (rec, slot)
            names[key] = f"v{len(names)}"
            targets.append(names[key])
        shape = outs[0].shape if len(outs) == 1 else f"{len(outs)} outputs"
        dtype = outs[0].dtype
        lhs = ", ".join(targets)
        call = f"{lhs} = {rec.op.name}({', '.join(args)})"
        where = rec.scope_path
        lines.append(f"{call:<34} {str(shape):<12} {str(dtype):<8} {rec.site}"
                     + (f"   {where}" if where else ""))
    header = [f"{n} = input {tuple(t.shape)} {t.dtype}"
              + (" requires_grad" if t.requires_grad else "")
              + (f"  ({t.name})" if t.name else "")
              + (f"  (made by released #{t._record.index} {t._record.op.name})"
                 if t._record is not None and t._record in seen else "")
              for n, t in leaves]
    return "\n".join(header + lines)
