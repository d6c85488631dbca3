"""Runtime plumbing shared by every Parley service."""
