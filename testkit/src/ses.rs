//! A fake Amazon SES v2 endpoint for tests: the operations SendOps reads, served over HTTP with
//! the REST-JSON wire format the real `aws-sdk-sesv2` client uses (paths, query strings and JSON
//! bodies as the SDK serializes them; timestamps as epoch seconds; errors with the
//! `x-amzn-ErrorType` header and a JSON `message`, as the SDK parses them).
//!
//! | operation | request |
//! |---|---|
//! | ListSuppressedDestinations | `GET /v2/email/suppression/addresses?Reason=&StartDate=&EndDate=&NextToken=&PageSize=` |
//! | GetSuppressedDestination | `GET /v2/email/suppression/addresses/{EmailAddress}` |
//! | GetAccount | `GET /v2/email/account` |
//! | ListConfigurationSets | `POST /v2/email/list-configuration-sets` `{"NextToken", "PageSize"}` (the SDK's route; the documented `GET /v2/email/configuration-sets` is served too) |
//! | GetConfigurationSet | `GET /v2/email/configuration-sets/{ConfigurationSetName}` |
//! | ListEmailIdentities | `POST /v2/email/list-identities` `{"NextToken", "PageSize"}` (and `GET /v2/email/identities`) |
//! | GetEmailIdentity | `GET /v2/email/identities/{EmailIdentity}` |
//!
//! Every request must be SigV4-signed (`Authorization: AWS4-HMAC-SHA256 Credential=…`), as the
//! SDK does with the static credentials tests give it; the credential scope is recorded so tests
//! can check the region and service the client signed for. Lists come back in insertion order
//! (SES promises no order), at most [`FakeSes::set_max_page_size`] items per page.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serve the stored state.
    Normal,
    /// `500 InternalFailure` for everything (SES is down).
    Outage,
    /// `429 TooManyRequestsException` for everything (throttled).
    Throttle,
}

/// One entry of the account-level suppression list.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSuppression {
    pub email: String,
    /// `BOUNCE` or `COMPLAINT`.
    pub reason: String,
    /// LastUpdateTime, epoch milliseconds.
    pub last_update_ms: i64,
}

/// What GetAccount returns.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAccount {
    pub production_access_enabled: bool,
    pub sending_enabled: bool,
    pub max_24_hour_send: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
    /// Account-level suppression reasons.
    pub suppressed_reasons: Vec<String>,
    /// HEALTHY, PROBATION or SHUTDOWN.
    pub enforcement_status: String,
}

impl Default for FakeAccount {
    fn default() -> Self {
        FakeAccount {
            production_access_enabled: true,
            sending_enabled: true,
            max_24_hour_send: 50_000.0,
            max_send_rate: 14.0,
            sent_last_24_hours: 1_234.0,
            suppressed_reasons: vec!["BOUNCE".into(), "COMPLAINT".into()],
            enforcement_status: "HEALTHY".into(),
        }
    }
}

/// A configuration set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FakeConfigurationSet {
    pub name: String,
    pub sending_enabled: bool,
    /// TrackingOptions.CustomRedirectDomain.
    pub custom_redirect_domain: Option<String>,
    /// SuppressionOptions.SuppressedReasons; `None` = no SuppressionOptions (the account-level
    /// list applies).
    pub suppressed_reasons: Option<Vec<String>>,
    pub tags: Vec<(String, String)>,
}

/// An email identity (an address or a domain).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FakeIdentity {
    pub name: String,
    /// `EMAIL_ADDRESS`, `DOMAIN` or `MANAGED_DOMAIN`.
    pub identity_type: String,
    /// `PENDING`, `SUCCESS`, `FAILED`, `TEMPORARY_FAILURE` or `NOT_STARTED`.
    pub verification_status: String,
    /// DkimAttributes.Status.
    pub dkim_status: String,
    pub dkim_tokens: Vec<String>,
    pub mail_from_domain: Option<String>,
    /// The identity's default configuration set.
    pub configuration_set: Option<String>,
}

impl FakeIdentity {
    /// An identity of `identity_type` whose verification and DKIM status are both `status`, with
    /// default configuration set `configuration_set`, no DKIM tokens and no MAIL FROM domain.
    pub fn new(
        name: &str,
        identity_type: &str,
        status: &str,
        configuration_set: Option<&str>,
    ) -> FakeIdentity {
        FakeIdentity {
            name: name.into(),
            identity_type: identity_type.into(),
            verification_status: status.into(),
            dkim_status: status.into(),
            dkim_tokens: vec![],
            mail_from_domain: None,
            configuration_set: configuration_set.map(str::to_owned),
        }
    }
}

