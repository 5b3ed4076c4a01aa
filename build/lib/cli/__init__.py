"""The process entry points: the `gateway` command (serve, worker, migrate, ...) and what only it uses.
They sit on top of every other package and may import any of them; nothing imports them."""
