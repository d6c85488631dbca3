"""Delivery rules and the delivery record's life cycle, free of I/O."""
