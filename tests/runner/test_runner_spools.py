"""Spools a submitted run's SDK leaves in its private home are uploaded by the runner before the
run's final status, exactly once (issue 8, item 4, the runner's part)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

from tailrun import Experiment, ScriptRunConfig



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

# The SDK is pointed at a port nobody listens on, so every batch stays in the run's spool.
UNREACHABLE = """\
import os
os.environ["TAILRUN_ADDRESS"] = "127.0.0.1:{port}"
os.environ["TAILRUN_EXIT_TIMEOUT"] = "1"
from tailrun import Run
run = Run.get_context()
for step in range(500):
    run.log("loss", step / 10, step=step)
run.log_list("firsts", [1, 2, 3])
print("logged while the service was out of reach", flush=True)
"""


def test_a_spool_left_in_the_run_home_is_uploaded_before_completed(service, workspace_of, source_dir,
                                                                   wait_status):
    ws = workspace_of(service)
    folder = source_dir({"t.py": UNREACHABLE.format(port=free_port())})
    run = Experiment(ws, "spools").submit(ScriptRunConfig(str(folder), script="t.py"))
    info = wait_status(service.store, run.id, {"Completed", "Failed"}, timeout=120)
    assert info.status == "Completed", info.error_json
    # Completed means the data is there: no wait after the final status.
    metrics = run.get_metrics()
    assert metrics["loss"] == [step / 10 for step in range(500)]
    assert metrics["firsts"] == [1, 2, 3]
    recovered = [w for w in info.warnings if "the runner uploaded" in w]
    assert len(recovered) == 1 and "left in its spool" in recovered[0], info.warnings
    home = service.data_dir / "runs" / run.id / "home"
    assert not [p for p in (home / "spool").iterdir() if p.is_dir()], "the uploaded spool was kept"


STANDALONE = """\
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "spools").start_logging(outputs=False, snapshot_directory=None)
for step in range(300):
    run.log("loss", float(step), step=step)
print(run.id)
"""


def test_an_upload_repeated_after_a_crash_stores_nothing_twice(service, workspace_of, tmp_path):
    """A runner that crashed after uploading but before deleting the spool uploads it again."""
    from tailrun import Run
    from tailrun_service.runner.spools import upload_spools

    home, copy = tmp_path / "home", tmp_path / "copy"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    env.update(TAILRUN_HOME=str(home), TAILRUN_ADDRESS=f"127.0.0.1:{free_port()}", TAILRUN_EXIT_TIMEOUT="1")
    done = subprocess.run([sys.executable, "-c", STANDALONE], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    shutil.copytree(home / "spool", copy / "spool")
    # As the isolated runner does it: through a copy, never following the script's links.
    (tmp_path / "secret").write_bytes(b"not for the run")
    writer_folder = next(p for p in (home / "spool").iterdir() if p.is_dir())
    (writer_folder / "999999.seg").symlink_to(tmp_path / "secret")
    first = upload_spools(home, service.address, None, None, staging=tmp_path / "staging")
    assert first.batches > 0 and first.already == 0 and not first.failed
    assert not (tmp_path / "staging" / writer_folder.name).exists()
    assert not writer_folder.exists()
    again = upload_spools(copy, service.address, None, None)
    assert again.batches == 0 and again.already == first.batches and not again.failed
    run = Run.get(workspace_of(service), run_id)
    assert run.get_metrics()["loss"] == [float(step) for step in range(300)]