#[derive(Default)]
struct Inner {
    mode: Option<Mode>,
    max_page: Option<usize>,
    suppressions: Vec<FakeSuppression>,
    account: FakeAccount,
    configuration_sets: BTreeMap<String, FakeConfigurationSet>,
    identities: Vec<FakeIdentity>,
    requests: HashMap<&'static str, usize>,
    credential_scopes: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake SES v2 endpoint (stops when the test's runtime ends).
pub struct FakeSes {
    addr: SocketAddr,
    state: Shared,
}

impl FakeSes {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> FakeSes {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/v2/email/suppression/addresses", get(list_suppressions))
            .route(
                "/v2/email/suppression/addresses/{email}",
                get(get_suppression),
            )
            .route("/v2/email/account", get(get_account))
            .route(
                "/v2/email/list-configuration-sets",
                post(list_configuration_sets),
            )
            .route("/v2/email/configuration-sets", get(list_configuration_sets))
            .route(
                "/v2/email/configuration-sets/{name}",
                get(get_configuration_set),
            )
            .route("/v2/email/list-identities", post(list_identities))
            .route("/v2/email/identities", get(list_identities))
            .route("/v2/email/identities/{identity}", get(get_identity))
            .fallback(unknown_operation)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake SES");
        let addr = listener.local_addr().expect("fake SES address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSes { addr, state }
    }

    /// The endpoint URL to give the SDK (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = Some(mode);
    }

    /// At most `n` items per list page (SES may return fewer than PageSize).
    pub fn set_max_page_size(&self, n: usize) {
        self.lock().max_page = Some(n.max(1));
    }

    pub fn add_suppression(&self, email: &str, reason: &str, last_update_ms: i64) {
        self.lock().suppressions.push(FakeSuppression {
            email: email.into(),
            reason: reason.into(),
            last_update_ms,
        });
    }

    pub fn clear_suppressions(&self) {
        self.lock().suppressions.clear();
    }

    pub fn set_account(&self, account: FakeAccount) {
        self.lock().account = account;
    }

    /// Adds or replaces a configuration set.
    pub fn put_configuration_set(&self, set: FakeConfigurationSet) {
        self.lock().configuration_sets.insert(set.name.clone(), set);
    }

    pub fn remove_configuration_set(&self, name: &str) {
        self.lock().configuration_sets.remove(name);
    }

    /// Adds or replaces an identity (matched by exact name).
    pub fn put_identity(&self, identity: FakeIdentity) {
        let mut inner = self.lock();
        match inner
            .identities
            .iter_mut()
            .find(|i| i.name == identity.name)
        {
            Some(existing) => *existing = identity,
            None => inner.identities.push(identity),
        }
    }

    pub fn remove_identity(&self, name: &str) {
        self.lock().identities.retain(|i| i.name != name);
    }

    /// Requests received for one operation (`ListSuppressedDestinations`, `GetAccount`, …),
    /// failed ones included.
    pub fn requests(&self, operation: &str) -> usize {
        self.lock().requests.get(operation).copied().unwrap_or(0)
    }

    /// Requests received for every operation.
    pub fn total_requests(&self) -> usize {
        self.lock().requests.values().sum()
    }

    /// The SigV4 credential scopes (`AKID/date/region/service/aws4_request`) seen so far.
    pub fn credential_scopes(&self) -> Vec<String> {
        self.lock().credential_scopes.clone()
    }
}

/// An SES error as the SDK parses it: the code in `x-amzn-ErrorType` (with the service URL
/// suffix real SES adds) and a JSON body with `message`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = (status, axum::Json(json!({ "message": message }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{code}:http://internal.amazon.com/coral/com.amazonaws.sesv2/"
    )) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp.headers_mut().insert(
        "x-amzn-requestid",
        HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
    resp
}

fn ok(body: Value) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        "x-amzn-requestid",
        HeaderValue::from_static("00000000-0000-0000-0000-000000000001"),
    );
    resp
}

/// An SES error not rendered yet (keeps `Result`s small).
struct Fault {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn fault(status: StatusCode, code: &'static str, message: &str) -> Fault {
    Fault {
        status,
        code,
        message: message.to_owned(),
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        error(self.status, self.code, &self.message)
    }
}

/// Counts the request, checks its signature header, and applies the failure mode. `Err` is the
/// response to send instead of serving the operation.
fn admit<'a>(
    state: &'a Shared,
    operation: &'static str,
    headers: &HeaderMap,
) -> Result<MutexGuard<'a, Inner>, Fault> {
    let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
    *inner.requests.entry(operation).or_insert(0) += 1;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(scope) = auth
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .and_then(|rest| rest.split(',').next())
    else {
        return Err(fault(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    inner.credential_scopes.push(scope.to_owned());
    match inner.mode.unwrap_or(Mode::Normal) {
        Mode::Normal => Ok(inner),
        Mode::Outage => Err(fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        )),
        Mode::Throttle => Err(fault(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate exceeded",
        )),
    }
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `(start, size)` of the page a NextToken/PageSize pair asks for, or the 400 SES answers.
fn page_bounds(
    token: Option<&str>,
    page_size: Option<i64>,
    max: Option<usize>,
    default_size: usize,
) -> Result<(usize, usize), Fault> {
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix("fake-token-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                fault(
                    StatusCode::BAD_REQUEST,
                    "BadRequestException",
                    "Invalid NextToken",
                )
            })?,
    };
    let size = match page_size {
        None => default_size,
        Some(n @ 1..=1000) => n as usize,
        Some(_) => {
            return Err(fault(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "PageSize must be between 1 and 1000",
            ));
        }
    };
    Ok((start, max.map_or(size, |m| size.min(m))))
}

