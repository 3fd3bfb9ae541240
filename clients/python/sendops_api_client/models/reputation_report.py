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
  from ..models.reputation_contributors import ReputationContributors
  from ..models.reputation_figures import ReputationFigures
  from ..models.reputation_thresholds import ReputationThresholds
  from ..models.scoped_reputation import ScopedReputation





T = TypeVar("T", bound="ReputationReport")



@_attrs_define
class ReputationReport:
    """ 
        Attributes:
            channels (list[ScopedReputation]): By sends descending, then key.
            from_ (datetime.datetime):
            overall (ReputationFigures): Figures of one scope over the window.
            sending_domains (list[ScopedReputation]):
            thresholds (ReputationThresholds):
            to (datetime.datetime):
            top_bounce_contributors (ReputationContributors): The top 5 contributors, by count descending then key
                ascending.
            top_complaint_contributors (ReputationContributors): The top 5 contributors, by count descending then key
                ascending.
            window_days (int):
            enforcement_status (None | str | Unset): SES's own status of the account from GetAccount (HEALTHY, PROBATION,
                SHUTDOWN); null
                when SES cannot be reached or no read role is connected.
     """

    channels: list[ScopedReputation]
    from_: datetime.datetime
    overall: ReputationFigures
    sending_domains: list[ScopedReputation]
    thresholds: ReputationThresholds
    to: datetime.datetime
    top_bounce_contributors: ReputationContributors
    top_complaint_contributors: ReputationContributors
    window_days: int
    enforcement_status: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.reputation_contributors import ReputationContributors # noqa: PLC0415
        from ..models.reputation_figures import ReputationFigures # noqa: PLC0415
        from ..models.reputation_thresholds import ReputationThresholds # noqa: PLC0415
        from ..models.scoped_reputation import ScopedReputation # noqa: PLC0415
        channels = []
        for channels_item_data in self.channels:
            channels_item = channels_item_data.to_dict()
            channels.append(channels_item)



        from_ = self.from_.isoformat()

        overall = self.overall.to_dict()

        sending_domains = []
        for sending_domains_item_data in self.sending_domains:
            sending_domains_item = sending_domains_item_data.to_dict()
            sending_domains.append(sending_domains_item)



        thresholds = self.thresholds.to_dict()

        to = self.to.isoformat()

        top_bounce_contributors = self.top_bounce_contributors.to_dict()

        top_complaint_contributors = self.top_complaint_contributors.to_dict()

        window_days = self.window_days

        enforcement_status: None | str | Unset
        if isinstance(self.enforcement_status, Unset):
            enforcement_status = UNSET
        else:
            enforcement_status = self.enforcement_status


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "channels": channels,
            "from": from_,
            "overall": overall,
            "sending_domains": sending_domains,
            "thresholds": thresholds,
            "to": to,
            "top_bounce_contributors": top_bounce_contributors,
            "top_complaint_contributors": top_complaint_contributors,
            "window_days": window_days,
        })
        if enforcement_status is not UNSET:
            field_dict["enforcement_status"] = enforcement_status

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.reputation_contributors import ReputationContributors # noqa: PLC0415
        from ..models.reputation_figures import ReputationFigures # noqa: PLC0415
        from ..models.reputation_thresholds import ReputationThresholds # noqa: PLC0415
        from ..models.scoped_reputation import ScopedReputation # noqa: PLC0415
        d = dict(src_dict)
        channels = []
        _channels = d.pop("channels")
        for channels_item_data in (_channels):
            channels_item = ScopedReputation.from_dict(channels_item_data)



            channels.append(channels_item)


        from_ = datetime.datetime.fromisoformat(d.pop("from"))




        overall = ReputationFigures.from_dict(d.pop("overall"))




        sending_domains = []
        _sending_domains = d.pop("sending_domains")
        for sending_domains_item_data in (_sending_domains):
            sending_domains_item = ScopedReputation.from_dict(sending_domains_item_data)



            sending_domains.append(sending_domains_item)


        thresholds = ReputationThresholds.from_dict(d.pop("thresholds"))




        to = datetime.datetime.fromisoformat(d.pop("to"))




        top_bounce_contributors = ReputationContributors.from_dict(d.pop("top_bounce_contributors"))




        top_complaint_contributors = ReputationContributors.from_dict(d.pop("top_complaint_contributors"))




        window_days = d.pop("window_days")

        def _parse_enforcement_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        enforcement_status = _parse_enforcement_status(d.pop("enforcement_status", UNSET))


        reputation_report = cls(
            channels=channels,
            from_=from_,
            overall=overall,
            sending_domains=sending_domains,
            thresholds=thresholds,
            to=to,
            top_bounce_contributors=top_bounce_contributors,
            top_complaint_contributors=top_complaint_contributors,
            window_days=window_days,
            enforcement_status=enforcement_status,
        )


        reputation_report.additional_properties = d
        return reputation_report

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
