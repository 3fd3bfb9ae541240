from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime






T = TypeVar("T", bound="SuppressionView")



@_attrs_define
class SuppressionView:
    """ One suppressed recipient.

        Attributes:
            email (str): The address as SES stores it. Example: user@example.com.
            reason (str): `bounce` or `complaint` (lower-case). Example: bounce.
            source (str): `ses_event` for bounce and complaint entries, `manual` for anything else (derived from
                `reason`; SES keeps no provenance). Example: ses_event.
            suppressed_at (datetime.datetime):
     """

    email: str
    reason: str
    source: str
    suppressed_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        email = self.email

        reason = self.reason

        source = self.source

        suppressed_at = self.suppressed_at.isoformat()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "email": email,
            "reason": reason,
            "source": source,
            "suppressed_at": suppressed_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        reason = d.pop("reason")

        source = d.pop("source")

        suppressed_at = datetime.datetime.fromisoformat(d.pop("suppressed_at"))




        suppression_view = cls(
            email=email,
            reason=reason,
            source=source,
            suppressed_at=suppressed_at,
        )


        suppression_view.additional_properties = d
        return suppression_view

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
