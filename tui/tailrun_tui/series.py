"""Metric series for the charts, without Textual: initial load from GetSeries, live points from
Watch (deduplicated by point index), local min/max re-bucketing so memory and plot time stay
bounded however long a run logs, and the display transforms (last N, smoothing, log scale)."""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.wire import NOT_NUMBERS

from .fmt import number


def scalar_values(points: pb.MetricPoints) -> list[float]:
    """One float per point (NaN for points that are not numbers)."""
    if not points.columns:
        return []
    col = points.columns[0]
    values = list(col.values)
    if col.kinds:
        kinds = col.kinds
        for i, kind in enumerate(kinds[: len(values)]):
            if kind in NOT_NUMBERS:   # (a bool is plotted as 0/1)
                values[i] = math.nan
    return values


def last_number(points: pb.MetricPoints) -> float | None:
    """The last float of a scalar chunk, without decoding the rest of it."""
    if not points.columns:
        return None
    col = points.columns[0]
    for i in range(len(col.values) - 1, -1, -1):
        kind = col.kinds[i] if i < len(col.kinds) else 0
        if kind in (0, 1, 2) and col.values[i] == col.values[i]:
            return col.values[i]
    return None


def point_xs(points: pb.MetricPoints, count: int) -> list[float]:
    if points.steps:
        return [float(s) for s in points.steps[:count]]
    start = points.first_index
    return [float(start + i) for i in range(count)]


def bucket_min_max(xs: list[float], ys: list[float], target: int, ts: list[float] | None = None) -> tuple:
    """About `target` points: the min and the max of each bucket, in x order, so spikes survive,
    and the last point, so the line ends where the metric is now. With `ts` (a time per point),
    returns (xs, ys, ts)."""
    n = len(xs)
    if n <= target or target < 4:
        return (xs, ys) if ts is None else (xs, ys, ts)
    buckets = (target - 1) // 2
    out_x: list[float] = []
    out_y: list[float] = []
    out_t: list[float] = []
    for b in range(buckets):
        lo = b * n // buckets
        hi = (b + 1) * n // buckets
        if hi <= lo:
            continue
        seg = range(lo, hi)
        imin = min(seg, key=ys.__getitem__)
        imax = max(seg, key=ys.__getitem__)
        for i in sorted({imin, imax}):
            out_x.append(xs[i])
            out_y.append(ys[i])
            if ts is not None:
                out_t.append(ts[i])
    if out_x[-1] != xs[-1] or out_y[-1] != ys[-1]:
        out_x.append(xs[-1])
        out_y.append(ys[-1])
        if ts is not None:
            out_t.append(ts[-1])
    return (out_x, out_y) if ts is None else (out_x, out_y, out_t)


