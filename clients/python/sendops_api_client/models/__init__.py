""" Contains all the data models used in inputs/outputs """

from .account import Account
from .account_aws import AccountAws
from .account_org import AccountOrg
from .breakdown_dimension import BreakdownDimension
from .breakdown_report import BreakdownReport
from .breakdown_row import BreakdownRow
from .channel_page import ChannelPage
from .channel_view import ChannelView
from .cloud_formation_view import CloudFormationView
from .deliverability_bucket import DeliverabilityBucket
from .deliverability_report import DeliverabilityReport
from .dns_record_view import DnsRecordView
from .engagement_bucket import EngagementBucket
from .engagement_report import EngagementReport
from .field_error import FieldError
from .get_open_api_document_response_200 import GetOpenApiDocumentResponse200
from .group_by import GroupBy
from .health import Health
from .identity_page import IdentityPage
from .identity_view import IdentityView
from .key_scopes import KeyScopes
from .message import Message
from .message_page import MessagePage
from .message_status import MessageStatus
from .pagination import Pagination
from .plan_view import PlanView
from .problem import Problem
from .production_access_view import ProductionAccessView
from .rate_thresholds import RateThresholds
from .reputation_alert import ReputationAlert
from .reputation_alert_list import ReputationAlertList
from .reputation_contributor import ReputationContributor
from .reputation_contributors import ReputationContributors
from .reputation_figures import ReputationFigures
from .reputation_report import ReputationReport
from .reputation_status import ReputationStatus
from .reputation_thresholds import ReputationThresholds
from .rule_status import RuleStatus
from .rule_statuses import RuleStatuses
from .scoped_reputation import ScopedReputation
from .send_quota_view import SendQuotaView
from .suppression_page import SuppressionPage
from .suppression_reason import SuppressionReason
from .suppression_view import SuppressionView
from .template_page import TemplatePage
from .template_performance import TemplatePerformance
from .template_performance_report import TemplatePerformanceReport
from .template_view import TemplateView
from .timeline import Timeline
from .timeline_event import TimelineEvent
from .timeline_event_metadata_type_0 import TimelineEventMetadataType0
from .tracking_domain_page import TrackingDomainPage
from .tracking_domain_view import TrackingDomainView
from .undeliverable_page import UndeliverablePage
from .undeliverable_reason import UndeliverableReason
from .undeliverable_row import UndeliverableRow
from .undeliverable_rules import UndeliverableRules
from .undeliverable_status import UndeliverableStatus

__all__ = (
    "Account",
    "AccountAws",
    "AccountOrg",
    "BreakdownDimension",
    "BreakdownReport",
    "BreakdownRow",
    "ChannelPage",
    "ChannelView",
    "CloudFormationView",
    "DeliverabilityBucket",
    "DeliverabilityReport",
    "DnsRecordView",
    "EngagementBucket",
    "EngagementReport",
    "FieldError",
    "GetOpenApiDocumentResponse200",
    "GroupBy",
    "Health",
    "IdentityPage",
    "IdentityView",
    "KeyScopes",
    "Message",
    "MessagePage",
    "MessageStatus",
    "Pagination",
    "PlanView",
    "Problem",
    "ProductionAccessView",
    "RateThresholds",
    "ReputationAlert",
    "ReputationAlertList",
    "ReputationContributor",
    "ReputationContributors",
    "ReputationFigures",
    "ReputationReport",
    "ReputationStatus",
    "ReputationThresholds",
    "RuleStatus",
    "RuleStatuses",
    "ScopedReputation",
    "SendQuotaView",
    "SuppressionPage",
    "SuppressionReason",
    "SuppressionView",
    "TemplatePage",
    "TemplatePerformance",
    "TemplatePerformanceReport",
    "TemplateView",
    "Timeline",
    "TimelineEvent",
    "TimelineEventMetadataType0",
    "TrackingDomainPage",
    "TrackingDomainView",
    "UndeliverablePage",
    "UndeliverableReason",
    "UndeliverableRow",
    "UndeliverableRules",
    "UndeliverableStatus",
)
