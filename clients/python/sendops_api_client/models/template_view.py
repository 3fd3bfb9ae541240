from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="TemplateView")



@_attrs_define
class TemplateView:
    """ An email template.

        Attributes:
            last_modified_at (datetime.datetime): Commit time of the last change to the template file.
            name (str):
            slug (str): The template's file name, e.g. `welcome.html`.
            source (str): Always `git`. Example: git.
            subject (str):
            version (str): Short (7-character) SHA of the commit of the most recent sync.
            channel (None | str | Unset): The channel slug it sends through, when the manifest names one.
     """

    last_modified_at: datetime.datetime
    name: str
    slug: str
    source: str
    subject: str
    version: str
    channel: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        last_modified_at = self.last_modified_at.isoformat()

        name = self.name

        slug = self.slug

        source = self.source

        subject = self.subject

        version = self.version

        channel: None | str | Unset
        if isinstance(self.channel, Unset):
            channel = UNSET
        else:
            channel = self.channel


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "last_modified_at": last_modified_at,
            "name": name,
            "slug": slug,
            "source": source,
            "subject": subject,
            "version": version,
        })
        if channel is not UNSET:
            field_dict["channel"] = channel

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        last_modified_at = datetime.datetime.fromisoformat(d.pop("last_modified_at"))




        name = d.pop("name")

        slug = d.pop("slug")

        source = d.pop("source")

        subject = d.pop("subject")

        version = d.pop("version")

        def _parse_channel(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        channel = _parse_channel(d.pop("channel", UNSET))


        template_view = cls(
            last_modified_at=last_modified_at,
            name=name,
            slug=slug,
            source=source,
            subject=subject,
            version=version,
            channel=channel,
        )


        template_view.additional_properties = d
        return template_view

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