@dataclass
class Series:
    """One scalar metric of one run, as shown in one chart."""
    run_id: str
    name: str
    max_points: int = 200
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)   # time of each point, when known (else empty)
    total: int = 0            # raw points known (index of the next point)
    has_steps: bool = False
    downsampled: bool = False
    loaded: bool = False
    window: float = 0.0       # last-N mode: x span to keep (0 = everything)
    needs_reload: bool = False
    last_point: tuple[float, float] | None = None   # (x, y) last logged number: not a bucket's min/max

    def load(self, resp: pb.SeriesResponse, tail: int = 0, last: tuple[float, ...] | None = None) -> None:
        """`last`: the series' true last point (x, y[, time]) when `resp` is downsampled (its
        min/max buckets may have left it out); it is also drawn, so the line ends at the value the
        title gives."""
        self.xs, self.ys = list(resp.x), list(resp.y)
        self.ts = list(resp.t) if len(resp.t) == len(resp.x) else []
        if last is not None and (not self.xs or last[0] > self.xs[-1]):
            self.xs.append(last[0])
            self.ys.append(last[1])
            if self.ts:
                self.ts.append(last[2] if len(last) > 2 else math.nan)
        finite = [(x, y) for x, y in zip(self.xs, self.ys) if not math.isnan(y)]
        self.last_point = (last[0], last[1]) if last else (finite[-1] if finite else None)
        self.total = resp.total_points
        self.has_steps = resp.has_steps
        self.downsampled = resp.downsampled
        self.loaded = True
        self.needs_reload = False
        self.window = (self.xs[-1] - self.xs[0]) if (tail and len(self.xs) > 1) else 0.0

    def append(self, points: pb.MetricPoints) -> bool:
        """Add live points; returns True when the chart changed. A gap (missed points) asks for a reload."""
        values = scalar_values(points)
        if not values:
            return False
        first = points.first_index
        if self.loaded and first > self.total:
            self.needs_reload = True
            return False
        skip = max(0, self.total - first) if self.loaded else 0
        if skip >= len(values):
            return False
        xs = point_xs(points, len(values))[skip:]
        ys = values[skip:]
        ts = list(points.times[skip:len(values)])
        keep_times = len(self.ts) == len(self.xs) and len(ts) == len(ys)
        if not keep_times:
            self.ts = []
        self.total = max(self.total, first + len(values)) if self.loaded else self.total + len(ys)
        self.has_steps = self.has_steps or bool(points.steps)
        for i, (x, y) in enumerate(zip(xs, ys)):
            if not math.isnan(y):
                self.xs.append(x)
                self.ys.append(y)
                if keep_times:
                    self.ts.append(ts[i])
                self.last_point = (x, y)
        if self.window and self.xs:
            cut = self.xs[-1] - self.window
            keep = next((i for i, x in enumerate(self.xs) if x >= cut), 0)
            if keep:
                del self.xs[:keep], self.ys[:keep]
                if self.ts:
                    del self.ts[:keep]
        if len(self.xs) > 4 * self.max_points:
            if self.ts:
                self.xs, self.ys, self.ts = bucket_min_max(self.xs, self.ys, 2 * self.max_points, self.ts)
            else:
                self.xs, self.ys = bucket_min_max(self.xs, self.ys, 2 * self.max_points)
            self.downsampled = True
        return True

    def point_at(self, x: float) -> tuple[float, float, float | None] | None:
        """(x, y, time or None) of the last point at or before `x`: what a cursor at x reads."""
        at = bisect.bisect_right(self.xs, x) - 1
        if at < 0:
            return None
        t = self.ts[at] if len(self.ts) == len(self.xs) and math.isfinite(self.ts[at]) else None
        return self.xs[at], self.ys[at], t

    def last(self) -> float | None:
        return self.last_point[1] if self.last_point else None

    def last_label(self) -> str:
        """`0.9859 @ step 1999` (or `@ #1999` without steps): the value last logged."""
        if self.last_point is None:
            return "—"
        x, y = self.last_point
        where = f"step {int(x):,}" if self.has_steps else f"#{int(x):,}"
        return f"{number(y)} @ {where}"

    def view(self, smoothing: float = 0.0, log_scale: bool = False) -> tuple[list[float], list[float]]:
        xs, ys = self.xs, self.ys
        if smoothing > 0 and ys:
            ys = ema(ys, smoothing)
        if log_scale:
            pairs = [(x, y) for x, y in zip(xs, ys) if y > 0]
            xs = [p[0] for p in pairs]
            ys = [p[1] for p in pairs]
        return xs, ys


def integer_ticks(lo: float, hi: float, count: int = 5) -> list[int]:
    """Ticks for a step (or index) axis: whole numbers 1, 2 or 5 × 10^k apart, never `161.5`."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    span = max(1.0, hi - lo)
    raw = span / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), 10 * magnitude)
    step = max(1, int(round(step)))
    first = math.ceil(lo / step) * step
    return list(range(int(first), int(math.floor(hi)) + 1, step))


def ema(ys: list[float], alpha: float) -> list[float]:
    """TensorBoard-style exponential smoothing with debiasing, so the start is not pulled to zero."""
    out: list[float] = []
    acc = 0.0
    weight = 0.0
    for y in ys:
        if math.isnan(y) or math.isinf(y):
            out.append(y)
            continue
        acc = acc * alpha + (1 - alpha) * y
        weight = weight * alpha + (1 - alpha)
        out.append(acc / weight if weight else y)
    return out
