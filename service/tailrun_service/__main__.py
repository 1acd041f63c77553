"""`python -m tailrun_service ...` is `tailrun server ...`."""
import sys

from tailrun_service.cli import main

sys.exit(main(["server", *sys.argv[1:]]))
