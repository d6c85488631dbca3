"""Parley's marketplace sandbox: each family's public API as documented, in memory."""

from parley_sandbox.app import create_app

__all__ = ["create_app"]
