"""Local services for tests, benchmarks and ``make run``.

Every service binds (or is only addressed on) 127.0.0.1, and is stopped by the
process id of whoever started it.
"""
