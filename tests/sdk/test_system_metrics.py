"""System metrics (issue 11, item 1): sampled CPU, memory, disk, network and GPU figures.

Real parts: the scripts run as real child processes (`run_script`) against a real service, their
children are real processes that allocate and burn CPU, /proc is the machine's, and the NVML path
runs a fake `pynvml` module (a real module file put on PYTHONPATH) through the SDK's own code.
Every wait is on a signal: a script waits until the service holds more samples, never a sleep.
"""
from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tailrun import Experiment, RunConfiguration, ScriptRunConfig
from tailrun.v1 import tailrun_pb2 as pb

from system_metrics_kit import BASE_NAMES, FAST, SUBMITTED

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sampled from Linux's /proc")

MIB = 1024 * 1024

# A script prelude: a start_logging run, and a way to wait until the service holds more samples.
PRELUDE = """
import json, os, subprocess, sys, time
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "system").start_logging(outputs=False, snapshot_directory=None)

def samples():
    return run.get_system_metrics()

def after(n):
    '''Wait until the service holds at least n samples; return them.'''
    while True:
        got = samples()
        if len(got.get("memory_rss_mb", [])) >= n:
            return got
        time.sleep(0.05)

def count():
    return len(samples().get("memory_rss_mb", []))
"""


def _script(body: str) -> str:
    return PRELUDE + textwrap.dedent(body)


def _result(done) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout + done.stderr
    return json.loads(lines[-1][7:])


# ---------------------------------------------------------------- the process tree

# A child that allocates and touches 96 MiB, says so, then burns CPU until the stop file exists.
CHILD = """
import os, sys
block = bytearray(96 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
print("ready", flush=True)
n = 0
while True:
    n += 1
    if n % 100000 == 0 and os.path.exists(sys.argv[1]):
        break
"""


def test_children_are_sampled_with_the_process_each_counted_once(run_script, tmp_path):
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    stop = tmp_path / "stop"
    done = run_script(_script(f"""
        before = after(count() + 1)["memory_rss_mb"][-1]   # a sample taken after this process's reads began
        kids = [subprocess.Popen([sys.executable, {str(child)!r}, {str(stop)!r}], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
        for kid in kids:
            assert kid.stdout.readline() == "ready\\n"
        busy_from = count() + 1          # the first sample whose whole window has both children ready
        got = after(busy_from + 2)
        open({str(stop)!r}, "w").close()
        for kid in kids:
            kid.wait()
        final = after(count() + 1)           # a sample taken after the children ended
        run.complete()
        print("RESULT", json.dumps({{"before": before, "busy": got, "busy_from": busy_from, "final": final}}))
    """), env=FAST)
    result = _result(done)
    busy = result["busy"]
    assert set(busy) == BASE_NAMES
    window = slice(result["busy_from"], None)
    # Both children allocated 96 MiB each: counted once each (a pid counted twice would add 96 more).
    for rss in busy["memory_rss_mb"][window]:
        assert 192 <= rss - result["before"] < 192 + 80, busy["memory_rss_mb"]
    for cpu in busy["cpu_percent"][window]:
        assert cpu > 10, busy["cpu_percent"]   # two busy children: their CPU is the run's
    total = _mem_total_mib()
    for rss, percent in zip(busy["memory_rss_mb"], busy["memory_percent"]):
        assert percent == pytest.approx(rss / total * 100, rel=1e-9)
    assert all(0 < used <= total for used in busy["machine_memory_used_mb"])
    # Once the children are gone, so is their memory.
    assert result["final"]["memory_rss_mb"][-1] < result["before"] + 96


def test_memory_growth_and_disk_writes_of_the_process_itself(run_script, tmp_path):
    target = tmp_path / "written.bin"
    done = run_script(_script(f"""
        first = after(1)["memory_rss_mb"][-1]
        block = bytearray(200 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        with open({str(target)!r}, "wb") as f:
            f.write(os.urandom(16 << 20))
            f.flush()
            os.fsync(f.fileno())
        got = after(count() + 2)
        run.complete()
        print("RESULT", json.dumps({{"first": first, "got": got}}))
    """), env=FAST)
    result = _result(done)
    got = result["got"]
    assert got["memory_rss_mb"][-1] - result["first"] >= 199, got["memory_rss_mb"]
    assert max(got["disk_write_mb_per_s"]) > 0, got["disk_write_mb_per_s"]
    assert all(v >= 0 for name in ("disk_read_mb_per_s", "net_recv_mb_per_s", "net_sent_mb_per_s")
               for v in got[name])


