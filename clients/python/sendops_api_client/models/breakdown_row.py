from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="BreakdownRow")



@_attrs_define
class BreakdownRow:
    """ One key of a breakdown.

        Attributes:
            bounce_rate (float): bounced / sent, in [0, 1].
            bounced (int): Bounces of any type (= permanent + transient + undetermined).
            bounced_permanent (int):
            bounced_transient (int):
            bounced_undetermined (int):
            clicks (int):
            complained (int):
            complaint_rate (float): complained / delivered, in [0, 1].
            delayed (int): DeliveryDelay events.
            delivered (int):
            delivery_rate (float): delivered / sent, in [0, 1]; 0.0 when sent is 0.
            key (str): The group: a provider key (`google`, `microsoft`, …, `other`, `none`), a lower-cased
                domain, a channel UUID, a template name (`""`: no template) or a bounce cause.
            label (str): Human-readable name of the key.
            opens (int):
            sent (int):
            suppressed (int): SES Reject events.
            unique_clicks (int): Distinct recipients who clicked, over the whole window.
            unique_opens (int): Distinct recipients who opened, over the whole window.
     """

    bounce_rate: float
    bounced: int
    bounced_permanent: int
    bounced_transient: int
    bounced_undetermined: int
    clicks: int
    complained: int
    complaint_rate: float
    delayed: int
    delivered: int
    delivery_rate: float
    key: str
    label: str
    opens: int
    sent: int
    suppressed: int
    unique_clicks: int
    unique_opens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        bounce_rate = self.bounce_rate

        bounced = self.bounced

        bounced_permanent = self.bounced_permanent

        bounced_transient = self.bounced_transient

        bounced_undetermined = self.bounced_undetermined

        clicks = self.clicks

        complained = self.complained

        complaint_rate = self.complaint_rate

        delayed = self.delayed

        delivered = self.delivered

        delivery_rate = self.delivery_rate

        key = self.key

        label = self.label

        opens = self.opens

        sent = self.sent

        suppressed = self.suppressed

        unique_clicks = self.unique_clicks

        unique_opens = self.unique_opens


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bounce_rate": bounce_rate,
            "bounced": bounced,
            "bounced_permanent": bounced_permanent,
            "bounced_transient": bounced_transient,
            "bounced_undetermined": bounced_undetermined,
            "clicks": clicks,
            "complained": complained,
            "complaint_rate": complaint_rate,
            "delayed": delayed,
            "delivered": delivered,
            "delivery_rate": delivery_rate,
            "key": key,
            "label": label,
            "opens": opens,
            "sent": sent,
            "suppressed": suppressed,
            "unique_clicks": unique_clicks,
            "unique_opens": unique_opens,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bounce_rate = d.pop("bounce_rate")

        bounced = d.pop("bounced")

        bounced_permanent = d.pop("bounced_permanent")

        bounced_transient = d.pop("bounced_transient")

        bounced_undetermined = d.pop("bounced_undetermined")

        clicks = d.pop("clicks")

        complained = d.pop("complained")

        complaint_rate = d.pop("complaint_rate")

        delayed = d.pop("delayed")

        delivered = d.pop("delivered")

        delivery_rate = d.pop("delivery_rate")

        key = d.pop("key")

        label = d.pop("label")

        opens = d.pop("opens")

        sent = d.pop("sent")

        suppressed = d.pop("suppressed")

        unique_clicks = d.pop("unique_clicks")

        unique_opens = d.pop("unique_opens")

        breakdown_row = cls(
            bounce_rate=bounce_rate,
            bounced=bounced,
            bounced_permanent=bounced_permanent,
            bounced_transient=bounced_transient,
            bounced_undetermined=bounced_undetermined,
            clicks=clicks,
            complained=complained,
            complaint_rate=complaint_rate,
            delayed=delayed,
            delivered=delivered,
            delivery_rate=delivery_rate,
            key=key,
            label=label,
            opens=opens,
            sent=sent,
            suppressed=suppressed,
            unique_clicks=unique_clicks,
            unique_opens=unique_opens,
        )


        breakdown_row.additional_properties = d
        return breakdown_row

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
