"""ids: the formats of project, instance and node ids."""

from __future__ import annotations

import pytest

from taurus_sessions import errors, ids


@pytest.mark.parametrize("value", ["a" * 32, "A1" * 16, "x", "9" * 64])
def test_project_ids_accepted(value: str) -> None:
    assert ids.check_project_id(value) == value


@pytest.mark.parametrize("value", ["", "a" * 65, "abc-def", "abc def", "é" * 10, "a/b"])
def test_project_ids_refused_as_parameter_errors(value: str) -> None:
    with pytest.raises(errors.ParameterError):
        ids.check_project_id(value)


def test_instance_and_node_ids() -> None:
    assert ids.check_instance_id("a" * 32 + "in07")
    assert ids.check_node_id("B" * 32 + "no07")
    for bad in [
        "a" * 32 + "no07",
        "a" * 31 + "in07",
        "a" * 33 + "in07",
        "a" * 32 + "IN07",
        "-" * 32 + "in07",
    ]:
        with pytest.raises(errors.BadInstanceOrNodeId):
            ids.check_instance_id(bad)
    with pytest.raises(errors.BadInstanceOrNodeId):
        ids.check_node_id("a" * 32 + "in07")
    assert ids.check_instance_id(ids.new_instance_id()) and ids.check_node_id(ids.new_node_id())
