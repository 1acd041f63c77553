"""Widgets of the run screen's tabs and the lists."""
