"""`python -m bench`: the whole benchmark (seed if needed, serve, measure, print)."""

from bench.run import main

main()
