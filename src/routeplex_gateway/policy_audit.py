"""The privacy audit's account of where prompts go: the configured deployments whose data
policy has fields nobody stated (a requirement on such a field is never met there), from the
catalog the settings build — the deployments `serve` would route to.

Unknown is reported, not a failure: it is what a provider has not published or the operator
has not configured (`data_policy` in the config file), and routing already fails closed on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .routing.catalog import Catalog, build_catalog


@dataclass(frozen=True, slots=True)
class UnknownPolicy:
    """One deployment of one model whose data policy leaves `fields` unknown."""

    model: str
    provider: str
    deployment: str
    fields: tuple[str, ...]  # `retention_days`, `trains_on_data`, `regions`: the config keys


def policy_gaps(catalog: Catalog) -> tuple[int, list[UnknownPolicy]]:
    """How many deployments have a fully known policy, and every one that does not."""
    known = 0
    gaps: list[UnknownPolicy] = []
    for model in catalog.models.values():
        for deployment in model.deployments:
            policy = deployment.data_policy.as_dict()
            unknown = tuple(name for name, value in policy.items() if value is None)
            if unknown:
                gaps.append(UnknownPolicy(model.id, deployment.provider, deployment.id, unknown))
            else:
                known += 1
    return known, gaps


def render_policies(settings: Settings) -> str:
    """The audit's section on the deployments' data policies (README, "Where prompts go")."""
    known, gaps = policy_gaps(build_catalog(settings))
    lines = ["Where prompts go — the configured deployments' data policies:"]
    if not known and not gaps:
        lines.append("No provider is configured: there is no deployment to report.")
        return "\n".join(lines)
    lines.append(f"{known} deployment(s) with a fully known data policy.")
    if not gaps:
        lines.append("No deployment has an unknown data-policy field.")
        return "\n".join(lines)
    lines.append(
        f"{len(gaps)} deployment(s) with unknown fields, which never meet a requirement on "
        "them (state what you know with `data_policy` in the config file):"
    )
    lines += [
        f"  - {gap.model} ({gap.provider}, deployment {gap.deployment}): unknown "
        + ", ".join(gap.fields)
        for gap in gaps
    ]
    return "\n".join(lines)
