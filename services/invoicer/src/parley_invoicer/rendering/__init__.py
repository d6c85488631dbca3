"""Rendering: the invoice as translated HTML (Jinja2), then as PDF (WeasyPrint)."""
