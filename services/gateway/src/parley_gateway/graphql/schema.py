"""The GraphQL schema and its FastAPI router, mounted at /graphql (F15).

Abuse limits come first: a single GraphQL request can otherwise ask for arbitrarily
deep or repeated work, which REST's fixed routes never allow. Field suggestions are
kept ("did you mean"): the schema is public and committed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cross_web import HTTPException as StrawberryRefusal
from graphql import GraphQLError
from starlette.exceptions import HTTPException
from strawberry import Schema
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter
from strawberry.types import ExecutionContext
from strawberry.types.unset import UNSET

from parley_gateway.graphql.context import GraphQLContext, get_context
from parley_gateway.graphql.cost import DEFAULT_MAX_COST, QueryCostLimiter
from parley_gateway.graphql.errors import PublicErrors, log_unexpected
from parley_gateway.graphql.mutations import Mutation
from parley_gateway.graphql.queries import Query

GRAPHQL_PATH = "/graphql"
# discussion → messages → attachments → url is 4 deep; introspection needs ~12.
MAX_DEPTH = 15
MAX_ALIASES = 30
MAX_TOKENS = 5_000


class ParleySchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logs unexpected errors only; domain errors are answers, not faults."""
        log_unexpected(errors, execution_context)


def build_schema(max_cost: int = DEFAULT_MAX_COST) -> Schema:
    return ParleySchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # Factories, not instances: each request gets its own extension objects.
            partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
            partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
            partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
            partial(QueryCostLimiter, max_cost=max_cost),
            PublicErrors,
        ],
    )


schema = build_schema()


class ProblemGraphQLRouter(GraphQLRouter[GraphQLContext, None]):
    """Strawberry answers its own HTTP-level refusals (a mutation over GET, a body with
    no query, a content type it does not read) in plain text; every other error of
    the gateway is problem+json, so a client parses one error shape. Re-raised as
    Starlette's HTTPException, which the gateway's problem handler answers."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except StrawberryRefusal as exc:
            raise HTTPException(exc.status_code, exc.reason) from exc


def graphql_router(max_cost: int = DEFAULT_MAX_COST) -> GraphQLRouter[GraphQLContext, None]:
    """POST (and GET for queries) at /graphql; GraphiQL for browsers.

    Left out of the OpenAPI document: the GraphQL contract is the SDL
    (services/gateway/schema.graphql), and a fuzzer of the REST contract has nothing
    to learn from one opaque endpoint.
    """
    return ProblemGraphQLRouter(
        schema if max_cost == DEFAULT_MAX_COST else build_schema(max_cost),
        path=GRAPHQL_PATH,
        context_getter=get_context,
        include_in_schema=False,
        # Mutations only over POST: a GET can be triggered cross-site by a link.
        allow_queries_via_get=True,
    )
