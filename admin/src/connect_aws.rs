//! `sendops-admin account connect-aws`: onboarding an org's AWS account (docs/deploy.md,
//! "Customer side").
//!
//! Without `--role-arn`: the org's external id is generated (or the stored one reused) and the
//! customer stack's parameters are printed. With `--role-arn`: the role is checked by assuming it
//! through STS with the stored external id, then SES `GetAccount` is called with the assumed
//! credentials, and the configuration sets' `sendops:template-version` tag (set by the customer
//! stack) gives the template version really applied; only then is the role recorded.
//!
//! Endpoints for local runs and tests: `SENDOPS_STS_ENDPOINT_URL` (STS, e.g. moto_server) and
//! `SENDOPS_SES_ENDPOINT_URL` (SES v2); credentials from the default chain.

use anyhow::{Context, bail};
use aws_config::{BehaviorVersion, Region};
use sendops_outbound::ses::{SesAccess, SesTarget};
use sendops_shared::Store;
use sendops_shared::control::org::Org;
use sendops_shared::control::org_settings::{CUSTOMER_STACK_LATEST_VERSION, role_arn_account};
use serde_json::{Value, json};

/// The configuration-set tag the customer stack writes (infra/cloudformation/customer.yaml).
pub const TEMPLATE_VERSION_TAG: &str = "sendops:template-version";

/// What `connect-aws` was asked to do (its flags but `--org`).
#[derive(Debug, clap::Args)]
#[group(skip)]
pub struct ConnectAws {
    /// arn:aws:iam::<org's account>:role/NAME (the customer stack's ReadRoleArn output)
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Only to record an id generated elsewhere that a role already requires; normally
    /// leave it out (SendOps generates and stores the id).
    #[arg(long)]
    pub external_id: Option<String>,
    /// How the customer's events reach the platform.
    #[arg(long, value_parser = ["EventBridge", "SNS"], default_value = "EventBridge")]
    pub transport: String,
    /// Platform bus (EventBridge) or queue (SNS) ARN [default: SENDOPS_PLATFORM_EVENT_BUS_ARN
    /// or SENDOPS_PLATFORM_QUEUE_ARN].
    #[arg(long)]
    pub platform_destination_arn: Option<String>,
    /// [default: SENDOPS_PLATFORM_ACCOUNT_ID, else the destination ARN's account]
    #[arg(long)]
    pub platform_account_id: Option<String>,
    /// The customer stack's name, to record the applied template version under.
    #[arg(long)]
    pub stack_name: Option<String>,
    /// Record the role without assuming it.
    #[arg(long)]
    pub no_check: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The account field of an ARN (`arn:partition:service:region:ACCOUNT:…`).
fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The customer stack's parameters for this org.
fn parameters(args: &ConnectAws, external_id: &str) -> anyhow::Result<Value> {
    let destination = match args.transport.as_str() {
        "EventBridge" => args
            .platform_destination_arn
            .clone()
            .or_else(|| env("SENDOPS_PLATFORM_EVENT_BUS_ARN")),
        _ => args
            .platform_destination_arn
            .clone()
            .or_else(|| env("SENDOPS_PLATFORM_QUEUE_ARN")),
    };
    let expected = if args.transport == "EventBridge" {
        ":events:"
    } else {
        ":sqs:"
    };
    if let Some(d) = &destination
        && (!d.starts_with("arn:aws") || !d.contains(expected) || arn_account(d).is_none())
    {
        bail!(
            "platform destination {d:?} must be an arn:aws{expected}REGION:ACCOUNT:… ARN for Transport={}",
            args.transport
        );
    }
    let account = args
        .platform_account_id
        .clone()
        .or_else(|| env("SENDOPS_PLATFORM_ACCOUNT_ID"))
        .or_else(|| {
            destination
                .as_deref()
                .and_then(arn_account)
                .map(String::from)
        });
    if let Some(a) = &account
        && !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("platform account id {a:?} must be 12 digits");
    }
    Ok(json!({
        "PlatformAccountId": account,
        "ExternalId": external_id,
        "Transport": args.transport,
        "PlatformDestinationArn": destination,
    }))
}

