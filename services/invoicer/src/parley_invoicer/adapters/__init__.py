"""The invoicer's adapters: its ledger in memory (tests, one process) and in MongoDB."""
