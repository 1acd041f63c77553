"""TailrunHandler: records of the standard logging module written into a run's output file,
through a real service, in this process and in real child processes (forked and ranked)."""
from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from tailrun import Experiment, Run
from tailrun.integrations.logging import LOG_FILE, TailrunHandler


def _read(ws: Any, run_id: str, path: str, tmp_path: Path) -> str:
    target = tmp_path / path.replace("/", "_")
    Run.get(ws, run_id).download_file(path, str(target))
    return target.read_text(encoding="utf-8")


@pytest.fixture
def logger() -> Any:
    log = logging.getLogger("tailrun-test.training")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def test_records_at_the_level_go_to_the_run_file(ws: Any, logger: Any, tmp_path: Path) -> None:
    run = Experiment(ws, "logging").start_logging()
    handler = TailrunHandler(run=run, level=logging.INFO)
    logger.addHandler(handler)
    logger.debug("not at the level")
    logger.info("epoch %d: loss %.3f", 1, 0.25)
    logger.warning("température élevée ✓")
    try:
        raise ValueError("bad batch")
    except ValueError:
        logger.exception("step failed")
    run.complete()

    assert handler.path == LOG_FILE == "logs/python_logging.txt"
    assert LOG_FILE in run.get_file_names()
    text = _read(ws, run.id, LOG_FILE, tmp_path)
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    lines = text.splitlines()
    assert re.fullmatch(stamp + r" INFO tailrun-test\.training: epoch 1: loss 0\.250", lines[0])
    assert re.fullmatch(stamp + r" WARNING tailrun-test\.training: température élevée ✓", lines[1])
    assert re.fullmatch(stamp + r" ERROR tailrun-test\.training: step failed", lines[2])
    assert lines[3] == "Traceback (most recent call last):" and lines[-1] == "ValueError: bad batch"
    assert "not at the level" not in text
    assert text.endswith("\n")
    # the file is also one of the run's logs, as Azure ML's get_details_with_logs shows them
    assert LOG_FILE in Run.get(ws, run.id).get_details_with_logs()["logFiles"]


def test_two_handlers_on_one_run_share_the_file_without_losing_a_line(ws: Any, logger: Any,
                                                                     tmp_path: Path) -> None:
    run = Experiment(ws, "logging").start_logging()
    plain = logging.Formatter("%(name)s|%(message)s")
    first, second = TailrunHandler(run=run), TailrunHandler(run=run)
    first.setFormatter(plain)
    second.setFormatter(plain)
    other = logging.getLogger("tailrun-test.data")
    other.propagate, other.level = False, logging.INFO
    logger.addHandler(first)
    other.addHandler(second)
    try:
        for i in range(200):
            logger.info("t%d", i)
            other.info("d%d", i)
    finally:
        other.removeHandler(second)
    run.complete()
    expected = [line for i in range(200) for line in (f"tailrun-test.training|t{i}", f"tailrun-test.data|d{i}")]
    assert _read(ws, run.id, LOG_FILE, tmp_path).splitlines() == expected


def test_a_forked_child_and_another_rank_write_their_own_files(ws: Any, run_script: Callable[..., Any],
                                                                tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import logging, os, sys
        from tailrun import Run
        from tailrun.integrations.logging import TailrunHandler
        run = Run.get_context()
        log = logging.getLogger("job")
        log.setLevel(logging.INFO)
        handler = TailrunHandler()
        handler.setFormatter(logging.Formatter("%(process)d %(message)s"))
        log.addHandler(handler)
        log.info("parent before")
        pid = os.fork()
        if pid == 0:
            log.info("child line")
            run.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        log.info("parent after")
        print(run.id, pid, os.getpid(), handler.path)
    """)
    done = run_script(code)
    assert done.returncode == 0, done.stderr
    run_id, child, parent, path = done.stdout.split()
    assert path == LOG_FILE
    assert _read(ws, run_id, LOG_FILE, tmp_path).splitlines() == [f"{parent} parent before", f"{parent} parent after"]
    assert _read(ws, run_id, f"logs/python_logging.{child}.txt", tmp_path).splitlines() == [f"{child} child line"]

    ranked = run_script("from tailrun.integrations.logging import TailrunHandler\n"
                        "import logging; h = TailrunHandler(); print(h.run.id, h.path)\n"
                        "logging.getLogger('r').addHandler(h); logging.getLogger('r').warning('rank two')",
                        env={"RANK": "2"})
    assert ranked.returncode == 0, ranked.stderr
    run_id, path = ranked.stdout.split()
    assert path == "logs/python_logging.rank2.txt"
    assert _read(ws, run_id, path, tmp_path).endswith(" WARNING r: rank two\n")


def test_bad_paths_are_refused_with_the_reason(ws: Any) -> None:
    run = Experiment(ws, "logging").start_logging()
    with pytest.raises(ValueError, match="must be under 'logs/'"):
        TailrunHandler(run=run, path="outputs/log.txt")
    with pytest.raises(ValueError, match="invalid log file path '../x.txt'"):
        TailrunHandler(run=run, path="../x.txt")
    with pytest.raises(TypeError, match="run must be a tailrun Run"):
        TailrunHandler(run="abc")
    run.complete()
