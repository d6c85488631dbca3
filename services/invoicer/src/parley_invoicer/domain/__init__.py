"""The invoice domain: validated input, money arithmetic and the issued invoice, no I/O."""
