from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="PlanView")



@_attrs_define
class PlanView:
    """ 
        Attributes:
            api_rate_limit_per_minute (int): Live keys' limit; test keys get 10 % of it.
            retention_days (int):
            tier (str): `free`, `pro` or `enterprise`. Example: free.
     """

    api_rate_limit_per_minute: int
    retention_days: int
    tier: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        api_rate_limit_per_minute = self.api_rate_limit_per_minute

        retention_days = self.retention_days

        tier = self.tier


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "api_rate_limit_per_minute": api_rate_limit_per_minute,
            "retention_days": retention_days,
            "tier": tier,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        api_rate_limit_per_minute = d.pop("api_rate_limit_per_minute")

        retention_days = d.pop("retention_days")

        tier = d.pop("tier")

        plan_view = cls(
            api_rate_limit_per_minute=api_rate_limit_per_minute,
            retention_days=retention_days,
            tier=tier,
        )


        plan_view.additional_properties = d
        return plan_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
