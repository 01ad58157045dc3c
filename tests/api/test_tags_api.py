"""AddTags / ListTags / DeleteTags."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.names import unique


def test_tag_lifecycle(sm: Any) -> None:
    name = unique("tagged")
    arn = sm.create_model(
        ModelName=name, PrimaryContainer={"Image": "img"}, Tags=[{"Key": "a", "Value": "1"}]
    )["ModelArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_list_tags_pages(sm: Any) -> None:
    arn = sm.create_model(ModelName=unique("paged-tags"), PrimaryContainer={"Image": "img"})[
        "ModelArn"
    ]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": "v"} for i in range(50)])
    sm.delete_tags(ResourceArn=arn, TagKeys=[f"k{i:02}" for i in range(40, 50)])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"z{i:02}", "Value": "v"} for i in range(10)])
    listed = sm.list_tags(ResourceArn=arn, MaxResults=50)
    assert [t["Key"] for t in listed["Tags"]] == [f"k{i:02}" for i in range(40)] + [
        f"z{i:02}" for i in range(10)
    ]
    assert "NextToken" not in listed


def test_unknown_arn(sm: Any) -> None:
    with pytest.raises(ClientError) as err:
        sm.add_tags(
            ResourceArn="arn:aws:sagemaker:us-east-1:123456789012:model/ghost",
            Tags=[{"Key": "a", "Value": "b"}],
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_tag_limit(sm: Any) -> None:
    name = unique("many-tags")
    arn = sm.create_model(ModelName=name, PrimaryContainer={"Image": "img"})["ModelArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    with pytest.raises(ClientError) as err:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert err.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert len(sm.list_tags(ResourceArn=arn, MaxResults=100)["Tags"]) == 50