def _mem_total_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024 / MIB
    raise AssertionError("no MemTotal in /proc/meminfo")


# ---------------------------------------------------------------- settings

def test_switched_off_records_nothing(run_script):
    done = run_script(_script("""
        run.log("loss", 0.5)
        run.complete()
        print("RESULT", json.dumps(run.get_system_metrics()))
    """), env={**FAST, "TAILRUN_SYSTEM_METRICS": "0"})
    assert _result(done) == {}
    assert "system metrics" not in done.stderr


def test_a_bad_switch_says_so_once_and_samples_nothing(run_script):
    done = run_script(_script("""
        run.complete()
        Experiment(Workspace(), "system").start_logging(outputs=False, snapshot_directory=None).complete()
        print("RESULT", json.dumps(run.get_system_metrics()))
    """), env={"TAILRUN_SYSTEM_METRICS": "maybe"})
    assert _result(done) == {}
    line = "tailrun: TAILRUN_SYSTEM_METRICS must be 1 or 0 (on or off), got 'maybe'; system metrics are off"
    assert done.stderr.count(line) == 1, done.stderr


def test_a_bad_interval_falls_back_to_the_default_and_says_so(run_script):
    done = run_script(_script("""
        run.complete()
        print("RESULT", json.dumps(run.get_system_metrics()))
    """), env={"TAILRUN_SYSTEM_METRICS_INTERVAL": "0"})
    result = _result(done)
    assert len(result["cpu_percent"]) == 1   # the last sample, taken by complete()
    assert ("tailrun: TAILRUN_SYSTEM_METRICS_INTERVAL must be a number of seconds of at least 0.1, got '0'; "
            "sampling every 5 s") in done.stderr


def test_the_interval_decides_when_samples_are_taken(run_script):
    # An hour apart: nothing before the end, then exactly the last sample complete() takes.
    done = run_script(_script("""
        for step in range(100):
            run.log("loss", 1 / (step + 1), step=step)
        run.flush()
        before_end = samples()
        run.complete()
        print("RESULT", json.dumps({"before_end": before_end, "after": samples(), "loss": len(run.get_metrics()["loss"])}))
    """), env={"TAILRUN_SYSTEM_METRICS_INTERVAL": "3600"})
    result = _result(done)
    assert result["before_end"] == {} and result["loss"] == 100
    assert set(result["after"]) == BASE_NAMES
    assert all(len(values) == 1 for values in result["after"].values())
    # A fifth of a second apart: the samples keep coming while the run goes on.
    done = run_script(_script("""
        got = after(4)
        run.complete()
        print("RESULT", json.dumps(len(samples()["cpu_percent"])))
    """), env=FAST)
    assert _result(done) >= 4


# ---------------------------------------------------------------- shapes and the service's view

