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
  from ..models.dns_record_view import DnsRecordView





T = TypeVar("T", bound="TrackingDomainView")



@_attrs_define
class TrackingDomainView:
    """ A tracking domain.

        Attributes:
            created_at (datetime.datetime):
            dns_records (list[DnsRecordView]): The tracking CNAME first, then the SES DKIM CNAMEs.
            domain (str):
            ssl_status (str): `active` once the domain was verified, else `pending`. Example: pending.
            status (str): `verified` (DNS and SES identity both verified), `failed` (a DNS check failed) or `pending`.
                Example: pending.
            verified_at (datetime.datetime | None | Unset): Last successful verification; null until then.
     """

    created_at: datetime.datetime
    dns_records: list[DnsRecordView]
    domain: str
    ssl_status: str
    status: str
    verified_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.dns_record_view import DnsRecordView # noqa: PLC0415
        created_at = self.created_at.isoformat()

        dns_records = []
        for dns_records_item_data in self.dns_records:
            dns_records_item = dns_records_item_data.to_dict()
            dns_records.append(dns_records_item)



        domain = self.domain

        ssl_status = self.ssl_status

        status = self.status

        verified_at: None | str | Unset
        if isinstance(self.verified_at, Unset):
            verified_at = UNSET
        elif isinstance(self.verified_at, datetime.datetime):
            verified_at = self.verified_at.isoformat()
        else:
            verified_at = self.verified_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "dns_records": dns_records,
            "domain": domain,
            "ssl_status": ssl_status,
            "status": status,
        })
        if verified_at is not UNSET:
            field_dict["verified_at"] = verified_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.dns_record_view import DnsRecordView # noqa: PLC0415
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        dns_records = []
        _dns_records = d.pop("dns_records")
        for dns_records_item_data in (_dns_records):
            dns_records_item = DnsRecordView.from_dict(dns_records_item_data)



            dns_records.append(dns_records_item)


        domain = d.pop("domain")

        ssl_status = d.pop("ssl_status")

        status = d.pop("status")

        def _parse_verified_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                verified_at_type_0 = datetime.datetime.fromisoformat(data)



                return verified_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        verified_at = _parse_verified_at(d.pop("verified_at", UNSET))


        tracking_domain_view = cls(
            created_at=created_at,
            dns_records=dns_records,
            domain=domain,
            ssl_status=ssl_status,
            status=status,
            verified_at=verified_at,
        )


        tracking_domain_view.additional_properties = d
        return tracking_domain_view

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
