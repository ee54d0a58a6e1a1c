"""auth/policy: action patterns, aliases, and the built-in roles."""

from __future__ import annotations

import pytest

from taurus_sessions.auth import policy


def test_policy_patterns_and_aliases() -> None:
    assert policy.allows(["gaussdb:*"], policy.DELETE_PROCESSES)
    assert policy.allows(["gaussdbformysql:instance:deleteProcesses"], policy.DELETE_PROCESSES)
    assert policy.allows(["gaussdb:instance:list*"], "gaussdbformysql:instance:listProcesses")
    assert not policy.allows(["gaussdb:instance:list*"], policy.DELETE_PROCESSES)
    assert not policy.allows([], policy.LIST_PROCESSES)
    # a dot or bracket in a pattern is literal text, not a regular expression
    assert not policy.allows(["gaussdb:instance:.*"], policy.LIST_PROCESSES)
    assert policy.valid_pattern("gaussdb:instance:*") and not policy.valid_pattern("gaussdb instance")


@pytest.mark.parametrize("role", sorted(policy.BUILTIN_ROLES))
def test_every_pattern_of_a_builtin_role_grants_a_known_action(role: str) -> None:
    """A pattern that matches no action is a typo or a leftover: it grants nothing, yet reads as if."""
    _, patterns = policy.BUILTIN_ROLES[role]
    assert patterns
    for pattern in patterns:
        assert policy.valid_pattern(pattern), pattern
        assert any(policy.allows([pattern], action) for action in policy.KNOWN_ACTIONS), pattern
