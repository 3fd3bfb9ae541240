//! The OpenAPI 3.1 document, generated from the handlers' annotations and types. Every
//! authenticated operation also documents the problem responses and the headers that every
//! response carries, added here once rather than on each route.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, RefOr, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::problem::FieldError;
use crate::routes::{
    Pagination, account, channels, identities, messages, meta, reports, suppressions, templates,
    tracking_domains, undeliverable,
};

/// An RFC 7807 problem document (DECISIONS §2).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `<base>/<class>`: switch on this.
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// The request path (`/` when the connection layer refused a request whose path it cannot
    /// use: unparseable, or longer than the maximum).
    instance: String,
    request_id: String,
    /// invalid_request, invalid_key, invalid_scope, plan_retention_exceeded, not_found,
    /// validation_failed, rate_limited, internal_error, service_unavailable, uri_too_long (414) or
    /// headers_too_large (431).
    code: String,
    /// 403 invalid_scope: the scope required.
    scope: Option<String>,
    /// 403 plan_retention_exceeded.
    retention_days: Option<u32>,
    /// 404: what was not found.
    resource: Option<String>,
    /// 422: every field that failed.
    errors: Option<Vec<FieldError>>,
    /// 429 and 503: seconds to wait.
    retry_after: Option<u64>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "SendOps Public API", version = "1.0.0",
        description = "Read-only observability for Amazon SES: messages and their event timelines, the SES \
            suppression list, the account snapshot, channels, identities, templates and tracking domains. \
            Every error is an application/problem+json document; every response carries X-Request-ID \
            and X-RateLimit-* headers."),
    paths(meta::health, meta::scopes, messages::list, messages::get_one, messages::events, messages::by_recipient,
        reports::deliverability, reports::engagement, reports::template_performance,
        suppressions::list, suppressions::get_one, account::get, channels::list, channels::get_one,
        identities::list, identities::get_one, templates::list, templates::get_one,
        tracking_domains::list, tracking_domains::get_one, undeliverable::list, undeliverable::rules),
    components(schemas(Problem, FieldError, Pagination, messages::Message, messages::MessagePage, messages::Timeline,
        messages::TimelineEvent, meta::Health, meta::KeyScopes, reports::DeliverabilityReport,
        reports::DeliverabilityBucket, reports::EngagementReport, reports::EngagementBucket,
        reports::TemplatePerformanceReport, reports::TemplatePerformance,
        suppressions::SuppressionView, suppressions::SuppressionPage, account::Account, account::AccountOrg,
        account::AccountAws, account::SendQuotaView, account::ProductionAccessView, account::CloudFormationView,
        account::PlanView, channels::ChannelView, channels::ChannelPage, identities::IdentityView,
        identities::IdentityPage, templates::TemplateView, templates::TemplatePage,
        tracking_domains::TrackingDomainView, tracking_domains::TrackingDomainPage, tracking_domains::DnsRecordView,
        undeliverable::UndeliverableRow, undeliverable::UndeliverablePage, undeliverable::UndeliverableRules,
        undeliverable::RuleStatuses, undeliverable::RuleStatus)),
    modifiers(&Conventions),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct Conventions;

const PUBLIC: &[&str] = &["/v1/_health", "/v1/openapi.json"];

fn common_headers(builder: ResponseBuilder) -> ResponseBuilder {
    let int = || {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .build()
    };
    builder
        .header(
            "X-Request-ID",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .build(),
        )
        .header("X-RateLimit-Limit", int())
        .header("X-RateLimit-Remaining", int())
        .header("X-RateLimit-Reset", int())
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "Problem",
        ))))
        .build();
    RefOr::T(
        common_headers(ResponseBuilder::new().description(description))
            .content("application/problem+json", content)
            .build(),
    )
}

fn add_conventions(op: &mut Operation, public: bool) {
    for (_, resp) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = resp {
            for name in [
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ] {
                let int = name != "X-Request-ID";
                r.headers.entry(name.to_owned()).or_insert_with(|| {
                    let t = if int { Type::Integer } else { Type::String };
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(t))
                        .build()
                });
            }
        }
    }
    let mut errors: Vec<(&str, &str)> = vec![
        (
            "400",
            "The request cannot be parsed, or its Host is not allowed (SENDOPS_ALLOWED_HOSTS)",
        ),
        ("404", "Resource not found"),
        ("405", "Method not allowed (the API is read-only)"),
        (
            "414",
            "The request target is longer than the configured maximum",
        ),
        (
            "431",
            "The request's header fields are larger than the configured maximum",
        ),
        (
            "503",
            "Too many open connections, no answer in time, or a dependency is unavailable",
        ),
        (
            "500",
            "Unexpected server-side failure; quote request_id to support",
        ),
    ];
    if !public {
        errors.extend([
            ("401", "Missing, malformed, or unknown API key"),
            (
                "403",
                "Key lacks the required scope, or the window is outside the plan's retention",
            ),
            ("422", "A query or path value failed validation"),
            ("429", "Rate limit exceeded"),
        ]);
    }
    for (status, description) in errors {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    }
    if public {
        op.security = Some(Vec::new());
    }
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_live_…")
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_conventions(op, public);
            }
        }
    }
}

/// The document itself, served at `/v1/openapi.json` (public).
#[utoipa::path(get, path = "/v1/openapi.json", tag = "Meta", security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // `serve` is documented too, through its own annotation.
    let extra = utoipa::openapi::OpenApiBuilder::new()
        .paths(utoipa::openapi::path::PathsBuilder::new().path_from::<__path_serve>())
        .build();
    doc.merge(extra);
    Conventions.modify(&mut doc);
    doc
}
