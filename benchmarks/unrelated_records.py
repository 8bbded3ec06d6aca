"""Backward of a 2-op graph alone, and with 200,000 unrelated records alive in between.

The graph's first record is made, then a long chain of another graph that is
kept alive (a model held for inspection), then the graph's root.  The
backward must visit only the root's records: the ratio should stay near 1.

    OMP_NUM_THREADS=1 python benchmarks/unrelated_records.py [--records 200000]
"""
import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import tapegrad as tg  # noqa: E402


def backward_time(unrelated, repeat):
    """Median seconds of ``loss.backward(retain_graph=True)`` over ``repeat`` runs."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = tg.tanh(x)                                  # op 1
    other = tg.tensor([0.5], requires_grad=True)
    kept = []
    for _ in range(unrelated):
        other = other * 1.0
        kept.append(other)
    loss = a.sum()                                  # op 2
    times = []
    gc.collect()
    gc.disable()        # no collection inside a timing, and none between them: a full
    try:                # collection walks the 200,000 live objects and leaves the caches cold
        for _ in range(repeat):
            start = time.perf_counter()
            loss.backward(retain_graph=True)
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=51)
    args = parser.parse_args()
    alone = backward_time(0, args.repeat)
    crowded = backward_time(args.records, args.repeat)
    print(f"2-op backward, median of {args.repeat}: alone {alone * 1e6:.1f} µs, with "
          f"{args.records} unrelated live records {crowded * 1e6:.1f} µs, "
          f"ratio {crowded / alone:.2f}")


if __name__ == "__main__":
    main()
