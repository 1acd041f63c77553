"""`tailrun demo`: a launcher that starts a throwaway service, example SDK runs and the UI
(launcher.py), and the example training scripts it runs (scripts/)."""
