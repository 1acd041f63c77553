"""`python -m tailrun.cli ...` is `tailrun ...`."""
import sys

from tailrun.cli import main

sys.exit(main())
