from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="RuleStatus")



@_attrs_define
class RuleStatus:
    """ One rule: locked rules are always enabled and show events = window_days = 0.

        Attributes:
            enabled (bool):
            events (int): Qualifying events needed (N).
            locked (bool):
            window_days (int): Trailing window in days (M), clamped to the plan's retention when applied.
     """

    enabled: bool
    events: int
    locked: bool
    window_days: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        enabled = self.enabled

        events = self.events

        locked = self.locked

        window_days = self.window_days


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "enabled": enabled,
            "events": events,
            "locked": locked,
            "window_days": window_days,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        enabled = d.pop("enabled")

        events = d.pop("events")

        locked = d.pop("locked")

        window_days = d.pop("window_days")

        rule_status = cls(
            enabled=enabled,
            events=events,
            locked=locked,
            window_days=window_days,
        )


        rule_status.additional_properties = d
        return rule_status

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
