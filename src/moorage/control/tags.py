"""AddTags, ListTags, DeleteTags on every ARN moorage knows.

Tags live in the store keyed by ARN; a resource's tags are dropped with the
resource. AWS allows 50 tags per resource.
"""

from __future__ import annotations

from typing import Any

from moorage.arns import parse_arn
from moorage.control.context import ControlContext
from moorage.control.paging import DEFAULT_MAX_RESULTS, decode_token, encode_token
from moorage.errors import ResourceLimitExceeded, ValidationError

MAX_TAGS_PER_RESOURCE = 50

# ARN resource types → store kinds.
TAGGABLE_KINDS = {
    "model": "model",
    "endpoint-config": "endpoint-config",
    "endpoint": "endpoint",
    "inference-component": "inference-component",
    "inference-experiment": "inference-experiment",
}


def tag_pairs(tags: list[dict[str, str]] | None) -> list[tuple[str, str]]:
    return [(t["Key"], t.get("Value", "")) for t in tags or []]


def check_tag_count(tags: list[tuple[str, str]]) -> None:
    if len({key for key, _ in tags}) > MAX_TAGS_PER_RESOURCE:
        raise ResourceLimitExceeded(f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags.")


class TagsService:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx

    def _require_resource(self, arn: str) -> None:
        parsed = parse_arn(arn)
        kind = TAGGABLE_KINDS.get(parsed.resource_type) if parsed else None
        record = self.ctx.store.get(kind, parsed.name) if kind and parsed else None
        if record is None or (record.arn != arn.lower() and record.arn != arn):
            raise ValidationError(f'Could not find resource "{arn}".')

    def add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["ResourceArn"]
        self._require_resource(arn)
        new = tag_pairs(params["Tags"])
        existing: dict[str, str] = dict(self.ctx.store.get_tags(arn))
        merged = {**existing, **dict(new)}
        check_tag_count(list(merged.items()))
        self.ctx.store.set_tags(arn, new)
        return {"Tags": [{"Key": k, "Value": v} for k, v in new]}

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["ResourceArn"]
        self._require_resource(arn)
        tags = self.ctx.store.get_tags(arn)
        start = 0
        if params.get("NextToken"):
            position = decode_token(params["NextToken"])
            start = int(position[0]) if isinstance(position[0], int) else 0
        limit = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
        chunk = tags[start : start + limit]
        token = encode_token([start + limit, arn]) if start + limit < len(tags) else None
        return {"Tags": [{"Key": k, "Value": v} for k, v in chunk], "NextToken": token}

    def delete_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["ResourceArn"]
        self._require_resource(arn)
        self.ctx.store.remove_tags(arn, list(params["TagKeys"]))
        return {}
