"""Pure rules that turn marketplace threads into Parley discussions (no I/O here)."""
