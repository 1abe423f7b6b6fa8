"""One thread per numeric library where queries are answered one at a time (`matcher.threads`)."""

from __future__ import annotations

import threading

from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

from matcher.threads import one_thread_per_query


def _threads() -> dict[str, dict[str, int]]:
    """{library file: threads} as the calling thread sees them, apart for the libraries that keep one setting for the
    whole process (BLAS on its own threads: numpy's) and those that keep it per thread (OpenMP: FAISS's own, and
    FAISS's BLAS built on it)."""
    found: dict[str, dict[str, int]] = {"process": {}, "thread": {}}
    for lib in threadpool_info():
        scope = "process" if lib["user_api"] == "blas" and lib.get("threading_layer") == "pthreads" else "thread"
        found[scope][lib["filepath"]] = lib["num_threads"]
    return found


def _threads_of_another_thread() -> dict[str, dict[str, int]]:
    seen: dict[str, dict[str, int]] = {}
    worker = threading.Thread(target=lambda: seen.update(_threads()))
    worker.start()
    worker.join()
    return seen


def test_the_limit_covers_blas_in_every_thread_and_openmp_in_the_calling_one_until_the_block_ends():
    import faiss  # noqa: F401 - its BLAS and OpenMP libraries are loaded before the figures are taken

    OpenBLASController.clear_controlling_thread(force=True)  # threadpoolctl lets one live thread at a time set BLAS's
    with threadpool_limits(limits=2):  # as a process starts on two cores (an earlier test may have limited this one)
        before, elsewhere = _threads(), _threads_of_another_thread()
        assert before["process"] and before["thread"]  # numpy's BLAS; FAISS's OpenMP and BLAS
        with one_thread_per_query():
            inside, seen = _threads(), _threads_of_another_thread()
        after = _threads()
    assert all(n == 1 for scope in inside.values() for n in scope.values())
    assert all(n == 1 for n in seen["process"].values())
    # per thread: each thread that answers queries (each run of a workbench page) calls it itself
    assert seen["thread"] == elsewhere["thread"]
    assert after == before
