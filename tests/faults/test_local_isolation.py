"""Per-user isolation of the default local setup (issue 5, item 7).

The auto-started local service gets its token from a 0600 file, never on its command line (which
every user sees in `ps`); the per-user home's secrets are 0600 and the data dir 0700. Another
user's process (simulated: another TAILRUN_HOME, no token) that finds the port is refused:
UNAUTHENTICATED on reads and on writes, and its data never lands in the first user's runs.
`tailrun server` also takes the token from --token-file or $TAILRUN_TOKEN.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path

import grpc
import pytest
from faultkit import PYTHON, free_port, run_script, script_env, wait_for
from tailrun._local import TOKEN_FILE, health_check, read_state
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

LOG_ONE_RUN = """
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "private").start_logging(outputs=False, snapshot_directory=None)
run.log("secret_metric", 42.0)
run.complete()
print(run.id)
"""

OTHER_USER = """
import sys
from tailrun import Experiment, Workspace
from tailrun.exceptions import AuthenticationError
try:
    Experiment.list(Workspace())
except AuthenticationError as exc:
    print("refused:", exc)
    sys.exit(0)
print("allowed")
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _stop(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _proc_state(pid), 30, f"pid {pid} to stop")


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.fixture
def homes(tmp_path: Path):
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    yield alice, bob
    for home in (alice, bob):   # the local services these tests started
        _stop(read_state(home).get("pid"))


def test_the_local_service_keeps_its_token_off_the_command_line_and_its_files_private(
        homes: tuple[Path, Path], tmp_path: Path) -> None:
    alice, _bob = homes
    done = run_script(LOG_ONE_RUN, script_env(alice, None), tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    state = read_state(alice)
    token, pid = state["token"], state["pid"]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert token.encode() not in b" ".join(cmdline), "the token is visible in ps"
    assert b"--token-file" in cmdline
    assert _mode(alice) == 0o700 and _mode(alice / "data") == 0o700
    for name in ("local-service.json", TOKEN_FILE, "local-service.log", "local-service.lock"):
        assert _mode(alice / name) == 0o600, name
    assert (alice / TOKEN_FILE).read_text().strip() == token


def test_another_users_process_is_unauthenticated(homes: tuple[Path, Path], tmp_path: Path) -> None:
    alice, bob = homes
    done = run_script(LOG_ONE_RUN, script_env(alice, None), tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    alice_run = done.stdout.split()[-1]
    address, token = read_state(alice)["address"], read_state(alice)["token"]

    # Bob's SDK, pointed at Alice's port without her token: reads are refused.
    seen = run_script(OTHER_USER, script_env(bob, address), tmp_path / "cwd-bob")
    assert seen.returncode == 0 and "refused:" in seen.stdout, seen.stdout + seen.stderr
    # And on the wire: reads and writes alike.
    channel = grpc.insecure_channel(address)
    try:
        stub = pb_grpc.TrackerStub(channel)
        calls = {
            "GetRun": lambda: stub.GetRun(pb.GetRunRequest(run_id=alice_run), timeout=10),
            "ListRuns": lambda: stub.ListRuns(pb.ListRunsRequest(), timeout=10),
            "Ingest": lambda: list(stub.Ingest(iter([pb.IngestRequest(writer="bob", seq=0)]), timeout=10)),
        }
        for name, call in calls.items():
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
        # Alice, with her token, sees her run.
        info = stub.GetRun(pb.GetRunRequest(run_id=alice_run), timeout=10,
                           metadata=(("authorization", f"Bearer {token}"),))
        assert info.status == "Completed" and "secret_metric" in info.metric_names
    finally:
        channel.close()

    # Bob on his own (no address): he gets his own local service, which has none of Alice's runs.
    bob_done = run_script(LOG_ONE_RUN, script_env(bob, None), tmp_path / "cwd-bob2")
    assert bob_done.returncode == 0, bob_done.stderr
    assert read_state(bob)["address"] != address and read_state(bob)["token"] != token


@pytest.mark.parametrize("how", ["file", "env"])
def test_tailrun_server_reads_its_token_from_a_file_or_the_environment(tmp_path: Path, how: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    token_file.chmod(0o600)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    args = [PYTHON, "-m", "tailrun_service", "--port", str(port), "--data-dir", str(tmp_path / "data"),
            "--no-runner"]
    if how == "file":
        args += ["--token-file", str(token_file)]
    else:
        env["TAILRUN_TOKEN"] = "s3cret-token"
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: health_check(f"127.0.0.1:{port}") or proc.poll() is not None, 60, "the service")
        assert proc.poll() is None, proc.stderr.read()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = pb_grpc.TrackerStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListRuns(pb.ListRunsRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.ListRuns(pb.ListRunsRequest(), timeout=10, metadata=(("authorization", "Bearer s3cret-token"),))
        channel.close()
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_bad_token_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tailrun_service.cli import main

    empty = tmp_path / "empty"
    empty.write_text("\n")
    cases = {
        ("--token-file", str(tmp_path / "missing")): "No such file",
        ("--token-file", str(empty)): "is empty",
        ("--token", "a"): "pass --token-file FILE, or set the TAILRUN_TOKEN variable",
        ("--heartbeat-timeout", "0"): "positive number of seconds",
    }
    for argv, message in cases.items():
        assert main([*argv, "--data-dir", str(tmp_path)]) == 2, argv
        assert message in capsys.readouterr().err, argv
