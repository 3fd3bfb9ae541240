from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="UndeliverableRow")



@_attrs_define
class UndeliverableRow:
    """ One row: a listed address (reason and its events) or an `excluded` tombstone (the operator
    exclusion). Fields that do not apply, or that SES did not send, are omitted.

        Attributes:
            email (str): Lower-cased recipient address.
            last_changed_at (datetime.datetime): When the row last changed in SendOps; poll with `since` = the largest one
                seen.
            status (str): `listed` or `excluded`.
            event_count (int | None | Unset): Qualifying events of `reason` (listed rows).
            excluded_at (datetime.datetime | None | Unset):
            excluded_by (None | str | Unset):
            exclusion_reason (None | str | Unset):
            first_seen_at (datetime.datetime | None | Unset):
            last_diagnostic (None | str | Unset): Diagnostic code of the latest qualifying event that has one.
            last_seen_at (datetime.datetime | None | Unset):
            last_sender_identity (None | str | Unset): Sending address (without display name) of the latest qualifying
                event.
            reason (None | str | Unset): permanent_bounce, complaint, rejected, repeated_transient, undetermined or
                soft_bounce_accumulation (listed rows).
            subtype (None | str | Unset): Bounce sub-type or complaint feedback type of the latest qualifying event that has
                one.
     """

    email: str
    last_changed_at: datetime.datetime
    status: str
    event_count: int | None | Unset = UNSET
    excluded_at: datetime.datetime | None | Unset = UNSET
    excluded_by: None | str | Unset = UNSET
    exclusion_reason: None | str | Unset = UNSET
    first_seen_at: datetime.datetime | None | Unset = UNSET
    last_diagnostic: None | str | Unset = UNSET
    last_seen_at: datetime.datetime | None | Unset = UNSET
    last_sender_identity: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    subtype: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        email = self.email

        last_changed_at = self.last_changed_at.isoformat()

        status = self.status

        event_count: int | None | Unset
        if isinstance(self.event_count, Unset):
            event_count = UNSET
        else:
            event_count = self.event_count

        excluded_at: None | str | Unset
        if isinstance(self.excluded_at, Unset):
            excluded_at = UNSET
        elif isinstance(self.excluded_at, datetime.datetime):
            excluded_at = self.excluded_at.isoformat()
        else:
            excluded_at = self.excluded_at

        excluded_by: None | str | Unset
        if isinstance(self.excluded_by, Unset):
            excluded_by = UNSET
        else:
            excluded_by = self.excluded_by

        exclusion_reason: None | str | Unset
        if isinstance(self.exclusion_reason, Unset):
            exclusion_reason = UNSET
        else:
            exclusion_reason = self.exclusion_reason

        first_seen_at: None | str | Unset
        if isinstance(self.first_seen_at, Unset):
            first_seen_at = UNSET
        elif isinstance(self.first_seen_at, datetime.datetime):
            first_seen_at = self.first_seen_at.isoformat()
        else:
            first_seen_at = self.first_seen_at

        last_diagnostic: None | str | Unset
        if isinstance(self.last_diagnostic, Unset):
            last_diagnostic = UNSET
        else:
            last_diagnostic = self.last_diagnostic

        last_seen_at: None | str | Unset
        if isinstance(self.last_seen_at, Unset):
            last_seen_at = UNSET
        elif isinstance(self.last_seen_at, datetime.datetime):
            last_seen_at = self.last_seen_at.isoformat()
        else:
            last_seen_at = self.last_seen_at

        last_sender_identity: None | str | Unset
        if isinstance(self.last_sender_identity, Unset):
            last_sender_identity = UNSET
        else:
            last_sender_identity = self.last_sender_identity

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        subtype: None | str | Unset
        if isinstance(self.subtype, Unset):
            subtype = UNSET
        else:
            subtype = self.subtype


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "email": email,
            "last_changed_at": last_changed_at,
            "status": status,
        })
        if event_count is not UNSET:
            field_dict["event_count"] = event_count
        if excluded_at is not UNSET:
            field_dict["excluded_at"] = excluded_at
        if excluded_by is not UNSET:
            field_dict["excluded_by"] = excluded_by
        if exclusion_reason is not UNSET:
            field_dict["exclusion_reason"] = exclusion_reason
        if first_seen_at is not UNSET:
            field_dict["first_seen_at"] = first_seen_at
        if last_diagnostic is not UNSET:
            field_dict["last_diagnostic"] = last_diagnostic
        if last_seen_at is not UNSET:
            field_dict["last_seen_at"] = last_seen_at
        if last_sender_identity is not UNSET:
            field_dict["last_sender_identity"] = last_sender_identity
        if reason is not UNSET:
            field_dict["reason"] = reason
        if subtype is not UNSET:
            field_dict["subtype"] = subtype

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        last_changed_at = datetime.datetime.fromisoformat(d.pop("last_changed_at"))




        status = d.pop("status")

        def _parse_event_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        event_count = _parse_event_count(d.pop("event_count", UNSET))


        def _parse_excluded_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                excluded_at_type_0 = datetime.datetime.fromisoformat(data)



                return excluded_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        excluded_at = _parse_excluded_at(d.pop("excluded_at", UNSET))


        def _parse_excluded_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        excluded_by = _parse_excluded_by(d.pop("excluded_by", UNSET))


        def _parse_exclusion_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        exclusion_reason = _parse_exclusion_reason(d.pop("exclusion_reason", UNSET))


        def _parse_first_seen_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                first_seen_at_type_0 = datetime.datetime.fromisoformat(data)



                return first_seen_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        first_seen_at = _parse_first_seen_at(d.pop("first_seen_at", UNSET))


        def _parse_last_diagnostic(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_diagnostic = _parse_last_diagnostic(d.pop("last_diagnostic", UNSET))


        def _parse_last_seen_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_seen_at_type_0 = datetime.datetime.fromisoformat(data)



                return last_seen_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_seen_at = _parse_last_seen_at(d.pop("last_seen_at", UNSET))


        def _parse_last_sender_identity(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_sender_identity = _parse_last_sender_identity(d.pop("last_sender_identity", UNSET))


        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))


        def _parse_subtype(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        subtype = _parse_subtype(d.pop("subtype", UNSET))


        undeliverable_row = cls(
            email=email,
            last_changed_at=last_changed_at,
            status=status,
            event_count=event_count,
            excluded_at=excluded_at,
            excluded_by=excluded_by,
            exclusion_reason=exclusion_reason,
            first_seen_at=first_seen_at,
            last_diagnostic=last_diagnostic,
            last_seen_at=last_seen_at,
            last_sender_identity=last_sender_identity,
            reason=reason,
            subtype=subtype,
        )


        undeliverable_row.additional_properties = d
        return undeliverable_row

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
