"""The Mirakl family's shop messaging API (M10, M11, M12, M13), in memory."""
