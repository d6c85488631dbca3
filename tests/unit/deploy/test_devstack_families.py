"""The local stack's demo activations agree with the families' own declarations.

devstack passes each family's sandbox credentials to ``parley connections add``; the
family declares which fields activation requires (``Family.credential_fields``). A
family whose declaration and the demo drift apart would fail `make run` at start-up.
"""

from __future__ import annotations

from devstack import SANDBOX_CREDENTIALS, sandbox_credentials

from parley_connectors.registry import families


def test_the_demo_stack_activates_only_registered_families() -> None:
    assert set(SANDBOX_CREDENTIALS) <= set(families())


def test_each_demo_activation_carries_the_fields_its_family_requires() -> None:
    for name in SANDBOX_CREDENTIALS:
        required = set(families()[name].credential_fields)
        assert required <= set(sandbox_credentials(name, "demo")), name
