"""A fake marketplace family: the walk-through's proof that one folder is a family.

It talks to :data:`~.marketplace.MARKETPLACE`, an in-memory marketplace the test
fills and reads; nothing outside this folder knows it exists.
"""
