from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="IdentityView")



@_attrs_define
class IdentityView:
    """ An SES identity (an email address or a domain).

        Attributes:
            created_at (datetime.datetime):
            dkim_status (str): Holds the same value as `verification_status` today. Example: pending.
            identity (str): The address or domain, as SES spells it.
            type_ (str): `email` or `domain`. Example: email.
            verification_status (str): `verified`, `pending`, `failed`, `temporary_failure` or `not_started`. Example:
                pending.
            mail_from_domain (None | str | Unset): The custom MAIL FROM domain, when one is set.
     """

    created_at: datetime.datetime
    dkim_status: str
    identity: str
    type_: str
    verification_status: str
    mail_from_domain: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        dkim_status = self.dkim_status

        identity = self.identity

        type_ = self.type_

        verification_status = self.verification_status

        mail_from_domain: None | str | Unset
        if isinstance(self.mail_from_domain, Unset):
            mail_from_domain = UNSET
        else:
            mail_from_domain = self.mail_from_domain


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "dkim_status": dkim_status,
            "identity": identity,
            "type": type_,
            "verification_status": verification_status,
        })
        if mail_from_domain is not UNSET:
            field_dict["mail_from_domain"] = mail_from_domain

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        dkim_status = d.pop("dkim_status")

        identity = d.pop("identity")

        type_ = d.pop("type")

        verification_status = d.pop("verification_status")

        def _parse_mail_from_domain(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        mail_from_domain = _parse_mail_from_domain(d.pop("mail_from_domain", UNSET))


        identity_view = cls(
            created_at=created_at,
            dkim_status=dkim_status,
            identity=identity,
            type_=type_,
            verification_status=verification_status,
            mail_from_domain=mail_from_domain,
        )


        identity_view.additional_properties = d
        return identity_view

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
