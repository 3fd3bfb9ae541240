from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.reputation_status import ReputationStatus
from typing import cast
from uuid import UUID
import datetime






T = TypeVar("T", bound="ReputationAlert")



@_attrs_define
class ReputationAlert:
    """ A recorded status transition.

        Attributes:
            bounce_rate (float):
            complaint_rate (float):
            complaints (int):
            deliveries (int):
            evaluated_at (datetime.datetime): When the evaluation that saw the crossing ran.
            id (UUID):
            key (str): The channel UUID for a channel; `""` for the org.
            permanent_bounces (int):
            previous_status (ReputationStatus): A reputation status against SES's thresholds.
            recorded_at (datetime.datetime): When it was recorded; poll with `since` = the largest one seen.
            scope (str): `org` (the whole org) or `channel`. Example: channel.
            sends (int):
            status (ReputationStatus): A reputation status against SES's thresholds.
            window_days (int): The trailing window the figures cover.
     """

    bounce_rate: float
    complaint_rate: float
    complaints: int
    deliveries: int
    evaluated_at: datetime.datetime
    id: UUID
    key: str
    permanent_bounces: int
    previous_status: ReputationStatus
    recorded_at: datetime.datetime
    scope: str
    sends: int
    status: ReputationStatus
    window_days: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        bounce_rate = self.bounce_rate

        complaint_rate = self.complaint_rate

        complaints = self.complaints

        deliveries = self.deliveries

        evaluated_at = self.evaluated_at.isoformat()

        id = str(self.id)

        key = self.key

        permanent_bounces = self.permanent_bounces

        previous_status = self.previous_status.value

        recorded_at = self.recorded_at.isoformat()

        scope = self.scope

        sends = self.sends

        status = self.status.value

        window_days = self.window_days


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bounce_rate": bounce_rate,
            "complaint_rate": complaint_rate,
            "complaints": complaints,
            "deliveries": deliveries,
            "evaluated_at": evaluated_at,
            "id": id,
            "key": key,
            "permanent_bounces": permanent_bounces,
            "previous_status": previous_status,
            "recorded_at": recorded_at,
            "scope": scope,
            "sends": sends,
            "status": status,
            "window_days": window_days,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bounce_rate = d.pop("bounce_rate")

        complaint_rate = d.pop("complaint_rate")

        complaints = d.pop("complaints")

        deliveries = d.pop("deliveries")

        evaluated_at = datetime.datetime.fromisoformat(d.pop("evaluated_at"))




        id = UUID(d.pop("id"))




        key = d.pop("key")

        permanent_bounces = d.pop("permanent_bounces")

        previous_status = ReputationStatus(d.pop("previous_status"))




        recorded_at = datetime.datetime.fromisoformat(d.pop("recorded_at"))




        scope = d.pop("scope")

        sends = d.pop("sends")

        status = ReputationStatus(d.pop("status"))




        window_days = d.pop("window_days")

        reputation_alert = cls(
            bounce_rate=bounce_rate,
            complaint_rate=complaint_rate,
            complaints=complaints,
            deliveries=deliveries,
            evaluated_at=evaluated_at,
            id=id,
            key=key,
            permanent_bounces=permanent_bounces,
            previous_status=previous_status,
            recorded_at=recorded_at,
            scope=scope,
            sends=sends,
            status=status,
            window_days=window_days,
        )


        reputation_alert.additional_properties = d
        return reputation_alert

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
