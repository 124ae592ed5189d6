"""One native thread per process where many processes share the cores.

A server worker answers many small requests and a batch worker scores its own chunks: each process is
already one core's worth of work, so BLAS and OpenMP thread pools inside them would only fight over the
cores. Set before the libraries load (their pools size themselves on import); a value the user set wins.
"""

from __future__ import annotations

import os

NATIVE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def available_cpus() -> int:
    """The CPUs this process may run on, which size a pool of one-core workers: its affinity (a container's
    or ``taskset``'s limit), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def one_native_thread_per_process() -> None:
    """Ask OpenMP, OpenBLAS and MKL for one thread in this process and the processes it starts."""
    for variable in NATIVE_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
