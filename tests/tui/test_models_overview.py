"""Pilot tests: a run's Overview lists the models registered from it (name:version, the run path,
when), shows nothing for a run without models, and picks up a model registered while it is open."""
from __future__ import annotations

from typing import Any

import pytest

from tailrun.v1 import tailrun_pb2 as pb

from .conftest import screen_text, settle
from .seed import RUN_DONE, RUN_FAILED, RUN_LIVE, T0, Seeder

pytestmark = pytest.mark.timeout(120)


def register(seeder: Seeder, name: str, run_id: str, model_path: str, data: bytes | None = None) -> pb.ModelInfo:
    """RegisterModel over the real RPC: the run's own files, or `data` uploaded as `model_path`."""
    requests = [pb.RegisterModelRequest(spec=pb.RegisterModelSpec(name=name, run_id=run_id, model_path=model_path))]
    if data is not None:
        requests.append(pb.RegisterModelRequest(file=pb.FileChunk(path=model_path.rsplit("/", 1)[-1], data=data,
                                                                  last=True)))
    return seeder.stub.RegisterModel(iter(requests), metadata=seeder.metadata, timeout=30)


async def test_overview_lists_the_models_of_the_run(make_app: Any, seeded: Any) -> None:
    seeder = Seeder(seeded.address)
    try:
        assert register(seeder, "cnn", RUN_DONE, "outputs/model.bin").version == 1
        assert register(seeder, "cnn", RUN_DONE, "outputs/model.bin").version == 2
        register(seeder, "metrics-table", RUN_DONE, "outputs/metrics.csv")
    finally:
        seeder.close()
    app = make_app(run_id=RUN_DONE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Models registered from this run" in text
        lines = [line for line in text.splitlines() if ":" in line and "outputs/" in line]
        assert [line.split()[:2] for line in lines] == [["cnn:2", "outputs/model.bin"], ["cnn:1", "outputs/model.bin"],
                                                        ["metrics-table:1", "outputs/metrics.csv"]]
        assert "fold-1" in text   # the child runs are still listed below

    app = make_app(run_id=RUN_FAILED)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Models registered" not in screen_text(app)


async def test_a_model_registered_while_the_run_is_open_appears(make_app: Any, seeded: Any) -> None:
    seeder = Seeder(seeded.address)
    app = make_app(run_id=RUN_LIVE)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert "Models registered" not in screen_text(app)
            register(seeder, "live-net", RUN_LIVE, "outputs/live.pt", data=b"weights")
            seeder.patch(RUN_LIVE, T0 + 3100, set_tags={"registered": "live-net"})   # any change of the run
            await settle(pilot)
            text = screen_text(app)
            assert "Models registered from this run" in text and "live-net:1" in text and "live.pt" in text
    finally:
        seeder.close()
