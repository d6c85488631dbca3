"""The HTTP edge: routes, request/response models (separate from the store's
documents) and errors as RFC 9457 problem details."""