def test_get_metrics_keeps_azure_ml_shapes_and_system_metrics_live_apart(run_script, service):
    done = run_script(_script("""
        run.log("loss", 0.25)
        run.log("acc", 0.5)
        run.log("acc", 0.75)
        run.log_list("lr", [0.1])
        run.log_row("pr", precision=0.5, recall=0.25)
        after(3)
        run.complete()
        print("RESULT", json.dumps({"id": run.id, "metrics": run.get_metrics(),
                                    "one": run.get_system_metrics("cpu_percent"),
                                    "none": run.get_system_metrics("nope")}))
    """), env=FAST)
    result = _result(done)
    assert result["metrics"] == {"loss": 0.25, "acc": [0.5, 0.75], "lr": 0.1,
                                 "pr": {"precision": 0.5, "recall": 0.25}}
    assert list(result["one"]) == ["cpu_percent"] and len(result["one"]["cpu_percent"]) >= 3
    assert result["none"] == {}
    info = service.store.get_run(result["id"])
    assert list(info.metric_names) == ["loss", "acc", "lr", "pr"]
    assert dict(info.last_metrics) == {"loss": 0.25, "acc": 0.75}
    assert set(info.last_system_metrics) == {"system/" + name for name in BASE_NAMES}
    stored = {c.name: c for c in service.store.iter_metrics(result["id"], system=True)}
    assert {c.kind for c in stored.values()} == {pb.METRIC_KIND_SYSTEM}
    cpu = [c for c in service.store.iter_metrics(result["id"], "system/cpu_percent", system=True)]
    steps = [s for c in cpu for s in c.steps]
    assert steps == list(range(len(steps)))   # step = sample index
    assert info.last_system_metrics["system/cpu_percent"] == cpu[-1].columns[0].values[-1]
    # The UI's chart query works on them as on any single-column metric.
    series = service.store.get_series(pb.SeriesRequest(run_id=result["id"], name="system/cpu_percent",
                                                       max_points=100))
    assert series.total_points == len(steps) and series.has_steps


def test_a_user_metric_of_the_same_short_name_does_not_collide(run_script):
    done = run_script(_script("""
        run.log("cpu_percent", 12.5)
        after(2)
        run.complete()
        print("RESULT", json.dumps({"mine": run.get_metrics(), "system": len(samples()["cpu_percent"])}))
    """), env=FAST)
    result = _result(done)
    assert result["mine"] == {"cpu_percent": 12.5} and result["system"] >= 2
    assert "refused" not in done.stderr and "rejected" not in done.stderr


def test_a_child_run_shares_the_top_level_runs_samples(run_script):
    done = run_script(_script("""
        child = run.child_run("part")
        child.log("x", 1.0)
        after(2)
        child.complete()
        run.complete()
        print("RESULT", json.dumps({"child": child.get_system_metrics(), "top": len(samples()["cpu_percent"])}))
    """), env=FAST)
    result = _result(done)
    assert result["child"] == {} and result["top"] >= 2


# ---------------------------------------------------------------- GPUs through a fake NVML

FAKE_PYNVML = '''
"""A stand-in for nvidia-ml-py's pynvml: two GPUs; FAKE_NVML picks a failure."""
import os

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_TEMPERATURE_GPU = 0
_NAMES = {3: "Not Supported", 12: "NVML Shared Library Not Found", 15: "GPU is lost",
          18: "RM has detected an NVML/RM version mismatch."}
MODE = os.environ.get("FAKE_NVML", "ok")
_reads = [0]


class NVMLError(Exception):
    def __init__(self, value):
        self.value = value

    def __str__(self):
        return _NAMES[self.value]


class _Struct:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def nvmlInit():
    if MODE == "nolib":
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
    if MODE == "mismatch":
        raise NVMLError(NVML_ERROR_LIB_RM_VERSION_MISMATCH)


def nvmlDeviceGetCount():
    return 2


def nvmlDeviceGetHandleByIndex(index):
    return index


def nvmlDeviceGetUtilizationRates(handle):
    _reads[0] += 1
    if MODE == "lost" and _reads[0] > 2:   # both GPUs read once, then GPU 0 falls off the bus
        raise NVMLError(NVML_ERROR_GPU_IS_LOST)
    return _Struct(gpu=42 + handle, memory=7)


def nvmlDeviceGetMemoryInfo(handle):
    return _Struct(total=16 << 30, used=(1024 + handle) << 20, free=0)


def nvmlDeviceGetTemperature(handle, sensor):
    assert sensor == NVML_TEMPERATURE_GPU
    return 61 + handle


def nvmlDeviceGetPowerUsage(handle):
    if handle == 1:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return 123456   # milliwatts
'''


