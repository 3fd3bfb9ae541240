from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="SendQuotaView")



@_attrs_define
class SendQuotaView:
    """ 
        Attributes:
            max_24_hour (float):
            max_send_rate (float):
            sent_last_24_hours (float):
     """

    max_24_hour: float
    max_send_rate: float
    sent_last_24_hours: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        max_24_hour = self.max_24_hour

        max_send_rate = self.max_send_rate

        sent_last_24_hours = self.sent_last_24_hours


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "max_24_hour": max_24_hour,
            "max_send_rate": max_send_rate,
            "sent_last_24_hours": sent_last_24_hours,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        max_24_hour = d.pop("max_24_hour")

        max_send_rate = d.pop("max_send_rate")

        sent_last_24_hours = d.pop("sent_last_24_hours")

        send_quota_view = cls(
            max_24_hour=max_24_hour,
            max_send_rate=max_send_rate,
            sent_last_24_hours=sent_last_24_hours,
        )


        send_quota_view.additional_properties = d
        return send_quota_view

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
