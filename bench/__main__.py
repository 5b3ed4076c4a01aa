"""`python -m bench`: the whole HTTP benchmark (seed if needed, serve, measure, print).
`python -m bench realtime [...]`: the WebSocket fan-out benchmark (bench/realtime/); likewise any
`python -m bench NAME [...]` runs `main(argv)` of bench/NAME.py (or the package bench/NAME/)."""

import importlib
import importlib.util
import sys

# Guarded: the realtime bench starts subscriber processes with `spawn`, which imports this module again.
if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name.isidentifier() and importlib.util.find_spec(f"bench.{name}") is not None:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            raise SystemExit(f"bench.{name} has no main()")
        module.main(sys.argv[2:])
    else:
        from bench.run import main

        main()
