"""``python -m app.cli``: the ``kb`` command."""

from app.cli.main import main

main()
