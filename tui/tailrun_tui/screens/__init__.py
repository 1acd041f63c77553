"""The screens, one per module (experiments → runs → run, compare, help), the base of the data
screens (live_screen.py) and the `:` line each of them has (command_bar.py)."""
