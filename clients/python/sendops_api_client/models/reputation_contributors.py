from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.reputation_contributor import ReputationContributor





T = TypeVar("T", bound="ReputationContributors")



@_attrs_define
class ReputationContributors:
    """ The top 5 contributors, by count descending then key ascending.

        Attributes:
            channels (list[ReputationContributor]):
            recipient_domains (list[ReputationContributor]):
            templates (list[ReputationContributor]):
     """

    channels: list[ReputationContributor]
    recipient_domains: list[ReputationContributor]
    templates: list[ReputationContributor]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.reputation_contributor import ReputationContributor # noqa: PLC0415
        channels = []
        for channels_item_data in self.channels:
            channels_item = channels_item_data.to_dict()
            channels.append(channels_item)



        recipient_domains = []
        for recipient_domains_item_data in self.recipient_domains:
            recipient_domains_item = recipient_domains_item_data.to_dict()
            recipient_domains.append(recipient_domains_item)



        templates = []
        for templates_item_data in self.templates:
            templates_item = templates_item_data.to_dict()
            templates.append(templates_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "channels": channels,
            "recipient_domains": recipient_domains,
            "templates": templates,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.reputation_contributor import ReputationContributor # noqa: PLC0415
        d = dict(src_dict)
        channels = []
        _channels = d.pop("channels")
        for channels_item_data in (_channels):
            channels_item = ReputationContributor.from_dict(channels_item_data)



            channels.append(channels_item)


        recipient_domains = []
        _recipient_domains = d.pop("recipient_domains")
        for recipient_domains_item_data in (_recipient_domains):
            recipient_domains_item = ReputationContributor.from_dict(recipient_domains_item_data)



            recipient_domains.append(recipient_domains_item)


        templates = []
        _templates = d.pop("templates")
        for templates_item_data in (_templates):
            templates_item = ReputationContributor.from_dict(templates_item_data)



            templates.append(templates_item)


        reputation_contributors = cls(
            channels=channels,
            recipient_domains=recipient_domains,
            templates=templates,
        )


        reputation_contributors.additional_properties = d
        return reputation_contributors

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
