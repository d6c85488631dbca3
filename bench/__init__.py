"""Parley's benchmark suite (``make bench``): P1-P6, each figure against a baseline
measured in the same run. Not part of ``make test``; see :mod:`bench.__main__`."""
