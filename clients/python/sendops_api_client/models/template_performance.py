from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="TemplatePerformance")



@_attrs_define
class TemplatePerformance:
    """ 
        Attributes:
            bounce_rate (float):
            bounced (int):
            click_rate (float):
            clicks (int):
            complained (int):
            complaint_rate (float):
            delivered (int):
            open_rate (float):
            opens (int):
            sent (int):
            template (str): The SES template name.
            unique_clicks (int):
            unique_opens (int): Distinct recipients who opened over the whole window.
     """

    bounce_rate: float
    bounced: int
    click_rate: float
    clicks: int
    complained: int
    complaint_rate: float
    delivered: int
    open_rate: float
    opens: int
    sent: int
    template: str
    unique_clicks: int
    unique_opens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        bounce_rate = self.bounce_rate

        bounced = self.bounced

        click_rate = self.click_rate

        clicks = self.clicks

        complained = self.complained

        complaint_rate = self.complaint_rate

        delivered = self.delivered

        open_rate = self.open_rate

        opens = self.opens

        sent = self.sent

        template = self.template

        unique_clicks = self.unique_clicks

        unique_opens = self.unique_opens


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bounce_rate": bounce_rate,
            "bounced": bounced,
            "click_rate": click_rate,
            "clicks": clicks,
            "complained": complained,
            "complaint_rate": complaint_rate,
            "delivered": delivered,
            "open_rate": open_rate,
            "opens": opens,
            "sent": sent,
            "template": template,
            "unique_clicks": unique_clicks,
            "unique_opens": unique_opens,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bounce_rate = d.pop("bounce_rate")

        bounced = d.pop("bounced")

        click_rate = d.pop("click_rate")

        clicks = d.pop("clicks")

        complained = d.pop("complained")

        complaint_rate = d.pop("complaint_rate")

        delivered = d.pop("delivered")

        open_rate = d.pop("open_rate")

        opens = d.pop("opens")

        sent = d.pop("sent")

        template = d.pop("template")

        unique_clicks = d.pop("unique_clicks")

        unique_opens = d.pop("unique_opens")

        template_performance = cls(
            bounce_rate=bounce_rate,
            bounced=bounced,
            click_rate=click_rate,
            clicks=clicks,
            complained=complained,
            complaint_rate=complaint_rate,
            delivered=delivered,
            open_rate=open_rate,
            opens=opens,
            sent=sent,
            template=template,
            unique_clicks=unique_clicks,
            unique_opens=unique_opens,
        )


        template_performance.additional_properties = d
        return template_performance

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
