"""Schemathesis hooks for the admin (AList-compatible) surface.

AList answers every request with HTTP 200 and puts the real status in the envelope's
`code` (`{"code": 400, "message": "...", "data": null}`). The stock checks
`negative_data_rejection` and `positive_data_acceptance` read the HTTP status, so on this
surface they would call every rejected request "accepted". The two checks below are those
same stock rules, applied to the envelope's `code` instead: the run script excludes the
stock pair for the admin surface only and loads this file.
"""

import copy
import json

import schemathesis
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)


def _with_envelope_status(response):
    """The response as the stock checks should see it: the envelope's `code` as its status.

    A body that is not the envelope (it should always be) keeps its HTTP status, so the
    stock rule still judges it rather than this hook hiding it.
    """
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return response
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return response
    seen = copy.copy(response)
    seen.status_code = code
    return seen


@schemathesis.check
def envelope_negative_data_rejection(ctx, response, case):
    """Schema-violating requests must be rejected: the envelope's `code` is a 4xx."""
    return negative_data_rejection(ctx, _with_envelope_status(response), case)


@schemathesis.check
def envelope_positive_data_acceptance(ctx, response, case):
    """Schema-valid requests must be accepted: the envelope's `code` is not a 4xx
    other than the documented credential and lookup refusals."""
    return positive_data_acceptance(ctx, _with_envelope_status(response), case)
