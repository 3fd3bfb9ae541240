from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.rate_thresholds import RateThresholds





T = TypeVar("T", bound="ReputationThresholds")



@_attrs_define
class ReputationThresholds:
    """ 
        Attributes:
            bounce_rate (RateThresholds):
            complaint_rate (RateThresholds):
            minimum_sends (int): Below this many sends a scope is `insufficient_volume`.
     """

    bounce_rate: RateThresholds
    complaint_rate: RateThresholds
    minimum_sends: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.rate_thresholds import RateThresholds # noqa: PLC0415
        bounce_rate = self.bounce_rate.to_dict()

        complaint_rate = self.complaint_rate.to_dict()

        minimum_sends = self.minimum_sends


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bounce_rate": bounce_rate,
            "complaint_rate": complaint_rate,
            "minimum_sends": minimum_sends,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rate_thresholds import RateThresholds # noqa: PLC0415
        d = dict(src_dict)
        bounce_rate = RateThresholds.from_dict(d.pop("bounce_rate"))




        complaint_rate = RateThresholds.from_dict(d.pop("complaint_rate"))




        minimum_sends = d.pop("minimum_sends")

        reputation_thresholds = cls(
            bounce_rate=bounce_rate,
            complaint_rate=complaint_rate,
            minimum_sends=minimum_sends,
        )


        reputation_thresholds.additional_properties = d
        return reputation_thresholds

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
