"""The one read client: its errors name the service and what to do, and `follow` rides out a
restart of a real service (resuming after its cursor: nothing lost, nothing twice), stops on a
refused token, gives up when asked, and ends cleanly on `stop()` from another thread."""
from __future__ import annotations

import io
import queue
import socket
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from tailrun._script_wait import CONSOLE
from tailrun._settings import DEFAULT_PORT, Settings
from tailrun.client import Client, Follow, FollowState, resolve_read_settings
from tailrun.exceptions import AuthenticationError, ServiceUnavailable
from tui.seed import T0, Seeder

pytestmark = pytest.mark.timeout(60)
RUN_ID = "00000000-0000-4000-8000-00000000feed"
WAIT = 20   # seconds: generous, only reached when something is broken


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Followed:
    """A follow iterated in its own thread: its events, its state changes and how it ended,
    each in a queue the test waits on."""

    def __init__(self, client: Client, **request: Any) -> None:
        self.states: queue.Queue[FollowState] = queue.Queue()
        self.events: queue.Queue[Any] = queue.Queue()
        self.follow: Follow = client.follow(on_state=self.states.put, **request)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.follow:
                self.events.put(event)
        except BaseException as exc:   # the test asserts on it
            self.error = exc

    def wait_state(self, kind: str) -> FollowState:
        while True:
            state = self.states.get(timeout=WAIT)
            if state.kind == kind:
                return state

    def values(self, count: int) -> list[float]:
        return [self.events.get(timeout=WAIT).metrics.columns[0].values[0] for _ in range(count)]

    def end(self) -> None:
        self.follow.stop()   # from this (the test's) thread, not the iterating one
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def test_follow_resumes_after_a_restart_without_gaps_or_repeats(service_factory: Any, tmp_path: Path) -> None:
    port, data = _free_port(), tmp_path / "feed-data"
    svc = service_factory(port=port, data_dir=data, with_runner=False)
    seeder = Seeder(svc.address)
    seeder.start(RUN_ID, "feed", T0)
    seeder.close()
    client = Client(Settings(svc.address, None))
    followed = Followed(client, run_id=RUN_ID, kinds=["metrics"])
    try:
        assert followed.wait_state("live").generation == 1
        seeder = Seeder(svc.address)
        for i in range(5):
            seeder.scalars(RUN_ID, "loss", [float(i)], T0 + i)
        seeder.close()
        svc.stop(grace=0)
        down = followed.wait_state("disconnected")
        assert svc.address in down.message and down.retry_at > 0
        svc = service_factory(port=port, data_dir=data, with_runner=False)
        seeder = Seeder(svc.address)
        for i in range(5, 8):
            seeder.scalars(RUN_ID, "loss", [float(i)], T0 + i)
        got = followed.values(8)
        # A repeat would be a replay from an older cursor, so it would come before a later point.
        seeder.scalars(RUN_ID, "loss", [8.0], T0 + 8)
        seeder.close()
        got += followed.values(1)
        assert got == [float(i) for i in range(9)]
        assert followed.follow.state.kind == "live" and followed.follow.state.generation >= 2
    finally:
        followed.end()
        client.close()
    assert followed.error is None and followed.follow.state.kind == "stopped"
    assert followed.events.empty()   # no caught_up marker unless asked for


def test_follow_stops_on_a_refused_token_with_the_error(service_factory: Any) -> None:
    svc = service_factory(token="s3cret", with_runner=False)
    client = Client(Settings(svc.address, "nope"))
    followed = Followed(client, run_id=RUN_ID)
    refused = followed.wait_state("refused")
    followed.thread.join(WAIT)
    assert isinstance(followed.error, AuthenticationError)
    assert svc.address in refused.message and "TAILRUN_TOKEN" in refused.message
    client.close()


def test_follow_stopped_while_disconnected_ends_without_an_error() -> None:
    client = Client(Settings(f"127.0.0.1:{_free_port()}", None))
    followed = Followed(client, run_id=RUN_ID)
    assert "cannot reach the tailrun service" in followed.wait_state("disconnected").message
    followed.end()   # the backoff wait ends at once
    assert followed.error is None and followed.wait_state("stopped")
    client.close()


def test_follow_gives_up_when_asked() -> None:
    address = f"127.0.0.1:{_free_port()}"
    with Client(Settings(address, None)) as client:
        follow = client.follow(run_id=RUN_ID, give_up_after=0)
        with pytest.raises(ServiceUnavailable, match=f"cannot reach the tailrun service at {address}"):
            list(follow)
        assert follow.state.kind == "failed"


def test_errors_name_the_service_and_what_to_do(service_factory: Any) -> None:
    svc = service_factory(token="s3cret", with_runner=False)
    with Client(Settings(svc.address, "nope"), timeout=5) as client:
        with pytest.raises(AuthenticationError, match="TAILRUN_TOKEN") as info:
            client.list_experiments()
        assert svc.address in str(info.value)
    down = f"127.0.0.1:{_free_port()}"
    with Client(Settings(down, None)) as client:
        with pytest.raises(ServiceUnavailable, match=f"cannot reach the tailrun service at {down}"):
            client.get_experiment("x")


def test_connect_takes_arguments_then_the_environment(service_factory: Any, monkeypatch: Any) -> None:
    """`Client.connect()` is how a script gets the client: the environment names the service."""
    svc = service_factory(token="s3cret", with_runner=False)
    monkeypatch.setenv("TAILRUN_ADDRESS", svc.address)
    monkeypatch.setenv("TAILRUN_TOKEN", "s3cret")
    with Client.connect(timeout=5) as client:
        assert client.address == svc.address
        assert client.list_experiments() == []
    with Client.connect(token="nope", timeout=5) as client:   # an argument wins over the environment
        with pytest.raises(AuthenticationError):
            client.list_experiments()


