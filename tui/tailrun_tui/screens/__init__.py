"""One screen per module: experiments → runs → run, plus compare and help."""
