from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime






T = TypeVar("T", bound="DeliverabilityBucket")



@_attrs_define
class DeliverabilityBucket:
    """ 
        Attributes:
            bounced (int):
            complained (int):
            delivered (int):
            delivery_rate (float): delivered / sent, in [0, 1]; 0.0 when sent is 0.
            period (datetime.datetime): Bucket start (UTC midnight, Monday, or the 1st of the month).
            sent (int):
            suppressed (int): SES Reject events.
     """

    bounced: int
    complained: int
    delivered: int
    delivery_rate: float
    period: datetime.datetime
    sent: int
    suppressed: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        bounced = self.bounced

        complained = self.complained

        delivered = self.delivered

        delivery_rate = self.delivery_rate

        period = self.period.isoformat()

        sent = self.sent

        suppressed = self.suppressed


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bounced": bounced,
            "complained": complained,
            "delivered": delivered,
            "delivery_rate": delivery_rate,
            "period": period,
            "sent": sent,
            "suppressed": suppressed,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bounced = d.pop("bounced")

        complained = d.pop("complained")

        delivered = d.pop("delivered")

        delivery_rate = d.pop("delivery_rate")

        period = datetime.datetime.fromisoformat(d.pop("period"))




        sent = d.pop("sent")

        suppressed = d.pop("suppressed")

        deliverability_bucket = cls(
            bounced=bounced,
            complained=complained,
            delivered=delivered,
            delivery_rate=delivery_rate,
            period=period,
            sent=sent,
            suppressed=suppressed,
        )


        deliverability_bucket.additional_properties = d
        return deliverability_bucket

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
