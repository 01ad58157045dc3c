"""Amazon Resource Names as SageMaker writes them.

``arn:aws:sagemaker:{region}:{account}:{type}/{name lower-cased}``; the name
keeps its case everywhere else (responses, the store).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

_ARN = regex.compile(r"arn:aws[a-z-]*:sagemaker:([a-z0-9-]*):([0-9]{12}):([a-z-]+)/(.+)")


@dataclass(frozen=True)
class Partition:
    """The region and account every ARN of this server is minted in."""

    region: str
    account_id: str

    def arn(self, resource_type: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource_type}/{name.lower()}"


@dataclass(frozen=True)
class ParsedArn:
    region: str
    account_id: str
    resource_type: str
    name: str


def parse_arn(arn: str) -> ParsedArn | None:
    match = _ARN.fullmatch(arn)
    if match is None:
        return None
    region, account, rtype, name = match.groups()
    return ParsedArn(region, account, rtype, name)
