from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="Message")



@_attrs_define
class Message:
    """ One message (the `V1Message` projection).

        Attributes:
            from_ (str): `mail.source` as SES reported it.
            id (str): SES message id.
            last_event_at (datetime.datetime):
            sent_at (datetime.datetime):
            status (None | str): Type of the latest event that is one of Send, Delivery, Bounce, Complaint, Reject, Open,
                Click or DeliveryDelay; null when the message has none of them (only a Rendering Failure
                or a Subscription: SES never sent it), and then no `status` filter matches it.
            to (str): First recipient; masked (`j***@example.com`) without `api.messages.unmask_recipients`.
            channel (None | str | Unset): Channel slug (the SES configuration set), null when the message used none.
            subject (None | str | Unset):
            template (None | str | Unset): Template name, null when the message was not templated.
     """

    from_: str
    id: str
    last_event_at: datetime.datetime
    sent_at: datetime.datetime
    status: None | str
    to: str
    channel: None | str | Unset = UNSET
    subject: None | str | Unset = UNSET
    template: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_

        id = self.id

        last_event_at = self.last_event_at.isoformat()

        sent_at = self.sent_at.isoformat()

        status: None | str
        status = self.status

        to = self.to

        channel: None | str | Unset
        if isinstance(self.channel, Unset):
            channel = UNSET
        else:
            channel = self.channel

        subject: None | str | Unset
        if isinstance(self.subject, Unset):
            subject = UNSET
        else:
            subject = self.subject

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "from": from_,
            "id": id,
            "last_event_at": last_event_at,
            "sent_at": sent_at,
            "status": status,
            "to": to,
        })
        if channel is not UNSET:
            field_dict["channel"] = channel
        if subject is not UNSET:
            field_dict["subject"] = subject
        if template is not UNSET:
            field_dict["template"] = template

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        from_ = d.pop("from")

        id = d.pop("id")

        last_event_at = datetime.datetime.fromisoformat(d.pop("last_event_at"))




        sent_at = datetime.datetime.fromisoformat(d.pop("sent_at"))




        def _parse_status(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        status = _parse_status(d.pop("status"))


        to = d.pop("to")

        def _parse_channel(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        channel = _parse_channel(d.pop("channel", UNSET))


        def _parse_subject(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        subject = _parse_subject(d.pop("subject", UNSET))


        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))


        message = cls(
            from_=from_,
            id=id,
            last_event_at=last_event_at,
            sent_at=sent_at,
            status=status,
            to=to,
            channel=channel,
            subject=subject,
            template=template,
        )


        message.additional_properties = d
        return message

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
