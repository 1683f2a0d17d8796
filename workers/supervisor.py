"""`wallet-analytics worker`: N Dramatiq worker processes, each replaced when it dies.

Dramatiq's CLI stops all its worker processes, and exits, when one of them dies: a SIGKILL or an
OOM kill of one process stopped the whole worker service until systemd restarted it. Here each
process runs one `dramatiq.Worker` (`python -m workers.supervisor --threads N`, the `run_one`
below) and the supervisor starts another in its place when one exits while the service runs; one
that keeps dying at start-up is started again at most every RESTART_PAUSE_SECONDS. SIGTERM and SIGINT
are passed on: each process stops taking messages and finishes its jobs, as under Dramatiq's CLI.
Messages the dead process had taken come back through the broker's maintenance (workers.broker).

The N processes consume the jobs' queues (exports, ETL). With EXPORT_WEBHOOK_URL set, one more
process consumes the webhooks queue alone: a receiver that is down or slow holds only its
threads, never one an export needs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# A slot starts a process at most this often, so one that dies at start-up does not spin.
RESTART_PAUSE_SECONDS = 5
# What Dramatiq's CLI allows running jobs on SIGTERM (its --worker-shutdown-timeout).
SHUTDOWN_TIMEOUT_MS = 600_000


class _Slot:
    def __init__(self, threads: int, queues: tuple[str, ...]):
        self._arguments = ["--threads", str(threads), "--queues", ",".join(queues)]
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "workers.supervisor", *self._arguments])
        self.started_at = time.monotonic()


def supervise(processes: int, threads: int, webhooks: bool) -> int:
    from workers.jobs import JOB_QUEUES, WEBHOOKS_QUEUE

    stopping = threading.Event()
    slots: list[_Slot] = []

    def stop(signum, _frame):
        stopping.set()
        for slot in slots:
            if slot.process.poll() is None:
                slot.process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    slots.extend(_Slot(threads, JOB_QUEUES) for _ in range(processes))
    if webhooks:
        slots.append(_Slot(threads, (WEBHOOKS_QUEUE,)))
    while not stopping.wait(POLL_SECONDS):
        for slot in slots:
            if slot.process.poll() is None or stopping.is_set():
                continue
            lived = time.monotonic() - slot.started_at
            if lived < RESTART_PAUSE_SECONDS:
                continue
            log.error("worker process %d exited with %s after %.0f s; starting another",
                      slot.process.pid, slot.process.returncode, lived)
            slot.start()
    for slot in slots:
        slot.process.wait()
    return 0


def run_one(threads: int, queues: set[str]) -> int:
    """One worker process: consume `queues` until SIGTERM or SIGINT, then finish the jobs in hand."""
    import dramatiq

    from workers import actors  # sets up logging as LOG_FORMAT and LOG_LEVEL say

    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    worker = dramatiq.Worker(actors.broker, worker_threads=threads, queues=queues)
    worker.start()
    # tests/bench waits for Dramatiq's own words before it times anything.
    log.info("Worker process is ready for action.")
    stop_requested.wait()
    worker.stop(timeout=SHUTDOWN_TIMEOUT_MS)
    actors.broker.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one wallet-analytics worker process (see `wallet-analytics worker`)")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--queues", required=True, help="the queues to consume, separated by commas")
    arguments = parser.parse_args()
    sys.exit(run_one(arguments.threads, set(arguments.queues.split(","))))
