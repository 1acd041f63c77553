"""Text that came from runs, made safe to print on a terminal.

Run names, tags, metric names and values, error texts and console output are written by any
script (or any token holder). Printed raw, an escape sequence in them can clear the screen, move
the cursor over earlier lines, retitle the window, set the clipboard (OSC 52) or hide text.
Every command prints such text through `safe` (one value) or `safe_output` (a run's console).
"""
from __future__ import annotations

import re
from typing import TextIO

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals), and the Unicode bidi
# embeddings/overrides/isolates (they reorder the characters that follow them on screen).
_BIDI = "\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
# The same, minus tab, newline and carriage return: a console keeps its lines and progress bars.
_OUTPUT_CONTROL = re.compile(f"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# One complete escape sequence: CSI (ESC [ ... final byte); OSC, DCS, SOS, PM or APC (a string
# up to BEL or ST); or ESC and one more character.
_ESCAPE_SEQUENCE = re.compile(r"""
      \x1b\[ [0-?]* [\ -/]* [@-~]
    | \x1b[\]PX^_] [^\x07\x1b]* (?:\x07|\x1b\\)
    | \x1b [\ -/]* [0-~]
""", re.X)
_OUTPUT_TOKEN = re.compile(f"(?P<sequence>{_ESCAPE_SEQUENCE.pattern})|(?P<control>{_OUTPUT_CONTROL.pattern})", re.X)
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_CONCEAL = "8"            # SGR 8 hides text: not kept
_COLOUR_ARGS = {"38": None, "48": None, "58": None}   # extended colours take arguments
RESET = "\x1b[0m"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """One value (a name, a tag, a metric value, an error message) for the terminal: every control
    character is shown as an escape instead of acting (ESC as `\\x1b`, a newline as `\\n`)."""
    return _CONTROL.sub(_escape, text)


def _harmless_sgr(params: str) -> bool:
    """Colours and text attributes only: an SGR that conceals text (8) is not kept."""
    fields = params.replace(":", ";").split(";") if params else []
    i = 0
    while i < len(fields):
        field = fields[i]
        if field in _COLOUR_ARGS:      # 38;5;N or 38;2;R;G;B: its arguments are not attributes
            i += 3 if i + 1 < len(fields) and fields[i + 1] == "5" else 5
            continue
        if field.lstrip("0") == _CONCEAL:
            return False
        i += 1
    return True


def safe_output(text: str, colour: bool) -> str:
    """A run's console output for the terminal: lines, tabs and carriage returns (progress bars)
    are kept; with `colour`, SGR colour and style sequences are kept; every other escape sequence
    (cursor movement, screen clearing, window title, hyperlinks, clipboard) is removed, and any
    other control character is shown escaped."""
    def replace(match: re.Match[str]) -> str:
        if match.lastgroup == "control":
            return _escape(match)
        sgr = _SGR.fullmatch(match.group())
        return match.group() if colour and sgr and _harmless_sgr(sgr.group(1)) else ""

    return _OUTPUT_TOKEN.sub(replace, text)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
