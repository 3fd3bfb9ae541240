from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.account_aws import AccountAws
  from ..models.account_org import AccountOrg
  from ..models.cloud_formation_view import CloudFormationView
  from ..models.plan_view import PlanView
  from ..models.production_access_view import ProductionAccessView
  from ..models.send_quota_view import SendQuotaView





T = TypeVar("T", bound="Account")



@_attrs_define
class Account:
    """ The composed account snapshot. Every top-level field is present; sub-objects are null until
    their milestone is reached (and `aws`/`send_quota` also when SES GetAccount fails).

        Attributes:
            org (AccountOrg):
            plan (PlanView):
            aws (AccountAws | None | Unset):
            cloudformation (CloudFormationView | None | Unset):
            production_access (None | ProductionAccessView | Unset):
            send_quota (None | SendQuotaView | Unset):
     """

    org: AccountOrg
    plan: PlanView
    aws: AccountAws | None | Unset = UNSET
    cloudformation: CloudFormationView | None | Unset = UNSET
    production_access: None | ProductionAccessView | Unset = UNSET
    send_quota: None | SendQuotaView | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.account_aws import AccountAws # noqa: PLC0415
        from ..models.account_org import AccountOrg # noqa: PLC0415
        from ..models.cloud_formation_view import CloudFormationView # noqa: PLC0415
        from ..models.plan_view import PlanView # noqa: PLC0415
        from ..models.production_access_view import ProductionAccessView # noqa: PLC0415
        from ..models.send_quota_view import SendQuotaView # noqa: PLC0415
        org = self.org.to_dict()

        plan = self.plan.to_dict()

        aws: dict[str, Any] | None | Unset
        if isinstance(self.aws, Unset):
            aws = UNSET
        elif isinstance(self.aws, AccountAws):
            aws = self.aws.to_dict()
        else:
            aws = self.aws

        cloudformation: dict[str, Any] | None | Unset
        if isinstance(self.cloudformation, Unset):
            cloudformation = UNSET
        elif isinstance(self.cloudformation, CloudFormationView):
            cloudformation = self.cloudformation.to_dict()
        else:
            cloudformation = self.cloudformation

        production_access: dict[str, Any] | None | Unset
        if isinstance(self.production_access, Unset):
            production_access = UNSET
        elif isinstance(self.production_access, ProductionAccessView):
            production_access = self.production_access.to_dict()
        else:
            production_access = self.production_access

        send_quota: dict[str, Any] | None | Unset
        if isinstance(self.send_quota, Unset):
            send_quota = UNSET
        elif isinstance(self.send_quota, SendQuotaView):
            send_quota = self.send_quota.to_dict()
        else:
            send_quota = self.send_quota


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "org": org,
            "plan": plan,
        })
        if aws is not UNSET:
            field_dict["aws"] = aws
        if cloudformation is not UNSET:
            field_dict["cloudformation"] = cloudformation
        if production_access is not UNSET:
            field_dict["production_access"] = production_access
        if send_quota is not UNSET:
            field_dict["send_quota"] = send_quota

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.account_aws import AccountAws # noqa: PLC0415
        from ..models.account_org import AccountOrg # noqa: PLC0415
        from ..models.cloud_formation_view import CloudFormationView # noqa: PLC0415
        from ..models.plan_view import PlanView # noqa: PLC0415
        from ..models.production_access_view import ProductionAccessView # noqa: PLC0415
        from ..models.send_quota_view import SendQuotaView # noqa: PLC0415
        d = dict(src_dict)
        org = AccountOrg.from_dict(d.pop("org"))




        plan = PlanView.from_dict(d.pop("plan"))




        def _parse_aws(data: object) -> AccountAws | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                aws_type_1 = AccountAws.from_dict(data)



                return aws_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AccountAws | None | Unset, data)

        aws = _parse_aws(d.pop("aws", UNSET))


        def _parse_cloudformation(data: object) -> CloudFormationView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                cloudformation_type_1 = CloudFormationView.from_dict(data)



                return cloudformation_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CloudFormationView | None | Unset, data)

        cloudformation = _parse_cloudformation(d.pop("cloudformation", UNSET))


        def _parse_production_access(data: object) -> None | ProductionAccessView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                production_access_type_1 = ProductionAccessView.from_dict(data)



                return production_access_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProductionAccessView | Unset, data)

        production_access = _parse_production_access(d.pop("production_access", UNSET))


        def _parse_send_quota(data: object) -> None | SendQuotaView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                send_quota_type_1 = SendQuotaView.from_dict(data)



                return send_quota_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendQuotaView | Unset, data)

        send_quota = _parse_send_quota(d.pop("send_quota", UNSET))


        account = cls(
            org=org,
            plan=plan,
            aws=aws,
            cloudformation=cloudformation,
            production_access=production_access,
            send_quota=send_quota,
        )


        account.additional_properties = d
        return account

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
