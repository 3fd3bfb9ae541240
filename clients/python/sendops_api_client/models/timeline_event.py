from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.timeline_event_metadata_type_0 import TimelineEventMetadataType0





T = TypeVar("T", bound="TimelineEvent")



@_attrs_define
class TimelineEvent:
    """ One stored event of a message, for one recipient.

        Attributes:
            occurred_at (datetime.datetime):
            recipient (str): The recipient this row is about (masked like `to`).
            type_ (str): Send, Delivery, Bounce, Complaint, Reject, Open, Click, DeliveryDelay, RenderingFailure or
                Subscription.
            metadata (None | TimelineEventMetadataType0 | Unset): Type-specific details; absent on Send. Keys SES did not
                send are omitted.
     """

    occurred_at: datetime.datetime
    recipient: str
    type_: str
    metadata: None | TimelineEventMetadataType0 | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.timeline_event_metadata_type_0 import TimelineEventMetadataType0 # noqa: PLC0415
        occurred_at = self.occurred_at.isoformat()

        recipient = self.recipient

        type_ = self.type_

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, TimelineEventMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "occurred_at": occurred_at,
            "recipient": recipient,
            "type": type_,
        })
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.timeline_event_metadata_type_0 import TimelineEventMetadataType0 # noqa: PLC0415
        d = dict(src_dict)
        occurred_at = datetime.datetime.fromisoformat(d.pop("occurred_at"))




        recipient = d.pop("recipient")

        type_ = d.pop("type")

        def _parse_metadata(data: object) -> None | TimelineEventMetadataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = TimelineEventMetadataType0.from_dict(data)



                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TimelineEventMetadataType0 | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))


        timeline_event = cls(
            occurred_at=occurred_at,
            recipient=recipient,
            type_=type_,
            metadata=metadata,
        )


        timeline_event.additional_properties = d
        return timeline_event

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
