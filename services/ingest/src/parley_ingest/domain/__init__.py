"""Connections and their sync rules, free of I/O."""
