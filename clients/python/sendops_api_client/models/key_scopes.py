from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
from uuid import UUID






T = TypeVar("T", bound="KeyScopes")



@_attrs_define
class KeyScopes:
    """ 
        Attributes:
            environment (str): `live` or `test`.
            key_id (UUID):
            prefix (str): `sk_live_` or `sk_test_` plus the first 8 characters of the secret.
            scopes (list[str]): Canonical scope names.
     """

    environment: str
    key_id: UUID
    prefix: str
    scopes: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        environment = self.environment

        key_id = str(self.key_id)

        prefix = self.prefix

        scopes = self.scopes




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "environment": environment,
            "key_id": key_id,
            "prefix": prefix,
            "scopes": scopes,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        environment = d.pop("environment")

        key_id = UUID(d.pop("key_id"))




        prefix = d.pop("prefix")

        scopes = cast(list[str], d.pop("scopes"))


        key_scopes = cls(
            environment=environment,
            key_id=key_id,
            prefix=prefix,
            scopes=scopes,
        )


        key_scopes.additional_properties = d
        return key_scopes

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