def test_settings_fall_back_to_the_default_address_only_when_asked(tailrun_home: Path) -> None:
    """No address configured and no local service running: the UI still gets where one would be."""
    nothing = Settings(None, "t")
    with pytest.raises(ServiceUnavailable, match="no tailrun service is configured or running"):
        resolve_read_settings(nothing)
    assert resolve_read_settings(nothing, default_address=True) == Settings(f"127.0.0.1:{DEFAULT_PORT}", "t")


class Console(io.StringIO):
    """What wait_for_completion prints, with a signal on each write."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            n = super().write(text)
            self.changed.notify_all()
            return n

    def wait_for(self, text: str) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: text in self.getvalue(), WAIT), self.getvalue()


class Restartable:
    """A service on a fixed port and data dir with one seeded run whose console says "before the
    restart"; `restart()` stops it and starts the next service on the same port and data."""

    def __init__(self, service_factory: Any, data: Path, experiment: str) -> None:
        self.factory, self.port, self.data = service_factory, _free_port(), data
        self.svc = service_factory(port=self.port, data_dir=data, with_runner=False)
        seeder = Seeder(self.svc.address)
        seeder.start(RUN_ID, experiment, T0)
        self.offset = seeder.log_text(RUN_ID, CONSOLE, 0, "before the restart\n")
        seeder.close()

    def run(self) -> Any:
        from recorder_reset import reset_recorder

        from tailrun import Run, Workspace
        reset_recorder()
        return Run.get(Workspace(address=self.svc.address), RUN_ID)

    def restart_and_finish(self, after: Callable[[], None] = lambda: None) -> None:
        """Restart; the console gets "after the restart", then (after `after()`) the run completes."""
        self.svc.stop(grace=0)
        self.svc = self.factory(port=self.port, data_dir=self.data, with_runner=False)
        seeder = Seeder(self.svc.address)
        seeder.log_text(RUN_ID, CONSOLE, self.offset, "after the restart\n")
        after()
        seeder.patch(RUN_ID, T0 + 1, status="Completed")
        seeder.close()


def test_wait_for_completion_rides_out_a_service_restart(service_factory: Any, tmp_path: Path) -> None:
    """The console streamed before and after the restart, each line once; the final status ends it."""
    from recorder_reset import reset_recorder

    from tailrun._script_wait import wait

    served = Restartable(service_factory, tmp_path / "wait-data", "waits")
    run = served.run()
    out, result = Console(), {}
    waiter = threading.Thread(target=lambda: result.update(wait(run, True, False, out=out)), daemon=True)
    waiter.start()
    try:
        out.wait_for("before the restart\n")   # the follow is live: its backlog is printed
        served.restart_and_finish(after=lambda: out.wait_for("after the restart\n"))
        waiter.join(WAIT)
        assert not waiter.is_alive() and result["status"] == "Completed"
        console = out.getvalue()
        assert console.count("before the restart\n") == 1 and console.count("after the restart\n") == 1
    finally:
        reset_recorder()


def test_run_details_summary_rides_out_a_service_restart(service_factory: Any, tmp_path: Path) -> None:
    """RunDetails' text summary says once that the service is unreachable, keeps asking, and goes
    on after the restart: every console line once, and the final status ends it."""
    from recorder_reset import reset_recorder

    from tailrun.widgets import RunDetails

    served = Restartable(service_factory, tmp_path / "details-data", "details")
    details = RunDetails(served.run())
    out, result = Console(), []
    shower = threading.Thread(target=lambda: result.append(details.print_summary(out, interval=0.05)), daemon=True)
    shower.start()
    try:
        out.wait_for("before the restart\n")
        served.svc.stop(grace=0)
        out.wait_for("retrying for 30 s")
        served.restart_and_finish()
        shower.join(WAIT)
        assert not shower.is_alive() and result == ["Completed"]
        printed = out.getvalue()
        assert printed.count("before the restart") == 1 and printed.count("after the restart") == 1
        assert printed.count("retrying for") == 1
        assert f"cannot reach the tailrun service at {served.svc.address}" in printed
    finally:
        reset_recorder()


def test_logs_follow_rides_out_a_service_restart(service_factory: Any, tmp_path: Path) -> None:
    """`tailrun logs -f` went on after a restart (it used to end with "the service ended the
    stream"): every line once, in order, and exit 0 at the final status."""
    from tailrun.cli import query

    port, data = _free_port(), tmp_path / "logs-data"
    svc = service_factory(port=port, data_dir=data, with_runner=False)
    seeder = Seeder(svc.address)
    seeder.start(RUN_ID, "logs", T0)
    offset = seeder.log_text(RUN_ID, CONSOLE, 0, "read first\n")
    client = Client(Settings(svc.address, None))
    args = query._logs_parser().parse_args([RUN_ID, "-f"])
    out, result = Console(), []
    follower = threading.Thread(target=lambda: result.append(query.logs(client, args, out)), daemon=True)
    follower.start()
    try:
        out.wait_for("read first\n")
        offset = seeder.log_text(RUN_ID, CONSOLE, offset, "streamed\n")
        seeder.close()
        out.wait_for("streamed\n")   # came through the follow: it is live
        svc.stop(grace=0)
        svc = service_factory(port=port, data_dir=data, with_runner=False)
        seeder = Seeder(svc.address)
        seeder.log_text(RUN_ID, CONSOLE, offset, "after the restart\n")
        seeder.patch(RUN_ID, T0 + 1, status="Completed")
        seeder.close()
        follower.join(WAIT)
        assert result == [0] and out.getvalue() == "read first\nstreamed\nafter the restart\n"
    finally:
        client.close()
