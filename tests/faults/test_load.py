"""Load (issue 5, item 8): 64 real writer processes x 10 metrics stream to one real service
process for ~15 s (the soak benchmark runs the same load for 60 s): nothing is lost or
duplicated, the service's memory stays bounded, and the ack latency is reported.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from faultkit import ServiceProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_soak import run_load

MAX_SERVICE_RSS_MIB = 300   # a memory bound (issue 5's target), not a timing


@pytest.mark.slow
def test_64_writers_stream_for_15_seconds_and_nothing_is_lost(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "data").start()
    try:
        figures = run_load(service.address, service.pid, writers=64, metrics=10, seconds=15, rate=2,
                           home=tmp_path / "home")
    finally:
        service.stop()
    assert figures["writers_finished"] == 64 and figures["writers_failed"] == 0, figures
    assert figures["points_logged"] >= 64 * 10 * 15, figures    # every writer really streamed
    assert figures["points_lost"] == 0 and figures["duplicates"] == 0, figures
    assert figures["points_stored"] == figures["points_logged"], figures
    assert figures["service_peak_rss_mib"] < MAX_SERVICE_RSS_MIB, figures
    print(f"\n64 writers: {figures['points_logged']} points, ack latency p50 "
          f"{figures['ack_latency_p50_ms']} ms / p99 {figures['ack_latency_p99_ms']} ms, service peak RSS "
          f"{figures['service_peak_rss_mib']} MiB, service CPU {figures['service_cpu_s']} s")
