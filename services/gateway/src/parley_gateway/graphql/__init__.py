"""The GraphQL API (Strawberry): the same capabilities as REST over the same service
layer, mounted at /graphql."""

from .schema import GRAPHQL_PATH, graphql_router, schema

__all__ = ["GRAPHQL_PATH", "graphql_router", "schema"]
