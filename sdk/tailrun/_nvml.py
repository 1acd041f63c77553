"""NVIDIA GPUs through NVML (`pynvml`, from the optional `nvidia-ml-py`: `pip install 'tailrun[gpu]'`).

Every GPU NVML sees, by NVML index (gpu0, gpu1, ...): utilisation, memory used, temperature and
power. These are the GPU's figures, whoever uses it: NVML has no per-process utilisation.
No NVIDIA driver means no GPU metrics, silently (a machine without a GPU); the driver without
`pynvml` says once which extra to install. NVML present but failing (driver/library mismatch, no permission, a GPU lost mid-run)
turns GPU sampling off with one line, never the run. A figure a GPU does not support (power on
some boards) is left out for that GPU.

`open` imports and initialises NVML on the calling thread; `sample` only calls into the loaded
library (no imports: it runs on the sampler thread).
"""
from __future__ import annotations

import os
from typing import Any, Callable

MIB = 1024 * 1024
DRIVER_GPUS = "/proc/driver/nvidia/gpus"   # a folder per GPU while the NVIDIA driver is loaded


class Gpus:
    def __init__(self, nvml: Any, handles: list[Any], say: Callable[[str], None]) -> None:
        self._nvml = nvml
        self._say = say
        self._not_supported = nvml.NVML_ERROR_NOT_SUPPORTED
        temperature = nvml.NVML_TEMPERATURE_GPU
        # (metric name, reading) per GPU and figure; a figure NotSupported is dropped for its GPU.
        self._readings: list[tuple[str, Callable[[], float]]] = []
        for i, h in enumerate(handles):
            self._readings += [
                (f"gpu{i}_utilization_percent", lambda h=h: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)),
                (f"gpu{i}_memory_used_mb", lambda h=h: nvml.nvmlDeviceGetMemoryInfo(h).used / MIB),
                (f"gpu{i}_temperature_c", lambda h=h: float(nvml.nvmlDeviceGetTemperature(h, temperature))),
                (f"gpu{i}_power_w", lambda h=h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
            ]
        self.count = len(handles)

    @classmethod
    def open(cls, say: Callable[[str], None]) -> "Gpus | None":
        """The machine's GPUs, or None (no pynvml, no driver, no GPU, or NVML failing: said once)."""
        try:
            import pynvml as nvml
        except ImportError:
            if _driver_has_gpus():
                say("GPU metrics need NVIDIA's NVML bindings: pip install 'tailrun[gpu]' (nvidia-ml-py)")
            return None
        except Exception as exc:   # a broken installation must not stop the run
            say(f"GPU metrics are off: importing pynvml failed ({type(exc).__name__}: {exc})")
            return None
        try:
            nvml.nvmlInit()
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
            gpus = cls(nvml, handles, say)
        except Exception as exc:
            if getattr(exc, "value", None) == getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", object()):
                return None   # nvidia-ml-py installed on a machine without the NVIDIA driver
            say(f"GPU metrics are off: NVML failed ({_describe(exc)})")
            return None
        return gpus if gpus.count else None

    def sample(self) -> dict[str, float]:
        """{name: value} of every GPU figure; after an NVML failure, {} for good (said once)."""
        out: dict[str, float] = {}
        dropped = []
        for name, reading in self._readings:
            try:
                out[name] = reading()
            except Exception as exc:
                if getattr(exc, "value", None) == self._not_supported:
                    dropped.append(name)
                    continue
                self._say(f"GPU metrics are off: NVML failed reading {name} ({_describe(exc)})")
                self._readings = []
                return {}
        if dropped:
            self._readings = [r for r in self._readings if r[0] not in dropped]
        return out


def _driver_has_gpus() -> bool:
    try:
        return bool(os.listdir(DRIVER_GPUS))
    except OSError:
        return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