/// Assumes the role with the external id (STS), then reads the SES account and the applied
/// template version through the assumed credentials.
async fn check_role(org: &Org, role_arn: &str, external_id: &str) -> anyhow::Result<Value> {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(org.region.clone()));
    if let Some(url) = env("SENDOPS_STS_ENDPOINT_URL") {
        loader = loader.endpoint_url(url);
    }
    let base = loader.load().await;
    let sts = aws_sdk_sts::Client::new(&base);
    let assumed = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(format!("sendops-check-{}", org.id.simple()))
        .external_id(external_id)
        .duration_seconds(900)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sts::error::DisplayErrorContext(e)))
        .with_context(|| format!("could not assume {role_arn} with the org's external id"))?;
    let assumed_arn = assumed
        .assumed_role_user()
        .map(|u| u.arn().to_owned())
        .unwrap_or_default();

    let ses = SesAccess::assume_role(base, env("SENDOPS_SES_ENDPOINT_URL"));
    let target = SesTarget {
        org_id: org.id,
        org_slug: org.slug.clone(),
        region: org.region.clone(),
        role_arn: role_arn.to_owned(),
        external_id: external_id.to_owned(),
    };
    let account = ses
        .account(&target)
        .await
        .with_context(|| format!("SES GetAccount through {role_arn} failed"))?;
    let sets = ses
        .configuration_sets(&target)
        .await
        .with_context(|| format!("SES configuration sets through {role_arn} failed"))?;
    // The highest version any SendOps-tagged configuration set carries.
    let tagged = sets
        .iter()
        .filter_map(|s| {
            s.tags
                .iter()
                .find(|(k, _)| k == TEMPLATE_VERSION_TAG)
                .and_then(|(_, v)| v.trim().parse::<u32>().ok())
                .map(|v| (v, s.name.clone()))
        })
        .max();
    Ok(json!({
        "assumed_role_arn": assumed_arn,
        "ses_get_account": {
            "production_access_enabled": account.production_access_enabled,
            "sending_enabled": account.sending_enabled,
        },
        "template_version": tagged.as_ref().map(|t| t.0),
        "configuration_set": tagged.as_ref().map(|t| t.1.clone()),
        "latest_version": CUSTOMER_STACK_LATEST_VERSION,
    }))
}

/// Runs `connect-aws`; returns the JSON to print.
pub async fn run(store: &Store, org: &Org, args: ConnectAws) -> anyhow::Result<Value> {
    // An id given on the command line (one generated elsewhere, already in the role's trust
    // policy) is recorded as is; otherwise the stored id, generated on first use.
    let external_id = match &args.external_id {
        Some(id) => id.trim().to_owned(),
        None => store.ensure_external_id(org.id).await?,
    };
    let parameters = parameters(&args, &external_id)?;
    let mut out = json!({
        "org": org.slug,
        "aws_account_id": org.aws_account_id,
        "parameters": parameters,
    });
    let Some(role_arn) = args.role_arn.as_deref().map(str::trim) else {
        let s = store.org_settings(org.id).await?;
        out["aws_role"] = serde_json::to_value(&s.aws_role)?;
        out["cloudformation"] = serde_json::to_value(&s.cloudformation)?;
        return Ok(out);
    };
    let account = role_arn_account(role_arn).with_context(|| {
        format!("role ARN {role_arn:?} must look like arn:aws:iam::123456789012:role/NAME")
    })?;
    if account != org.aws_account_id {
        bail!(
            "role {role_arn} is in AWS account {account}, but org {} uses account {}",
            org.slug,
            org.aws_account_id
        );
    }
    let check = if args.no_check {
        Value::Null
    } else {
        check_role(org, role_arn, &external_id).await?
    };
    let mut settings = store.connect_aws(org.id, role_arn, &external_id).await?;
    if let Some(version) = check["template_version"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
    {
        let previous = settings
            .cloudformation
            .as_ref()
            .map(|c| c.stack_name.clone());
        match args.stack_name.clone().or(previous) {
            Some(stack) => {
                let drift = settings
                    .cloudformation
                    .as_ref()
                    .map_or("NOT_CHECKED".to_owned(), |c| c.drift_status.clone());
                settings = store
                    .set_cloudformation(org.id, &stack, version, &drift)
                    .await?;
            }
            None => eprintln!(
                "applied template version {version} not recorded: pass --stack-name (the customer stack's name)"
            ),
        }
    }
    out["check"] = check;
    out["aws_role"] = serde_json::to_value(&settings.aws_role)?;
    out["cloudformation"] = serde_json::to_value(&settings.cloudformation)?;
    Ok(out)
}
