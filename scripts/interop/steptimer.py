"""The peer benchmarks' timing loop (scripts/bench_pytorch.py, bench_deepsparse.py, bench_sparseprop.py)."""
import statistics
import time


def timed(run, steps):
    """Runs `run` twice to warm up, then `steps` times; returns the median and the minimum, in seconds."""
    run()
    run()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)
