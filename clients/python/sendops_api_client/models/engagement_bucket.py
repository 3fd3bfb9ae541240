from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime






T = TypeVar("T", bound="EngagementBucket")



@_attrs_define
class EngagementBucket:
    """ 
        Attributes:
            click_rate (float): unique_clicks / delivered, in [0, 1].
            clicks (int):
            delivered (int):
            open_rate (float): unique_opens / delivered, in [0, 1].
            opens (int):
            period (datetime.datetime):
            sent (int):
            unique_clicks (int):
            unique_opens (int): Distinct recipients who opened, per day (week and month buckets sum their days).
     """

    click_rate: float
    clicks: int
    delivered: int
    open_rate: float
    opens: int
    period: datetime.datetime
    sent: int
    unique_clicks: int
    unique_opens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        click_rate = self.click_rate

        clicks = self.clicks

        delivered = self.delivered

        open_rate = self.open_rate

        opens = self.opens

        period = self.period.isoformat()

        sent = self.sent

        unique_clicks = self.unique_clicks

        unique_opens = self.unique_opens


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "click_rate": click_rate,
            "clicks": clicks,
            "delivered": delivered,
            "open_rate": open_rate,
            "opens": opens,
            "period": period,
            "sent": sent,
            "unique_clicks": unique_clicks,
            "unique_opens": unique_opens,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        click_rate = d.pop("click_rate")

        clicks = d.pop("clicks")

        delivered = d.pop("delivered")

        open_rate = d.pop("open_rate")

        opens = d.pop("opens")

        period = datetime.datetime.fromisoformat(d.pop("period"))




        sent = d.pop("sent")

        unique_clicks = d.pop("unique_clicks")

        unique_opens = d.pop("unique_opens")

        engagement_bucket = cls(
            click_rate=click_rate,
            clicks=clicks,
            delivered=delivered,
            open_rate=open_rate,
            opens=opens,
            period=period,
            sent=sent,
            unique_clicks=unique_clicks,
            unique_opens=unique_opens,
        )


        engagement_bucket.additional_properties = d
        return engagement_bucket

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
