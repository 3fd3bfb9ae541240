from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from uuid import UUID
import datetime






T = TypeVar("T", bound="ChannelView")



@_attrs_define
class ChannelView:
    """ A channel: one SES configuration set.

        Attributes:
            created_at (datetime.datetime):
            id (UUID): UUIDv5 of the configuration-set name in the org's namespace (the `channel=` filter value).
            identities (list[str]): Identities whose default configuration set this is.
            name (str): Display name (the configuration set's `Name` tag, else its name).
            slug (str): The configuration-set name; message projections carry it as `channel`.
            status (str): `active`, or `paused` when SES sending is disabled for the set. Example: active.
            suppression_policy (list[str]): Reasons SES suppresses recipients for (`BOUNCE`, `COMPLAINT`).
            tracking_domain (None | str | Unset): The custom redirect domain for open/click tracking.
     """

    created_at: datetime.datetime
    id: UUID
    identities: list[str]
    name: str
    slug: str
    status: str
    suppression_policy: list[str]
    tracking_domain: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        id = str(self.id)

        identities = self.identities



        name = self.name

        slug = self.slug

        status = self.status

        suppression_policy = self.suppression_policy



        tracking_domain: None | str | Unset
        if isinstance(self.tracking_domain, Unset):
            tracking_domain = UNSET
        else:
            tracking_domain = self.tracking_domain


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "id": id,
            "identities": identities,
            "name": name,
            "slug": slug,
            "status": status,
            "suppression_policy": suppression_policy,
        })
        if tracking_domain is not UNSET:
            field_dict["tracking_domain"] = tracking_domain

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        id = UUID(d.pop("id"))




        identities = cast(list[str], d.pop("identities"))


        name = d.pop("name")

        slug = d.pop("slug")

        status = d.pop("status")

        suppression_policy = cast(list[str], d.pop("suppression_policy"))


        def _parse_tracking_domain(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tracking_domain = _parse_tracking_domain(d.pop("tracking_domain", UNSET))


        channel_view = cls(
            created_at=created_at,
            id=id,
            identities=identities,
            name=name,
            slug=slug,
            status=status,
            suppression_policy=suppression_policy,
            tracking_domain=tracking_domain,
        )


        channel_view.additional_properties = d
        return channel_view

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
