from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.rule_status import RuleStatus





T = TypeVar("T", bound="RuleStatuses")



@_attrs_define
class RuleStatuses:
    """ The six rules, in priority order.

        Attributes:
            complaint (RuleStatus): One rule: locked rules are always enabled and show events = window_days = 0.
            permanent_bounce (RuleStatus): One rule: locked rules are always enabled and show events = window_days = 0.
            rejected (RuleStatus): One rule: locked rules are always enabled and show events = window_days = 0.
            repeated_transient (RuleStatus): One rule: locked rules are always enabled and show events = window_days = 0.
            soft_bounce_accumulation (RuleStatus): One rule: locked rules are always enabled and show events = window_days =
                0.
            undetermined (RuleStatus): One rule: locked rules are always enabled and show events = window_days = 0.
     """

    complaint: RuleStatus
    permanent_bounce: RuleStatus
    rejected: RuleStatus
    repeated_transient: RuleStatus
    soft_bounce_accumulation: RuleStatus
    undetermined: RuleStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.rule_status import RuleStatus # noqa: PLC0415
        complaint = self.complaint.to_dict()

        permanent_bounce = self.permanent_bounce.to_dict()

        rejected = self.rejected.to_dict()

        repeated_transient = self.repeated_transient.to_dict()

        soft_bounce_accumulation = self.soft_bounce_accumulation.to_dict()

        undetermined = self.undetermined.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "complaint": complaint,
            "permanent_bounce": permanent_bounce,
            "rejected": rejected,
            "repeated_transient": repeated_transient,
            "soft_bounce_accumulation": soft_bounce_accumulation,
            "undetermined": undetermined,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rule_status import RuleStatus # noqa: PLC0415
        d = dict(src_dict)
        complaint = RuleStatus.from_dict(d.pop("complaint"))




        permanent_bounce = RuleStatus.from_dict(d.pop("permanent_bounce"))




        rejected = RuleStatus.from_dict(d.pop("rejected"))




        repeated_transient = RuleStatus.from_dict(d.pop("repeated_transient"))




        soft_bounce_accumulation = RuleStatus.from_dict(d.pop("soft_bounce_accumulation"))




        undetermined = RuleStatus.from_dict(d.pop("undetermined"))




        rule_statuses = cls(
            complaint=complaint,
            permanent_bounce=permanent_bounce,
            rejected=rejected,
            repeated_transient=repeated_transient,
            soft_bounce_accumulation=soft_bounce_accumulation,
            undetermined=undetermined,
        )


        rule_statuses.additional_properties = d
        return rule_statuses

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
