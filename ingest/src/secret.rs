//! ClickHouse credentials from AWS Secrets Manager (`CLICKHOUSE_SECRET_ARN`), for the Lambda,
//! whose template must not put a password in a plaintext environment variable (the container
//! services get theirs injected by ECS as `CLICKHOUSE_USER`/`CLICKHOUSE_PASSWORD`).
//!
//! The secret's `SecretString` is the JSON object Secrets Manager's own templates write:
//! `{"username": "…", "password": "…"}`. It is read once at start; an explicitly set
//! `CLICKHOUSE_PASSWORD` wins, and any failure stops the start with the reason (never the value).

use sendops_shared::store::config::ClickHouseConfig;
use serde::Deserialize;

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: String,
}

/// Fills `cfg`'s user and password from the secret `CLICKHOUSE_SECRET_ARN` names, when it is set
/// and `CLICKHOUSE_PASSWORD` is not.
pub async fn apply(cfg: &mut ClickHouseConfig) -> Result<(), String> {
    let Some(arn) = std::env::var("CLICKHOUSE_SECRET_ARN")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(());
    };
    if cfg.password.is_some() {
        tracing::info!("CLICKHOUSE_PASSWORD is set; CLICKHOUSE_SECRET_ARN is not read");
        return Ok(());
    }
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    let out = client
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "CLICKHOUSE_SECRET_ARN {arn}: cannot read the secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    let text = out.secret_string().ok_or_else(|| {
        format!("CLICKHOUSE_SECRET_ARN {arn}: the secret has no SecretString (binary secrets are not supported)")
    })?;
    let creds: Credentials = serde_json::from_str(text).map_err(|_| {
        format!(
            "CLICKHOUSE_SECRET_ARN {arn}: the secret is not a JSON object with a string \"password\" (and optional \"username\")"
        )
    })?;
    if let Some(user) = creds.username.filter(|u| !u.is_empty()) {
        cfg.user = Some(user);
    }
    cfg.password = Some(creds.password);
    tracing::info!(secret = %arn, user = cfg.user.as_deref().unwrap_or("default"), "ClickHouse credentials read from Secrets Manager");
    Ok(())
}
