"""Invoicer: renders an order's invoice as a PDF, in the buyer's language.

Reading order: ``main`` (wiring) → ``api`` (HTTP) → ``service`` (issue one invoice) →
``domain`` (orders, totals, VAT) and ``numbering`` → ``rendering`` (HTML, then PDF).
"""
