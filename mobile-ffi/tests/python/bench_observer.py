"""What a case observer costs per write, through the Python bindings (a foreign callback, as
in an app): a note written on each of N cases with no observer, then with one that keeps
what it hears, each run ended by `flush_observers` so every notice has been delivered.
Prints the figures.

    mobile-ffi/bindgen.sh python    # or a release build: see BENCHMARKS.md
    PYTHONPATH=target/bindings/python:mobile-ffi/tests/python \\
        python3 mobile-ffi/tests/python/bench_observer.py [N]

Signs in at a stand-in center on loopback (stub_center.py); nothing else touches the network.
"""

import os
import statistics
import sys
import tempfile
import time

import gridsync_ffi as g
from stub_center import PASSWORD, USER, StubCenter


class Keeps(g.CaseObserver):
    def __init__(self):
        self.heard = 0
        self.calls = 0
        self.lag = []
        self.written = None

    def cases_changed(self, changes):
        self.heard += len(changes)
        self.calls += 1
        if self.written is not None:
            self.lag.append(time.perf_counter() - self.written)


def run(center, path, n, observer):
    c = g.FieldClient.open(path, f"bench-{os.path.basename(path)}", os.urandom(32))
    c.login(center.url, USER["username"], PASSWORD)
    # One note on each of n cases: every write costs the same (a note on a case of many
    # notes costs more, with or without observers).
    cases = [c.record_case(g.NewCase(title=f"拖欠工资{i}", category="LABOUR_WAGES"))
             for i in range(n)]
    if observer is not None:
        c.add_case_observer(observer)
    start = time.perf_counter()
    for case in cases:
        if observer is not None:
            observer.written = time.perf_counter()
        c.add_note(case, "入户走访")
    written = time.perf_counter() - start
    assert c.flush_observers(60_000)
    delivered = time.perf_counter() - start
    del c
    return written, delivered


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    center = StubCenter()
    # In memory where there is /dev/shm: an fsync costs more than everything measured here
    # and varies by more than it, so the difference would be noise.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    work = tempfile.mkdtemp(prefix="gridsync-bench-", dir=shm)
    rounds = []
    for r in range(5):
        base_w, base_d = run(center, os.path.join(work, f"plain{r}.db"), n, None)
        keeps = Keeps()
        obs_w, obs_d = run(center, os.path.join(work, f"observed{r}.db"), n, keeps)
        assert keeps.heard == n, keeps.heard
        rounds.append((base_w, base_d, obs_w, obs_d, statistics.median(keeps.lag), keeps.calls))
    center.close()
    base_w, base_d, obs_w, obs_d, lag, calls = sorted(rounds, key=lambda x: x[3] - x[1])[2]
    us = lambda seconds: seconds / n * 1e6
    print(f"writes per run: {n} (add_note), 5 runs, the run with the median cost shown")
    print(f"write, no observer:           {us(base_w):8.1f} us per write")
    print(f"write, with a Python observer: {us(obs_w):8.1f} us per write (the call returns)")
    print(f"  ... until every notice is delivered: {us(obs_d):8.1f} us per write")
    print(f"observer cost per write (delivered - no observer): {us(obs_d - base_d):6.1f} us")
    print(f"median lag, write returned -> listener called: {lag * 1e6:8.1f} us")
    print(f"listener calls: {calls} for {n} changes (changes that pile up are one call)")


if __name__ == "__main__":
    main()