fn next_token(start: usize, taken: usize, total: usize) -> Option<String> {
    (start + taken < total).then(|| format!("fake-token-{}", start + taken))
}

fn epoch_seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn parse_iso(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The body of one list page: `key` holding `items[start..start + size]` as `render` writes
/// them, plus `NextToken` when more items follow.
fn page_json<T>(
    key: &str,
    items: &[T],
    (start, size): (usize, usize),
    render: impl Fn(&T) -> Value,
) -> Value {
    let page: Vec<Value> = items.iter().skip(start).take(size).map(render).collect();
    let mut out = json!({ key: page });
    if let Some(t) = next_token(start, page.len(), items.len()) {
        out["NextToken"] = t.into();
    }
    out
}

/// SES's `404 NotFoundException` with `message`.
fn not_found(message: &str) -> Fault {
    fault(StatusCode::NOT_FOUND, "NotFoundException", message)
}

async fn list_suppressions(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let inner = admit(&state, "ListSuppressedDestinations", &headers)?;
    let pairs = query_pairs(query.as_deref());
    let one = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let reasons: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "Reason")
        .map(|(_, v)| v.as_str())
        .collect();
    let bad = |m: &str| fault(StatusCode::BAD_REQUEST, "BadRequestException", m);
    let start_ms = match one("StartDate") {
        None => None,
        Some(s) => Some(parse_iso(s).ok_or_else(|| bad("Invalid StartDate"))?),
    };
    let end_ms = match one("EndDate") {
        None => None,
        Some(s) => Some(parse_iso(s).ok_or_else(|| bad("Invalid EndDate"))?),
    };
    let page_size = match one("PageSize").map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Err(bad("Invalid PageSize")),
    };
    let matching: Vec<&FakeSuppression> = inner
        .suppressions
        .iter()
        .filter(|s| reasons.is_empty() || reasons.contains(&s.reason.as_str()))
        .filter(|s| start_ms.is_none_or(|t| s.last_update_ms >= t))
        .filter(|s| end_ms.is_none_or(|t| s.last_update_ms <= t))
        .collect();
    let bounds = page_bounds(one("NextToken"), page_size, inner.max_page, 1000)?;
    Ok(ok(page_json(
        "SuppressedDestinationSummaries",
        &matching,
        bounds,
        |s| {
            json!({
                "EmailAddress": s.email,
                "Reason": s.reason,
                "LastUpdateTime": epoch_seconds(s.last_update_ms),
            })
        },
    )))
}

