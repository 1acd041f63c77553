"""Example training scripts that `tailrun demo` runs as real child processes."""
