from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.rule_statuses import RuleStatuses





T = TypeVar("T", bound="UndeliverableRules")



@_attrs_define
class UndeliverableRules:
    """ The active rule set.

        Attributes:
            profile (str): `standard`, `strict` or `custom`.
            rules (RuleStatuses): The six rules, in priority order.
            updated_at (datetime.datetime):
            updated_by (str):
            version (str): Changes on every rule change; also sent as `X-SendOps-Rules-Version`.
     """

    profile: str
    rules: RuleStatuses
    updated_at: datetime.datetime
    updated_by: str
    version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.rule_statuses import RuleStatuses # noqa: PLC0415
        profile = self.profile

        rules = self.rules.to_dict()

        updated_at = self.updated_at.isoformat()

        updated_by = self.updated_by

        version = self.version


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "profile": profile,
            "rules": rules,
            "updated_at": updated_at,
            "updated_by": updated_by,
            "version": version,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rule_statuses import RuleStatuses # noqa: PLC0415
        d = dict(src_dict)
        profile = d.pop("profile")

        rules = RuleStatuses.from_dict(d.pop("rules"))




        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))




        updated_by = d.pop("updated_by")

        version = d.pop("version")

        undeliverable_rules = cls(
            profile=profile,
            rules=rules,
            updated_at=updated_at,
            updated_by=updated_by,
            version=version,
        )


        undeliverable_rules.additional_properties = d
        return undeliverable_rules

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