async fn get_suppression(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Result<Response, Fault> {
    let inner = admit(&state, "GetSuppressedDestination", &headers)?;
    // Exact match: the fake does not fold case, so callers cannot rely on SES doing it.
    let Some(s) = inner.suppressions.iter().find(|s| s.email == email) else {
        return Err(not_found(&format!(
            "Email address {email} does not exist on your suppression list."
        )));
    };
    Ok(ok(json!({
        "SuppressedDestination": {
            "EmailAddress": s.email,
            "Reason": s.reason,
            "LastUpdateTime": epoch_seconds(s.last_update_ms),
            "Attributes": {
                "MessageId": "0100018f0000aaaa-fake",
                "FeedbackId": "0100018f0000bbbb-fake"
            }
        }
    })))
}

async fn get_account(State(state): State<Shared>, headers: HeaderMap) -> Result<Response, Fault> {
    let inner = admit(&state, "GetAccount", &headers)?;
    let a = &inner.account;
    Ok(ok(json!({
        "DedicatedIpAutoWarmupEnabled": false,
        "EnforcementStatus": a.enforcement_status,
        "ProductionAccessEnabled": a.production_access_enabled,
        "SendQuota": {
            "Max24HourSend": a.max_24_hour_send,
            "MaxSendRate": a.max_send_rate,
            "SentLast24Hours": a.sent_last_24_hours
        },
        "SendingEnabled": a.sending_enabled,
        "SuppressionAttributes": { "SuppressedReasons": a.suppressed_reasons },
        "Details": {
            "MailType": "TRANSACTIONAL",
            "WebsiteURL": "https://example.com",
            "ContactLanguage": "EN",
            "UseCaseDescription": "fake",
            "AdditionalContactEmailAddresses": [],
            "ReviewDetails": { "Status": "GRANTED", "CaseId": "fake-case" }
        }
    })))
}

/// NextToken and PageSize of a list call: from the JSON body (the SDK's POST routes) or the
/// query string (the documented GET routes), turned into the `(start, size)` of the page
/// ([`page_bounds`], at most `max` items).
fn list_args(
    query: Option<&str>,
    body: &[u8],
    max: Option<usize>,
) -> Result<(usize, usize), Fault> {
    let bad = |m: &str| fault(StatusCode::BAD_REQUEST, "BadRequestException", m);
    let (token, size) = if !body.is_empty() {
        let v: Value = serde_json::from_slice(body).map_err(|_| bad("Invalid JSON body"))?;
        let token = v
            .get("NextToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        (token, v.get("PageSize").and_then(Value::as_i64))
    } else {
        let pairs = query_pairs(query);
        let token = pairs
            .iter()
            .find(|(k, _)| k == "NextToken")
            .map(|(_, v)| v.clone());
        let size = match pairs.iter().find(|(k, _)| k == "PageSize") {
            None => None,
            Some((_, v)) => Some(v.parse::<i64>().map_err(|_| bad("Invalid PageSize"))?),
        };
        (token, size)
    };
    page_bounds(token.as_deref(), size, max, 1000)
}

async fn list_configuration_sets(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Fault> {
    let inner = admit(&state, "ListConfigurationSets", &headers)?;
    let bounds = list_args(query.as_deref(), &body, inner.max_page)?;
    let names: Vec<&String> = inner.configuration_sets.keys().collect();
    Ok(ok(page_json("ConfigurationSets", &names, bounds, |n| {
        json!(n)
    })))
}

async fn get_configuration_set(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Fault> {
    let inner = admit(&state, "GetConfigurationSet", &headers)?;
    let Some(set) = inner.configuration_sets.get(&name) else {
        return Err(not_found(&format!(
            "Configuration set <{name}> does not exist."
        )));
    };
    let mut out = json!({
        "ConfigurationSetName": set.name,
        "DeliveryOptions": { "TlsPolicy": "OPTIONAL" },
        "ReputationOptions": { "ReputationMetricsEnabled": true },
        "SendingOptions": { "SendingEnabled": set.sending_enabled },
        "Tags": set.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
    });
    if let Some(domain) = &set.custom_redirect_domain {
        out["TrackingOptions"] =
            json!({ "CustomRedirectDomain": domain, "HttpsPolicy": "REQUIRE" });
    }
    if let Some(reasons) = &set.suppressed_reasons {
        out["SuppressionOptions"] = json!({ "SuppressedReasons": reasons });
    }
    Ok(ok(out))
}

async fn list_identities(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Fault> {
    let inner = admit(&state, "ListEmailIdentities", &headers)?;
    let bounds = list_args(query.as_deref(), &body, inner.max_page)?;
    Ok(ok(page_json(
        "EmailIdentities",
        &inner.identities,
        bounds,
        |i| {
            json!({
                "IdentityType": i.identity_type,
                "IdentityName": i.name,
                "SendingEnabled": i.verification_status == "SUCCESS",
                "VerificationStatus": i.verification_status,
            })
        },
    )))
}

async fn get_identity(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Fault> {
    let inner = admit(&state, "GetEmailIdentity", &headers)?;
    let Some(i) = inner.identities.iter().find(|i| i.name == name) else {
        return Err(not_found(&format!(
            "Email identity <{name}> does not exist."
        )));
    };
    let mut out = json!({
        "IdentityType": i.identity_type,
        "FeedbackForwardingStatus": true,
        "VerifiedForSendingStatus": i.verification_status == "SUCCESS",
        "VerificationStatus": i.verification_status,
        "DkimAttributes": {
            "SigningEnabled": true,
            "Status": i.dkim_status,
            "Tokens": i.dkim_tokens,
            "SigningAttributesOrigin": "AWS_SES",
            "CurrentSigningKeyLength": "RSA_2048_BIT",
            "NextSigningKeyLength": "RSA_2048_BIT",
            "LastKeyGenerationTimestamp": 1_700_000_000.0
        },
        "Policies": {},
        "Tags": [],
    });
    if let Some(domain) = &i.mail_from_domain {
        out["MailFromAttributes"] = json!({
            "MailFromDomain": domain,
            "MailFromDomainStatus": "SUCCESS",
            "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"
        });
    }
    if let Some(set) = &i.configuration_set {
        out["ConfigurationSetName"] = set.clone().into();
    }
    Ok(ok(out))
}

async fn unknown_operation(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        &format!("the fake does not serve {}", uri.path()),
    )
}
