"""The parallel map (parallel.py): its workers are the parallelism, so
NumPy's BLAS keeps to one thread while a map runs."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

from beetsplug.similar.parallel import ordered_map


def blas_threads() -> int:
    """The threads of NumPy's own BLAS (an OpenMP BLAS loaded by another
    library, faiss's, answers per calling thread)."""
    return next(info["num_threads"] for info in threadpool_info()
                if info["user_api"] == "blas" and "numpy" in info["filepath"])


def test_blas_keeps_to_one_thread_while_workers_run_and_gets_its_threads_back():
    np.ones((64, 64)) @ np.ones((64, 64))  # BLAS loaded
    before = blas_threads()
    seen = list(ordered_map(lambda _: blas_threads(), range(6), workers=2, prefetch=2))
    assert seen == [1] * 6 and blas_threads() == before
    # one worker is no parallelism of ours: BLAS keeps its threads
    assert list(ordered_map(lambda _: blas_threads(), range(2), workers=1, prefetch=1)) \
        == [before] * 2


def test_a_map_stopped_early_gives_blas_its_threads_back():
    before = blas_threads()
    running = ordered_map(lambda _: blas_threads(), range(100), workers=2, prefetch=4)
    assert next(running) == 1
    running.close()  # the consumer stops (an exception, Ctrl-C)
    assert blas_threads() == before
