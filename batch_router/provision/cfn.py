"""CloudFormation's intrinsic functions as plain data, so the template is built from dicts."""

from __future__ import annotations

from typing import Any

__all__ = ["get_att", "ref", "sub", "sub_if_needed"]


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def get_att(name: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, attribute]}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def sub_if_needed(text: str) -> Any:
    """``text`` as it is, or in ``Fn::Sub`` when it names a pseudo parameter (``${AWS::Region}``) or a
    resource's attribute (``${JobEventsQueue.Arn}``). batch-router writes no IAM policy variables, which
    Fn::Sub would need escaped (``${!aws:username}``)."""
    return sub(text) if "${" in text else text
