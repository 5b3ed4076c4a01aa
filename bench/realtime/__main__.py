"""`python -m bench.realtime [...]`: the same as `python -m bench realtime [...]`."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/realtime`: make the repository importable as `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

# Guarded: the subscriber processes are started with `spawn`, which imports this module again.
if __name__ == "__main__":
    from bench.realtime import main

    main()
