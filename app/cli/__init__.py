"""The ``kb`` command line; the root command is in ``app.cli.main``, so ``kb ui`` loads nothing heavy."""