@pytest.fixture
def fake_nvml(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "fake-nvml"
    folder.mkdir()
    (folder / "pynvml.py").write_text(FAKE_PYNVML)
    return {**FAST, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


GPU_SCRIPT = """
    after(2)
    run.complete()
    print("RESULT", json.dumps(samples()))
"""


def test_fake_nvml_gpus_are_sampled(run_script, fake_nvml):
    done = run_script(_script(GPU_SCRIPT), env={**fake_nvml, "FAKE_NVML": "ok"})
    got = _result(done)
    assert set(got) == BASE_NAMES | {"gpu0_utilization_percent", "gpu0_memory_used_mb", "gpu0_temperature_c",
                                     "gpu0_power_w", "gpu1_utilization_percent", "gpu1_memory_used_mb",
                                     "gpu1_temperature_c"}   # gpu1 has no power reading: left out
    n = len(got["cpu_percent"])
    assert got["gpu0_utilization_percent"] == [42.0] * n and got["gpu1_utilization_percent"] == [43.0] * n
    assert got["gpu0_memory_used_mb"] == [1024.0] * n and got["gpu1_memory_used_mb"] == [1025.0] * n
    assert got["gpu0_temperature_c"] == [61.0] * n and got["gpu1_temperature_c"] == [62.0] * n
    assert got["gpu0_power_w"] == [123.456] * n
    assert "GPU" not in done.stderr


@pytest.mark.parametrize("mode, line", [
    ("mismatch", "tailrun: GPU metrics are off: NVML failed (NVMLError: RM has detected an NVML/RM version mismatch.)"),
    ("nolib", None),   # nvidia-ml-py without the NVIDIA driver: a machine without a GPU, nothing to say
])
def test_failing_nvml_turns_gpu_sampling_off_never_the_run(run_script, fake_nvml, mode, line):
    done = run_script(_script(GPU_SCRIPT), env={**fake_nvml, "FAKE_NVML": mode})
    got = _result(done)
    assert set(got) == BASE_NAMES and len(got["cpu_percent"]) >= 2
    gpu_lines = [text for text in done.stderr.splitlines() if "GPU" in text]
    assert gpu_lines == ([line] if line else []), done.stderr


def test_a_gpu_without_nvidia_ml_py_names_the_extra(run_script, tmp_path):
    gpus = tmp_path / "driver-gpus"
    (gpus / "0000:01:00.0").mkdir(parents=True)   # what the loaded NVIDIA driver shows per GPU
    done = run_script(f"""
import sys
sys.modules["pynvml"] = None                      # nvidia-ml-py not installed
import tailrun._nvml
tailrun._nvml.DRIVER_GPUS = {str(gpus)!r}
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "system").start_logging(outputs=False, snapshot_directory=None)
run.complete()
print("RESULT", sorted(run.get_system_metrics()))
""")
    assert done.returncode == 0, done.stderr
    assert "RESULT " + str(sorted(BASE_NAMES)) in done.stdout
    assert [t for t in done.stderr.splitlines() if "GPU" in t] == [
        "tailrun: GPU metrics need NVIDIA's NVML bindings: pip install 'tailrun[gpu]' (nvidia-ml-py)"]


def test_a_gpu_lost_mid_run_stops_gpu_sampling_with_one_line(run_script, fake_nvml):
    done = run_script(_script("""
        after(4)
        run.complete()
        print("RESULT", json.dumps(samples()))
    """), env={**fake_nvml, "FAKE_NVML": "lost"})
    got = _result(done)
    assert got["gpu0_utilization_percent"] == [42.0] and got["gpu1_utilization_percent"] == [43.0]
    assert len(got["cpu_percent"]) >= 4   # the rest goes on
    assert [t for t in done.stderr.splitlines() if "GPU" in t] == [
        "tailrun: GPU metrics are off: NVML failed reading gpu0_utilization_percent (NVMLError: GPU is lost)"]


def test_forking_while_sampling_never_hangs_a_child_and_children_skip_nvml(run_script, fake_nvml):
    # 100 forks while the sampler thread reads /proc and NVML every 0.1 s: a child must never
    # inherit a lock it then waits on; a child samples its own runs, never through NVML (the
    # parent may have been inside it). A recorder nobody configured is a queue that sends nothing.
    done = run_script(_script("""
        from tailrun import _run_system
        from tailrun._recorder import Recorder
        from tailrun.wire import SYSTEM
        parent = sorted(after(2))
        children = set()
        for _ in range(100):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                rec = Recorder(exit_hook=False)
                _run_system.attach(rec, "probe")
                _run_system.detach("probe")
                items = [item for item in rec.queue if item[0] == SYSTEM and item[1] == "probe"]
                os.write(w, json.dumps([sorted(item[3]) for item in items]).encode())
                os._exit(0)
            os.close(w)
            with os.fdopen(r) as f:
                got = json.loads(f.read())
            assert os.waitpid(pid, 0)[1] == 0 and len(got) == 1, got
            children.update(got[0])
        run.complete()
        print("RESULT", json.dumps({"parent": parent, "children": sorted(children)}))
    """), env={**fake_nvml, "FAKE_NVML": "ok", "TAILRUN_SYSTEM_METRICS_INTERVAL": "0.1"})
    result = _result(done)
    assert any(name.startswith("gpu0_") for name in result["parent"])
    assert result["children"] == sorted("system/" + name for name in BASE_NAMES)


# ---------------------------------------------------------------- submitted runs: the runner samples

def _source(tmp_path: Path, script: str) -> str:
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "train.py").write_text(script)
    return str(folder)


def test_a_submitted_run_is_sampled_by_the_runner_once(ws, service, tmp_path):
    config = RunConfiguration()
    config.environment_variables = dict(FAST)
    run = Experiment(ws, "system-submitted").submit(
        ScriptRunConfig(_source(tmp_path, SUBMITTED), script="train.py", run_config=config))
    assert run.wait_for_completion()["status"] == "Completed"
    got = run.get_system_metrics()
    assert set(got) == BASE_NAMES
    assert max(got["memory_rss_mb"]) >= 96   # the daemonized worker is in the group
    for chunk in service.store.iter_metrics(run.id, system=True):
        assert chunk.kind == pb.METRIC_KIND_SYSTEM
    steps = [s for c in service.store.iter_metrics(run.id, "system/cpu_percent", system=True) for s in c.steps]
    assert steps == list(range(len(steps))) and len(steps) >= 3   # one sampler: no step twice
    assert run.get_metrics() == {"x": 1.0}


def test_a_submitted_run_with_sampling_off_has_none(ws, tmp_path):
    config = RunConfiguration()
    config.environment_variables = {**FAST, "TAILRUN_SYSTEM_METRICS": "0"}
    script = "import time\nfrom tailrun import Run\nrun = Run.get_context()\nrun.log('x', 1.0)\nrun.flush()\ntime.sleep(1)\n"
    run = Experiment(ws, "system-submitted").submit(
        ScriptRunConfig(_source(tmp_path, script), script="train.py", run_config=config))
    assert run.wait_for_completion()["status"] == "Completed"
    assert run.get_system_metrics() == {} and run.get_metrics() == {"x": 1.0}


# ---------------------------------------------------------------- the CLI

def test_cli_prints_system_metrics_and_csv(run_script, service):
    from tailrun.cli import main as cli
    done = run_script(_script("""
        after(2)
        run.complete()
        print("RESULT", json.dumps({"id": run.id, "cpu": samples()["cpu_percent"]}))
    """), env=FAST)
    result = _result(done)
    run_id, cpu = result["id"], result["cpu"]
    import io
    from contextlib import redirect_stderr, redirect_stdout
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli(["metrics", run_id, "--system", "cpu_percent", "--csv", "--address", service.address]) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "metric,kind,index,step,time,column,value"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == ["cpu_percent"] * len(cpu)
    assert [r[1] for r in rows] == ["system"] * len(cpu)
    assert [int(r[3]) for r in rows] == list(range(len(cpu)))
    assert [float(r[6]) for r in rows] == cpu   # repr-exact
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli(["metrics", run_id, "--system", "--address", service.address]) == 0
    text = out.getvalue()
    assert f"cpu_percent (system, {len(cpu)} values)" in text and "gpu" not in text
    assert "system/" not in text
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert cli(["metrics", run_id, "--system", "nope", "--address", service.address]) == 1
    assert err.getvalue() == f"run {run_id} has no system metric 'nope'\n"
    with redirect_stdout(out), redirect_stderr(err):   # the run's own metrics leave them out
        assert cli(["metrics", run_id, "--address", service.address]) == 0
    assert f"run {run_id} has no metrics" in err.getvalue()
