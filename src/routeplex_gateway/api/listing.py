"""What the model listings share (`GET /api/v1/models`, `GET /v1/models` in OpenAI's and
Anthropic's shapes): the data-policy requirement a listing is filtered by, and whether a
model meets it.

A listing answers "where may my prompts go?" the way routing would: a model is listed only
when one of its deployments here meets the requirement, so what is listed is what a request
with that requirement can be served by.
"""

from __future__ import annotations

from starlette.requests import Request

from ..auth import Principal
from ..data_policy import DataPolicyError, DataRequirement
from ..errors import validation
from ..gateway import Gateway
from ..routing.catalog import CatalogModel
from .wire import data_requirement

QUERY = "data_policy"


def requirement(request: Request, principal: Principal | None) -> DataRequirement:
    """The `?data_policy=` query parameter (the header's syntax; repeated, one list as the
    header's lines are), narrowed by the `X-RoutePlex-Data-Policy` header and the caller's key
    and account — a listing shows no model a request of theirs could not be served by.
    NOTHING: no filter."""
    try:
        asked = DataRequirement.parse(", ".join(request.query_params.getlist(QUERY)))
    except DataPolicyError as bad:
        raise validation(f"'{QUERY}': {bad}.", QUERY) from None
    return asked.narrow(data_requirement(principal, request.headers))


def listed(gw: Gateway, model: CatalogModel, required: DataRequirement) -> bool:
    """Whether a listing filtered by `required` shows `model`: with nothing required, every
    model; else one a provider here serves through a deployment meeting it."""
    if not required:
        return True
    return gw.router.servable(model) and not gw.router.unmet(model, required)
