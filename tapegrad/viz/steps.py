"""Which time steps a drawing shows, and the runs of steps it elides.

``steps="auto"`` shows every step up to `AUTO_ALL`; beyond that the
first and last `AUTO_EDGE` steps, with the steps between them elided
(drawn as one node whose gradient terms are kept, so sums stay complete).
"""
from .errors import DrawError

AUTO_ALL = 8
AUTO_EDGE = 3


def select(all_steps, steps):
    """(set of drawn steps, list of elided runs as (first, last) step pairs)."""
    all_steps = sorted(all_steps)
    if steps == "all":
        chosen = set(all_steps)
    elif steps == "auto":
        chosen = set(all_steps if len(all_steps) <= AUTO_ALL
                     else all_steps[:AUTO_EDGE] + all_steps[-AUTO_EDGE:])
    elif isinstance(steps, int) and not isinstance(steps, bool):
        if steps < 2:
            raise DrawError(f"draw: steps={steps}; give at least 2 (the first and last step are "
                            f"always drawn), 'auto', 'all' or a list of step numbers.")
        head = (steps + 1) // 2
        chosen = set(all_steps if len(all_steps) <= steps
                     else all_steps[:head] + all_steps[len(all_steps) - (steps - head):])
    else:
        try:
            chosen = {int(s) for s in steps}
        except (TypeError, ValueError):
            raise DrawError(f"draw: steps must be 'auto', 'all', an int or a list of step "
                            f"numbers, got {steps!r}.") from None
        unknown = sorted(chosen - set(all_steps))
        if unknown:
            raise DrawError(f"draw: steps {unknown} do not occur in this graph; its steps are "
                            f"{all_steps[0]}..{all_steps[-1]}." if all_steps else
                            "draw: this graph has no time steps (no scope with step=).")
    runs = []
    previous = None
    for s in all_steps:
        if s not in chosen:
            if runs and runs[-1][1] == previous:
                runs[-1][1] = s
            else:
                runs.append([s, s])
        previous = s
    return chosen, [tuple(r) for r in runs]


def run_of(step, runs):
    for r in runs:
        if r[0] <= step <= r[1]:
            return r
    return None


def step_range(first, last):
    return f"t={first}" if first == last else f"t={first}..{last}"
