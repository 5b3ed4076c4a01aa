"""Background work on saq (Redis): running tasks, agent health checks, recovering lost work."""
