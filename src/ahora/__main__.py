"""``python -m ahora``: the same as the ``ahora`` command."""

from ahora.cli.main import main

if __name__ == "__main__":
    main()
