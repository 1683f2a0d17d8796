"""core.analytics.shared_reads: a caller gets a read begun after it arrived, and concurrent
callers of one key share one."""

from __future__ import annotations

import threading
import time

import pytest

from core.analytics.shared_reads import SharedReads

WAIT = 10


class Reader:
    """Reads numbered 1, 2, …; each waits for its own `release` event when asked to."""

    def __init__(self, hold: bool = False):
        self.begun = 0
        self.started = threading.Event()
        self.releases = [threading.Event() for _ in range(5)]
        self.hold = hold

    def __call__(self) -> int:
        self.begun += 1
        number = self.begun
        if self.hold:
            self.started.set()
            assert self.releases[number].wait(WAIT)
        return number


def _until_callers(shared: SharedReads, key: str, count: int) -> None:
    """Wait until `count` callers are inside read() for `key` (all but the reader wait)."""
    deadline = time.monotonic() + WAIT
    while shared._keys.get(key) is None or shared._keys[key].callers < count:
        assert time.monotonic() < deadline, "the callers never arrived"
        time.sleep(0.005)


def _in_thread(call) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(call()))
    thread.start()
    return thread, out


def test_a_caller_alone_reads_each_time():
    shared, reader = SharedReads(), Reader()
    assert [shared.read("k", reader) for _ in range(3)] == [1, 2, 3]


def test_callers_arriving_during_a_read_share_the_next_one_not_that_one():
    shared, reader = SharedReads(), Reader(hold=True)
    first, first_out = _in_thread(lambda: shared.read("k", reader))
    assert reader.started.wait(WAIT)
    reader.started.clear()
    waiting = [_in_thread(lambda: shared.read("k", reader)) for _ in range(4)]
    _until_callers(shared, "k", 5)
    reader.releases[1].set()  # read 1 ends; one of the four begins read 2 for all of them
    assert reader.started.wait(WAIT)
    reader.releases[2].set()
    for thread, _ in [(first, first_out), *waiting]:
        thread.join(WAIT)
    assert first_out == [1]
    assert [out for _, out in waiting] == [[2]] * 4 and reader.begun == 2
    assert not shared._keys  # nothing kept once every caller has left


def test_keys_do_not_share():
    shared, reader = SharedReads(), Reader()
    assert (shared.read("a", reader), shared.read("b", reader)) == (1, 2)


def test_the_error_of_a_shared_read_reaches_each_caller_of_it():
    shared = SharedReads()
    started, release = threading.Event(), threading.Event()

    def failing():
        started.set()
        assert release.wait(WAIT)
        raise RuntimeError("database unavailable")

    errors = []

    def call():
        try:
            shared.read("k", failing)
        except RuntimeError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=call)]
    threads[0].start()
    assert started.wait(WAIT)
    threads += [threading.Thread(target=call) for _ in range(3)]
    for thread in threads[1:]:
        thread.start()
    _until_callers(shared, "k", 4)
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert errors == ["database unavailable"] * 4
    with pytest.raises(RuntimeError):
        shared.read("k", failing)
