"""tailrun service: the gRPC Tracker service, its store and the runner of submitted runs."""
