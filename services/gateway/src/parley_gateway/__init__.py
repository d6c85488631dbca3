"""Parley's gateway: the REST API over the unified discussions.

Reads top-down: ``app`` (the ASGI entrypoint) → ``api`` (routes, request/response
models, problem details) → ``service`` (use cases) → ``domain`` (rules, no I/O) →
``ports``/``adapters`` (MongoDB, Kafka), wired once in ``bootstrap``.
"""
