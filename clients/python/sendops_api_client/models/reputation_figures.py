from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.reputation_status import ReputationStatus






T = TypeVar("T", bound="ReputationFigures")



@_attrs_define
class ReputationFigures:
    """ Figures of one scope over the window.

        Attributes:
            bounce_rate (float): permanent_bounces / sends, in [0, 1]; 0.0 without sends.
            bounce_status (ReputationStatus): A reputation status against SES's thresholds.
            complaint_rate (float): complaints / deliveries, in [0, 1]; 0.0 without deliveries.
            complaint_status (ReputationStatus): A reputation status against SES's thresholds.
            complaints (int):
            deliveries (int):
            permanent_bounces (int):
            sends (int):
            status (ReputationStatus): A reputation status against SES's thresholds.
     """

    bounce_rate: float
    bounce_status: ReputationStatus
    complaint_rate: float
    complaint_status: ReputationStatus
    complaints: int
    deliveries: int
    permanent_bounces: int
    sends: int
    status: ReputationStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        bounce_rate = self.bounce_rate

        bounce_status = self.bounce_status.value

        complaint_rate = self.complaint_rate

        complaint_status = self.complaint_status.value

        complaints = self.complaints

        deliveries = self.deliveries

        permanent_bounces = self.permanent_bounces

        sends = self.sends

        status = self.status.value


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bounce_rate": bounce_rate,
            "bounce_status": bounce_status,
            "complaint_rate": complaint_rate,
            "complaint_status": complaint_status,
            "complaints": complaints,
            "deliveries": deliveries,
            "permanent_bounces": permanent_bounces,
            "sends": sends,
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bounce_rate = d.pop("bounce_rate")

        bounce_status = ReputationStatus(d.pop("bounce_status"))




        complaint_rate = d.pop("complaint_rate")

        complaint_status = ReputationStatus(d.pop("complaint_status"))




        complaints = d.pop("complaints")

        deliveries = d.pop("deliveries")

        permanent_bounces = d.pop("permanent_bounces")

        sends = d.pop("sends")

        status = ReputationStatus(d.pop("status"))




        reputation_figures = cls(
            bounce_rate=bounce_rate,
            bounce_status=bounce_status,
            complaint_rate=complaint_rate,
            complaint_status=complaint_status,
            complaints=complaints,
            deliveries=deliveries,
            permanent_bounces=permanent_bounces,
            sends=sends,
            status=status,
        )


        reputation_figures.additional_properties = d
        return reputation_figures

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
