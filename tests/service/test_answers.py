"""Reading the server's own words out of an answer (``service/answers.py``), once, for every error."""

import json
from typing import Optional

import pytest
import requests

from anonlinkclient.errors import NotAnUploadToken, RateLimitedClient, ServiceError
from anonlinkclient.service.answers import answer_error, server_message, upload_refusal


def answer(status: int, body: bytes, content_type: Optional[str] = "application/problem+json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.encoding = "utf-8"
    if content_type:
        response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(
    "body, said",
    [
        (
            json.dumps({"detail": "'x' is not of type 'number' - 'threshold'", "title": "Bad Request"}),
            "'x' is not of type 'number' (in field threshold)",
        ),
        (
            json.dumps({"detail": "Invalid access token or project doesn't exist", "title": None}),
            "Invalid access token or project doesn't exist",
        ),
        (json.dumps({"message": "no such run"}), "no such run"),
        (json.dumps({"title": "Unsupported Media Type"}), "Unsupported Media Type"),
        (json.dumps({"detail": "first line\nsecond line"}), "first line"),
        (json.dumps({"detail": 42}), None),
        (json.dumps(["not", "an", "object"]), None),
        ("<html><body>\n<h1>502 Bad Gateway</h1>", "<html><body>"),
        ("", None),
        ("[" * 100000, "[" * 200),
    ],
)
def test_the_servers_message(body, said):
    assert server_message(answer(400, body.encode())) == said


def test_no_answer_no_message():
    assert server_message(None) is None


def test_errors_are_built_from_the_parts_answers_reads():
    response = answer(403, json.dumps({"detail": "token abc123 is not valid"}).encode())
    assert ServiceError("Upload failed", response).text is None  # errors.py reads no bodies
    error = answer_error(ServiceError, "Upload failed", response, ["abc123"], " (try another)")
    assert str(error) == "Upload failed (HTTP 403): token <hidden> is not valid (try another)"
    assert error.text == "token <hidden> is not valid" and error.status_code == 403
    busy = answer_error(RateLimitedClient, "Getting the service status failed: busy", answer(503, b"Busy"))
    assert (
        isinstance(busy, RateLimitedClient) and str(busy) == "Getting the service status failed: busy (HTTP 503): Busy"
    )


def test_an_explained_error_keeps_the_servers_message():
    internal = answer(500, b"The server encountered an internal error and was unable to complete your request.")
    explained = upload_refusal(answer_error(ServiceError, "Upload failed", internal, ["tok"]), "p1", ["tok"])
    assert isinstance(explained, NotAnUploadToken)
    assert explained.text == "The server encountered an internal error and was unable to complete your request."
