"""Stage 2, the engines: a Stan program and its data in, posterior draws out (``Draws``), through
stanli, PyStan or CmdStan, with compiled models kept in a cache."""
