"""Running a submitted script, wherever it runs: shared by the service's local runner
(tailrun_service.runner) and the Slurm job bootstrap (tailrun.job), so that nodes need only the SDK.

process.py   child processes in their own group: spawn, wait, kill, recognise after a restart
envs.py      the run's Python environment (venvs per package set, built once and reused) and variables
files.py     streaming a run's console and logs/ and uploading outputs/ through a writer
outcome.py   the command line of a run and the status/error its end maps to
system.py    system metrics of the run's process group (GroupSampler)
Nothing here is imported by `import tailrun`.
"""
