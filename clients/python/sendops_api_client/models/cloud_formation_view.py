from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="CloudFormationView")



@_attrs_define
class CloudFormationView:
    """ 
        Attributes:
            drift_status (str):
            latest_version (int):
            stack_name (str):
            template_version (int):
            up_to_date (bool):
     """

    drift_status: str
    latest_version: int
    stack_name: str
    template_version: int
    up_to_date: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        drift_status = self.drift_status

        latest_version = self.latest_version

        stack_name = self.stack_name

        template_version = self.template_version

        up_to_date = self.up_to_date


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "drift_status": drift_status,
            "latest_version": latest_version,
            "stack_name": stack_name,
            "template_version": template_version,
            "up_to_date": up_to_date,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        drift_status = d.pop("drift_status")

        latest_version = d.pop("latest_version")

        stack_name = d.pop("stack_name")

        template_version = d.pop("template_version")

        up_to_date = d.pop("up_to_date")

        cloud_formation_view = cls(
            drift_status=drift_status,
            latest_version=latest_version,
            stack_name=stack_name,
            template_version=template_version,
            up_to_date=up_to_date,
        )


        cloud_formation_view.additional_properties = d
        return cloud_formation_view

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
