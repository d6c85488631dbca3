"""A cost limit on GraphQL requests, checked before anything runs.

Depth, alias and token limits bound the *size* of a query, not its work: 30 aliases of
``discussions(first: 100)`` pass all three and ask for 3,000 discussions in one
request. The cost estimates the work instead:

- every field that returns an object or a list of objects costs 1 (scalars are free:
  they come with their object);
- everything selected under a field with a ``first`` argument counts ``first`` times
  (a variable counts with its value, or the largest page when it has none); the
  paged ``discussions`` without ``first`` counts its default page size;
- aliases and fragments count each time they are used.

A request over the maximum is refused whole with ``extensions.code``
``QUERY_TOO_COSTLY`` (and its ``cost`` and ``maxCost``), before validation and
execution, so it costs the database nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from parley_gateway.domain import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
DEFAULT_MAX_COST = 1000
# Paged fields and the page size they use when the query does not say.
PAGED_FIELDS: Mapping[str, int] = {"discussions": DEFAULT_PAGE_SIZE}


def query_cost(
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of the operation that would run (the costliest one if unnamed)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    costs = [
        _selection_cost(o.selection_set, fragments, variables or {}, frozenset())
        for o in operations
    ]
    return max(costs, default=0)


def _selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    expanding: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is None:
                continue  # a scalar
            children = _selection_cost(selection.selection_set, fragments, variables, expanding)
            total += 1 + _page_size(selection, variables) * children
        elif isinstance(selection, InlineFragmentNode):
            total += _selection_cost(selection.selection_set, fragments, variables, expanding)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            # A cycle or an unknown fragment: validation refuses the query anyway.
            if fragment is not None and name not in expanding:
                total += _selection_cost(
                    fragment.selection_set, fragments, variables, expanding | {name}
                )
    return total


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in field.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(1, int(value.value))
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(1, given) if isinstance(given, int) else MAX_PAGE_SIZE
        return MAX_PAGE_SIZE
    return PAGED_FIELDS.get(field.name.value, 1)


class QueryCostLimiter(SchemaExtension):
    """Refuses a request whose :func:`query_cost` is over ``max_cost``."""

    def __init__(self, max_cost: int = DEFAULT_MAX_COST) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            cost = query_cost(document, context.variables, context.operation_name)
            if cost > self.max_cost:
                # Set before validation runs: Strawberry then answers with it, unexecuted.
                context.pre_execution_errors = [too_costly(cost, self.max_cost)]
        yield


def too_costly(cost: int, max_cost: int) -> GraphQLError:
    return GraphQLError(
        f"The query is too costly: its estimated cost is {cost}, the maximum is "
        f"{max_cost}. Ask for smaller pages (first) or fewer aliased lists.",
        extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "maxCost": max_cost},
    )
