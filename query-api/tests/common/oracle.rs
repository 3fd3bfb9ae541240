//! The oracle's reading of raw SES events (docs/semantics.md#counting), independent of the
//! parser: one row per (event, recipient), distinct by content identity.

use std::collections::HashSet;
use std::ops::Range;

use sendops_shared::control::org::channel_id;
use sendops_shared::read::breakdown::causes::classify;
use sendops_shared::timefmt::parse_rfc3339_ms;
use serde_json::Value;

/// One stored row as the oracle sees it.
#[derive(Debug, Clone)]
pub struct Row {
    pub ms: i64,
    pub ty: String,
    pub recipient: String,
    pub recipient_domain: String,
    pub channel: String,
    pub sender_domain: String,
    pub template: String,
    pub bounce_type: String,
    pub cause: String,
}

/// The key of an SES event's own payload object (its timestamp's home); `mail` for the others.
pub fn payload_key(ty: &str) -> &'static str {
    match ty {
        "Delivery" => "delivery",
        "Bounce" => "bounce",
        "Complaint" => "complaint",
        "Open" => "open",
        "Click" => "click",
        "DeliveryDelay" => "deliveryDelay",
        "Subscription" => "subscription",
        _ => "mail",
    }
}

/// The distinct non-empty values of one column of `rows`, sorted (filter values for generated
/// queries).
pub fn distinct_values(rows: &[Row], column: fn(&Row) -> &String) -> Vec<String> {
    rows.iter()
        .map(|r| column(r).clone())
        .filter(|v| !v.is_empty())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Rows of docs/semantics.md#counting, distinct by content identity.
pub fn oracle_rows(events: &[Value]) -> Vec<Row> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in events {
        let ty = e["eventType"].as_str().unwrap();
        let mail = &e["mail"];
        let ms = parse_rfc3339_ms(e[payload_key(ty)]["timestamp"].as_str().unwrap()).unwrap();
        // (recipient, diagnostic)
        let recipients: Vec<(String, String)> = match ty {
            "Delivery" => e["delivery"]["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r.as_str().unwrap().to_owned(), String::new()))
                .collect(),
            "Bounce" | "Complaint" | "DeliveryDelay" => {
                let list = match ty {
                    "Bounce" => &e["bounce"]["bouncedRecipients"],
                    "Complaint" => &e["complaint"]["complainedRecipients"],
                    _ => &e["deliveryDelay"]["delayedRecipients"],
                };
                list.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            r["emailAddress"].as_str().unwrap().to_owned(),
                            r["diagnosticCode"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            }
            _ => mail["destination"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r.as_str().unwrap().to_owned(), String::new()))
                .collect(),
        };
        let source = mail["source"].as_str().unwrap();
        let address = source
            .rsplit_once('<')
            .map_or(source, |(_, a)| a.trim_end_matches('>'));
        let sender_domain = address.rsplit_once('@').unwrap().1.to_lowercase();
        let template = mail["tags"]["template"][0]
            .as_str()
            .or(e["failure"]["templateName"].as_str())
            .unwrap_or("")
            .to_owned();
        let link = e["click"]["link"].as_str().unwrap_or("").to_owned();
        let ty_name = if ty == "Rendering Failure" {
            "RenderingFailure"
        } else {
            ty
        };
        let (bounce_type, sub_type) = if ty == "Bounce" {
            (
                e["bounce"]["bounceType"].as_str().unwrap_or("").to_owned(),
                e["bounce"]["bounceSubType"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        } else {
            (String::new(), String::new())
        };
        for (r, diag) in recipients {
            let id = (
                mail["messageId"].as_str().unwrap().to_owned(),
                ty_name.to_owned(),
                ms,
                r.clone(),
                link.clone(),
            );
            if !seen.insert(id) {
                continue;
            }
            out.push(Row {
                ms,
                ty: ty_name.to_owned(),
                recipient: r.to_lowercase(),
                recipient_domain: r.rsplit_once('@').unwrap().1.to_lowercase(),
                channel: mail["tags"]["ses:configuration-set"][0]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                sender_domain: sender_domain.clone(),
                template: template.clone(),
                cause: if ty == "Bounce" {
                    classify(&sub_type, &diag).as_str().to_owned()
                } else {
                    String::new()
                },
                bounce_type: bounce_type.clone(),
            });
        }
    }
    out
}

/// A rate as the API computes it: n / d clamped to [0, 1], 0.0 when d is 0.
pub fn rate(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        (n as f64 / d as f64).min(1.0)
    }
}

/// JSON equality with floats compared to 1e-12 (rates computed in another order).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-12
        }
        _ => a == b,
    }
}

/// A report query's window (ms) and optional filters, as the oracle applies them.
#[derive(Clone)]
pub struct Filters {
    pub window: Range<i64>,
    pub channel: Option<String>,
    pub domain: Option<String>,
    pub template: Option<String>,
}

impl Filters {
    /// The whole `window`, nothing filtered.
    pub fn unfiltered(window: Range<i64>) -> Filters {
        Filters {
            window,
            channel: None,
            domain: None,
            template: None,
        }
    }

    /// Whether `r` lies in the window and passes every filter that is set.
    pub fn keep(&self, r: &Row) -> bool {
        self.window.contains(&r.ms)
            && self.channel.as_ref().is_none_or(|c| *c == r.channel)
            && self.domain.as_ref().is_none_or(|d| *d == r.sender_domain)
            && self
                .template
                .as_ref()
                .is_none_or(|t| t.to_lowercase() == r.template.to_lowercase())
    }

    /// The query parameters of the filters that are set (`&channel=…&identity=…&template=…`);
    /// the template upper-cased, to prove it matches case-insensitively.
    pub fn params(&self, org_id: uuid::Uuid) -> String {
        let mut s = String::new();
        if let Some(c) = &self.channel {
            s.push_str(&format!("&channel={}", channel_id(org_id, c)));
        }
        if let Some(d) = &self.domain {
            s.push_str(&format!("&identity=ops%40{d}"));
        }
        if let Some(t) = &self.template {
            s.push_str(&format!("&template={}", t.to_uppercase()));
        }
        s
    }
}

/// The distinct channels, sender domains and templates of some rows: values to filter by.
pub struct FilterValues {
    channels: Vec<String>,
    domains: Vec<String>,
    templates: Vec<String>,
}

impl FilterValues {
    /// The values found in `rows`.
    pub fn of(rows: &[Row]) -> FilterValues {
        let distinct = |f: fn(&Row) -> &String| distinct_values(rows, f);
        FilterValues {
            channels: distinct(|r| &r.channel),
            domains: distinct(|r| &r.sender_domain),
            templates: distinct(|r| &r.template),
        }
    }

    /// The filters of the `i`-th generated window, whole seconds: a channel every 4th window
    /// (i % 4 == 1), a sender domain every 5th (i % 5 == 2), a template every `template_every`-th
    /// (i % template_every == 3).
    pub fn window(&self, i: usize, from: i64, to: i64, template_every: usize) -> Filters {
        Filters {
            window: from / 1000 * 1000..to / 1000 * 1000,
            channel: (i % 4 == 1).then(|| self.channels[i % self.channels.len()].clone()),
            domain: (i % 5 == 2).then(|| self.domains[i % self.domains.len()].clone()),
            template: (i % template_every == 3)
                .then(|| self.templates[i % self.templates.len()].clone()),
        }
    }
}
