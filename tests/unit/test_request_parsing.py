"""api/requests: parsing a request body (the faithful DELETE's) into its model."""

from __future__ import annotations

import pytest

from taurus_sessions import errors
from taurus_sessions.api.processes import DeleteTaurusDbNodeProcessesRequest
from taurus_sessions.api.requests import parse_body


def delete_processes_body(body: bytes, content_type: str | None) -> list[int]:
    return parse_body(DeleteTaurusDbNodeProcessesRequest, body, content_type).processes


def test_delete_body_accepts_valid_ids() -> None:
    assert delete_processes_body(b'{"processes": [1, 2, 9223372036854775807]}', "application/json") == [
        1,
        2,
        2**63 - 1,
    ]
    assert delete_processes_body(b'{"processes": [0], "extra": true}', None) == [0]
    assert delete_processes_body(b'{"processes": [5]}', "application/json;charset=utf-8") == [5]
    assert delete_processes_body(b'{"processes": [5]}', "Application/JSON; charset=UTF-8") == [5]


@pytest.mark.parametrize(
    "body",
    [
        b'{"processes": []}',
        b'{"processes": [1.0]}',
        b'{"processes": [true]}',
        b'{"processes": ["1"]}',
        b'{"processes": [null]}',
        b'{"processes": [[1]]}',
        b'{"processes": [-1]}',
        b'{"processes": [9223372036854775808]}',
        b'{"processes": 1}',
        b'{"processes": null}',
        b'{"process": [1]}',
        b"{}",
        b"[1, 2]",
        b'"text"',
        b"{not json",
        b'{"processes": [' + b",".join(b"1" for _ in range(21)) + b"]}",
    ],
)
def test_delete_body_parameter_errors(body: bytes) -> None:
    with pytest.raises(errors.ParameterError):
        delete_processes_body(body, "application/json")


@pytest.mark.parametrize("body", [b"", b"   ", b"\n"])
def test_empty_body_is_its_own_error(body: bytes) -> None:
    with pytest.raises(errors.EmptyRequest):
        delete_processes_body(body, "application/json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_other_media_types_are_refused(content_type: str) -> None:
    with pytest.raises(errors.ParameterError):
        delete_processes_body(b'{"processes": [1]}', content_type)
