import sys

from tailrun.cli import main

sys.exit(main())
