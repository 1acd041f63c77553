"""Profile of the sender's encoder alone: 1,000,000 queued points encoded to wire bytes (cProfile).

Not part of `make bench`: run `python bench/profile_encoder.py` when working on `_encode.py`/`_columns.py`.
"""
import time, collections
from itertools import repeat, starmap
from tailrun._encode import Encoder
names = [f"metric_{m}" for m in range(10)]
q = collections.deque()
now = time.time
for step in range(100_000):
    v = step * 0.001
    for n in names:
        q.append((0, "rid", n, v, step, now()))
enc = Encoder("w")
t0 = time.perf_counter()
nb = 0; nbytes = 0
while q:
    items = list(starmap(q.popleft, repeat((), min(len(q), enc.max_points))))
    for out in enc.encode(items):
        nbytes += len(out.wire("w", nb + 1)); nb += 1
print("encode+serialize 1M:", time.perf_counter() - t0, "batches", nb, "bytes", nbytes)
import cProfile, pstats
for step in range(100_000):
    for n in names:
        q.append((0, "rid", n, step*0.001, step, now()))
pr = cProfile.Profile(); pr.enable()
while q:
    items = list(starmap(q.popleft, repeat((), min(len(q), enc.max_points))))
    for out in enc.encode(items):
        out.wire("w", 1)
pr.disable()
pstats.Stats(pr).sort_stats("tottime").print_stats(12)
