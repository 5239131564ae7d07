"""``python -m scripts.benchmark``: see :mod:`scripts.benchmark`."""

from scripts.benchmark.cli import main

if __name__ == "__main__":
    main()
