"""What `wait_for_completion(show_output=True)` prints, live; Ctrl-C; the CLI; a token."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from tailrun import Experiment, ScriptRunConfig

TWO_LINES = "print('first line')\nprint('second line', flush=True)\n"


def test_show_output_layout(ws, source_dir, capsys):
    run = Experiment(ws, "output").submit(ScriptRunConfig(str(source_dir({"t.py": TWO_LINES})), script="t.py"))
    details = run.wait_for_completion(show_output=True)
    web = f"tailrun ui --address {ws.address} --run {run.id}"
    assert capsys.readouterr().out == (
        f"RunId: {run.id}\nWeb View: {web}\n"
        "\nStreaming user_logs/std_log.txt\n===============================\n\n"
        "first line\nsecond line\n"
        f"\nExecution Summary\n=================\nRunId: {run.id}\nWeb View: {web}\n\n")
    assert details["runId"] == run.id and details["status"] == "Completed"
    assert "user_logs/std_log.txt" in details["logFiles"]


def test_without_show_output_nothing_is_printed(ws, source_dir, capsys):
    run = Experiment(ws, "output").submit(ScriptRunConfig(str(source_dir({"t.py": TWO_LINES})), script="t.py"))
    assert run.wait_for_completion()["status"] == "Completed"
    assert capsys.readouterr().out == ""


def _child(service, code: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, TAILRUN_ADDRESS=service.address)
    if service.token:
        env["TAILRUN_TOKEN"] = service.token
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_lines_stream_live_and_ctrl_c_stops_waiting_without_cancelling(service, source_dir, wait_status):
    folder = source_dir({"t.py": "import time\nprint('tick', flush=True)\ntime.sleep(60)\n"})
    waiter = _child(service, f"""
        from tailrun import Workspace, Experiment, ScriptRunConfig
        run = Experiment(Workspace(), "ctrl-c").submit(ScriptRunConfig({str(folder)!r}, script="t.py"))
        print("SUBMITTED", run.id, flush=True)
        run.wait_for_completion(show_output=True)
    """)
    run_id = waiter.stdout.readline().split()[1]
    lines = []
    while "tick\n" not in lines:     # the line arrives while the run is still going
        lines.append(waiter.stdout.readline())
        assert lines[-1], "the waiter ended early"
    waiter.send_signal(signal.SIGINT)
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode != 0
    assert f"stopped waiting; run {run_id} is still executing" in err
    assert service.store.get_run(run_id).status == "Running"
    service.runner.cancel(run_id)
    wait_status(service.store, run_id, "Canceled")


def test_cli_submit_wait_and_cancel(service, source_dir, wait_console, wait_status):
    folder = source_dir({"job.py": "import os, sys\nprint('args', sys.argv[1:], os.environ['K'])\n",
                         "slow.py": "import time\nprint('slow started', flush=True)\ntime.sleep(60)\n"})
    env = dict(os.environ, TAILRUN_ADDRESS=service.address)
    cli = [sys.executable, "-m", "tailrun.cli"]
    done = subprocess.run([*cli, "submit", "-C", str(folder), "-e", "cli-exp", "--env", "K=V", "--wait",
                           "job.py", "--", "--lr", "0.1"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Streaming user_logs/std_log.txt" in done.stdout
    assert "args ['--lr', '0.1'] V" in done.stdout

    started = subprocess.run([*cli, "submit", "-C", str(folder), "slow.py"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[2]
    assert run_id.startswith("slow_")
    wait_console(service.store, run_id, "slow started")
    canceled = subprocess.run([*cli, "cancel", run_id], env=env, capture_output=True, text=True, timeout=60)
    assert canceled.returncode == 0 and f"Canceling run {run_id}" in canceled.stdout
    wait_status(service.store, run_id, "Canceled")

    missing = subprocess.run([*cli, "submit", "-C", str(folder), "nope.py"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "script 'nope.py' was not found" in missing.stderr


def test_a_submitted_run_gets_a_run_scoped_token(service_factory, workspace_of, source_dir, capsys):
    service = service_factory(token="service-secret")
    ws = workspace_of(service)
    script = ("import os\nfrom tailrun import Run\nrun = Run.get_context()\nrun.log('acc', 0.9)\n"
              "print('token is run-scoped:', os.environ['TAILRUN_TOKEN'].startswith('run.' + run.id + '.'))\n")
    run = Experiment(ws, "tokens").submit(ScriptRunConfig(str(source_dir({"t.py": script})), script="t.py"))
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert "token is run-scoped: True" in capsys.readouterr().out
    assert run.get_metrics() == {"acc": 0.9}
    assert "service-secret" not in run._client().read_output(run.id).text


def test_partial_lines_and_logs_folder_stream_while_the_run_executes(ws, service, source_dir, tmp_path,
                                                                      wait_console, wait_status):
    release = tmp_path / "release"
    script = ("import os, sys, time\nos.makedirs('logs', exist_ok=True)\n"
              "with open('logs/train.log', 'w') as fh:\n    fh.write('epoch 1 loss 0.5\\n')\n"
              "print('progress 50%', end='', flush=True)\n"
              "while not os.path.exists(sys.argv[1]):\n    time.sleep(0.02)\nprint(' done')\n")
    run = Experiment(ws, "live").submit(
        ScriptRunConfig(str(source_dir({"t.py": script})), script="t.py", arguments=[str(release)]))
    wait_console(service.store, run.id, "progress 50%")        # a partial line is not held back
    deadline = 10
    started = time.monotonic()
    while "logs/train.log" not in [f.path for f in service.store.list_files(run.id)]:
        assert time.monotonic() - started < deadline, "logs/ was not streamed while the run executed"
        time.sleep(0.05)
    assert service.store.get_run(run.id).status == "Running"
    release.touch()
    assert run.wait_for_completion()["status"] == "Completed"
    assert run._client().read_output(run.id).text == "progress 50% done\n"
    assert run._client().read_file_bytes(run.id, "logs/train.log") == b"epoch 1 loss 0.5\n"
