//! The OpenAPI 3.1 document, generated from the handlers' annotations and types. Every
//! authenticated operation also documents the problem responses and the headers that every
//! response carries, added here once rather than on each route.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, RefOr, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::problem::FieldError;
use crate::routes::{Pagination, messages, reports, suppressions, undeliverable};

/// An RFC 7807 problem document (docs/semantics.md#errors).
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

/// What the routes do not say themselves: the API's description, the schemas that only
/// parameters and problem responses use, and the conventions every operation shares. The paths
/// come from [`crate::api`].
#[derive(OpenApi)]
#[openapi(
    info(title = "SendOps Public API", version = "1.0.0",
        description = "Read-only observability for Amazon SES: messages and their event timelines, the SES \
            suppression list, the account snapshot, channels, identities, templates and tracking domains. \
            Every error is an application/problem+json document; every response carries X-Request-ID \
            and X-RateLimit-* headers."),
    components(schemas(Problem, FieldError, Pagination, messages::MessageStatus, reports::GroupBy, crate::routes::breakdown::BreakdownDimension, crate::routes::reputation::ReputationStatus,
        suppressions::SuppressionReason, undeliverable::UndeliverableStatus, undeliverable::UndeliverableReason)),
    modifiers(&Conventions),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct Conventions;

/// Whether an operation needs no key: its annotation says `security(())`.
fn is_public(op: &Operation) -> bool {
    op.security
        .as_ref()
        .is_some_and(|reqs| reqs.iter().all(|r| *r == Default::default()))
}

/// The paths whose operations need no key, read from the document (the gate lets them through).
pub fn public_paths(doc: &utoipa::openapi::OpenApi) -> Vec<String> {
    doc.paths
        .paths
        .iter()
        .filter(|(_, item)| operations(item).iter().all(|op| is_public(op)))
        .map(|(path, _)| path.clone())
        .collect()
}

fn operations(item: &utoipa::openapi::PathItem) -> Vec<&Operation> {
    [
        &item.get,
        &item.post,
        &item.put,
        &item.delete,
        &item.patch,
        &item.head,
        &item.options,
        &item.trace,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The headers every response carries (crate::gate), with their types and meaning.
const COMMON_HEADERS: [(&str, Type, &str); 4] = [
    (
        "X-Request-ID",
        Type::String,
        "Identifies this request; quote it to support",
    ),
    (
        "X-RateLimit-Limit",
        Type::Integer,
        "Requests per minute of the budget this request counted against",
    ),
    (
        "X-RateLimit-Remaining",
        Type::Integer,
        "Requests left in the current window",
    ),
    (
        "X-RateLimit-Reset",
        Type::Integer,
        "Seconds until the budget is full again",
    ),
];

fn common_headers(mut builder: ResponseBuilder) -> ResponseBuilder {
    for (name, t, description) in COMMON_HEADERS {
        builder = builder.header(name, header(t, description));
    }
    builder
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

fn header(t: Type, description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(t))
        .description(Some(description))
        .build()
}

/// `Link` on the answers of paginated lists (operation ids `list…`); `ETag`, `Cache-Control` and
/// the `If-None-Match` parameter on operations that declare a 304 (crate::conditional);
/// `Retry-After` on 429 and 503.
fn add_headers(op: &mut Operation) {
    let paginated = op
        .operation_id
        .as_deref()
        .is_some_and(|id| id.starts_with("list"));
    let conditional = op.responses.responses.contains_key("304");
    if conditional {
        let param = utoipa::openapi::path::ParameterBuilder::new()
            .name("If-None-Match")
            .parameter_in(utoipa::openapi::path::ParameterIn::Header)
            .required(utoipa::openapi::Required::False)
            .description(Some(
                "The ETag of an answer already held: a 304 without a body when it is still the answer",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build();
        op.parameters.get_or_insert_with(Vec::new).push(param);
    }
    for (status, resp) in op.responses.responses.iter_mut() {
        let RefOr::T(r) = resp else { continue };
        if status == "200" && paginated {
            r.headers.entry("Link".into()).or_insert_with(|| {
                header(
                    Type::String,
                    "`<URL of the next page>; rel=\"next\"` when there is a next page",
                )
            });
        }
        if conditional && (status == "200" || status == "304") {
            r.headers.entry("ETag".into()).or_insert_with(|| {
                header(
                    Type::String,
                    "Strong entity tag of the answer; send it back in If-None-Match",
                )
            });
            r.headers.entry("Cache-Control".into()).or_insert_with(|| {
                header(
                    Type::String,
                    "`no-cache`: keep the answer, but revalidate it (If-None-Match) before reuse",
                )
            });
        }
        if status == "429" || status == "503" {
            r.headers
                .entry("Retry-After".into())
                .or_insert_with(|| header(Type::Integer, "Seconds to wait before retrying"));
        }
    }
}

fn add_conventions(op: &mut Operation, public: bool) {
    for (_, resp) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = resp {
            for (name, t, description) in COMMON_HEADERS {
                r.headers
                    .entry(name.to_owned())
                    .or_insert_with(|| header(t, description));
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
    add_headers(op);
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
        for item in openapi.paths.paths.values_mut() {
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
                let public = is_public(op);
                add_conventions(op, public);
            }
        }
    }
}

/// The document itself, served at `/v1/openapi.json` (public).
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "getOpenApiDocument", tag = "Meta", security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.json.as_str(),
    )
        .into_response()
}

/// The document, built once.
struct Built {
    json: String,
    public: Vec<String>,
}

static DOCUMENT: LazyLock<Built> = LazyLock::new(|| {
    let doc = document();
    Built {
        json: serde_json::to_string(&doc).expect("the document serializes"),
        public: public_paths(&doc),
    }
});

/// The paths that need no key (see [`public_paths`]).
pub fn public() -> &'static [String] {
    &DOCUMENT.public
}

/// The OpenAPI document of [`crate::api`], with the shared conventions applied.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = crate::api().into_openapi();
    Conventions.modify(&mut doc);
    doc
}
