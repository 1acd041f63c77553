"""Helpers shared by the demo scripts: a realistic loss curve and a PNG writer using only the stdlib."""
from __future__ import annotations

import math
import random
import struct
import zlib


def loss_at(step: int, lr: float, noise: float, rng: random.Random) -> float:
    """Decays like a real training loss: fast first, then a slow tail, with noise and rare spikes."""
    base = 2.3 * math.exp(-step * lr * 0.9) + 0.25 * math.exp(-step * lr * 0.08) + 0.05
    spike = 0.4 if rng.random() < 0.004 else 0.0
    return max(0.001, base * (1 + rng.gauss(0, noise)) + spike)


def accuracy_from_loss(loss: float) -> float:
    return max(0.0, min(1.0, 1.0 - 0.42 * loss + 0.02 * math.sin(loss * 7)))


def png(width: int, height: int, pixel) -> bytes:
    """A PNG of `pixel(x, y) -> (r, g, b)`, written with zlib + struct."""
    raw = b"".join(b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def sample_grid(epoch: int, size: int = 48) -> bytes:
    """A 'predictions' picture that sharpens as training goes on."""
    sharp = min(1.0, 0.2 + epoch * 0.15)

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        cx, cy = (x % 16) - 8, (y % 16) - 8
        d = math.hypot(cx, cy)
        v = max(0.0, 1.0 - abs(d - 5) * sharp * 0.6)
        return int(255 * v), int(120 + 100 * v * (x / size)), int(255 * (1 - v) * 0.6)

    return png(size, size, pixel)
