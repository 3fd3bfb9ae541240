//! Operator commands for the SES-backed views (docs/semantics.md#ses-views, #operator-tools): account state (read role,
//! production access, CloudFormation stack), `sync ses`, `templates sync` and
//! `tracking-domain add|verify`. Each prints JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use sendops_outbound::dns::Resolver;
use sendops_outbound::ses::SesAccess;
use sendops_outbound::ses_sync::sync_ses;
use sendops_outbound::templates_repo::sync_templates;
use sendops_outbound::tracking_verify::{add_tracking_domain, verify_tracking_domain};
use sendops_shared::Store;
use sendops_shared::control::org::Org;
use sendops_shared::control::org_settings::{OrgSettings, ProductionAccessStatus};
use sendops_shared::control::tracking::cname_target_from_env;
use sendops_shared::timefmt::now_ms;
use serde_json::json;

#[derive(Subcommand)]
pub enum AccountCommand {
    /// The org's stored account state (read role, production access, CloudFormation stack).
    Show {
        #[arg(long)]
        org: String,
    },
    /// Connect the org's AWS account. Without --role-arn: generates the org's external id (kept
    /// once stored) and prints the customer stack parameters. With --role-arn: assumes the role
    /// with that external id (STS; SENDOPS_STS_ENDPOINT_URL for local runs), calls SES
    /// GetAccount through it, reads the applied template version from the configuration set's
    /// `sendops:template-version` tag, then records the role (and the version, with
    /// --stack-name or the stack already recorded).
    #[command(verbatim_doc_comment)]
    ConnectAws {
        #[arg(long)]
        org: String,
        #[command(flatten)]
        args: crate::connect_aws::ConnectAws,
    },
    /// Record the production-access request state (granting keeps the first grant time).
    ProductionAccess {
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = ["pending", "granted", "denied"])]
        status: String,
    },
    /// Record the customer CloudFormation stack and the template version it runs.
    Cloudformation {
        #[arg(long)]
        org: String,
        #[arg(long)]
        stack_name: String,
        #[arg(long)]
        template_version: u32,
        /// CloudFormation drift status (IN_SYNC, DRIFTED, NOT_CHECKED, …).
        #[arg(long, default_value = "NOT_CHECKED")]
        drift_status: String,
    },
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Read the org's SES configuration sets and email identities into channels and identities
    /// (idempotent; what SES no longer has disappears).
    Ses {
        #[arg(long)]
        org: String,
    },
}

#[derive(Subcommand)]
pub enum TemplatesCommand {
    /// Make the org's templates exactly the `sendops.json` manifest of a git repository.
    Sync {
        #[arg(long)]
        org: String,
        /// Path of the (local) git repository.
        #[arg(long)]
        repo: PathBuf,
        /// Branch, tag or commit to read [default: HEAD].
        #[arg(long = "ref")]
        git_ref: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TrackingDomainCommand {
    /// Register a tracking subdomain (pending until verified); prints the DNS records to publish.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        domain: String,
    },
    /// Re-read the covering SES identity and check every DNS record; prints each check.
    Verify {
        #[arg(long)]
        org: String,
        #[arg(long)]
        domain: String,
    },
}

async fn org_by_slug(store: &Store, slug: &str) -> anyhow::Result<Org> {
    store
        .org_by_slug(slug)
        .await?
        .with_context(|| format!("no org with slug {slug:?}"))
}

fn settings_json(org: &Org, s: &OrgSettings) -> serde_json::Value {
    json!({
        "org": org.slug,
        "aws_account_id": org.aws_account_id,
        "region": org.region,
        "aws_role": s.aws_role,
        "production_access": s.production_access,
        "cloudformation": s.cloudformation,
    })
}

pub async fn run_account(
    store: &Store,
    command: AccountCommand,
) -> anyhow::Result<serde_json::Value> {
    let (org, settings) = match command {
        AccountCommand::Show { org } => {
            let org = org_by_slug(store, &org).await?;
            let s = store.org_settings(org.id).await?;
            (org, s)
        }
        AccountCommand::ConnectAws { org, args } => {
            let org = org_by_slug(store, &org).await?;
            return crate::connect_aws::run(store, &org, args).await;
        }
        AccountCommand::ProductionAccess { org, status } => {
            let org = org_by_slug(store, &org).await?;
            let status = ProductionAccessStatus::parse(&status)
                .context("--status must be pending, granted or denied")?;
            let s = store
                .set_production_access(org.id, status, now_ms())
                .await?;
            (org, s)
        }
        AccountCommand::Cloudformation {
            org,
            stack_name,
            template_version,
            drift_status,
        } => {
            let org = org_by_slug(store, &org).await?;
            let s = store
                .set_cloudformation(org.id, &stack_name, template_version, &drift_status)
                .await?;
            (org, s)
        }
    };
    Ok(settings_json(&org, &settings))
}

pub async fn run_sync(store: &Store, command: SyncCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        SyncCommand::Ses { org } => {
            let org = org_by_slug(store, &org).await?;
            let ses = SesAccess::from_env().await;
            let report = sync_ses(store, &ses, &org, now_ms()).await?;
            Ok(serde_json::to_value(report)?)
        }
    }
}

pub async fn run_templates(
    store: &Store,
    command: TemplatesCommand,
) -> anyhow::Result<serde_json::Value> {
    match command {
        TemplatesCommand::Sync { org, repo, git_ref } => {
            let org = org_by_slug(store, &org).await?;
            let report = sync_templates(
                store,
                org.id,
                &org.slug,
                &repo,
                git_ref.as_deref(),
                now_ms(),
            )
            .await?;
            Ok(serde_json::to_value(report)?)
        }
    }
}

pub async fn run_tracking_domain(
    store: &Store,
    command: TrackingDomainCommand,
) -> anyhow::Result<serde_json::Value> {
    let ses = SesAccess::from_env().await;
    match command {
        TrackingDomainCommand::Add { org, domain } => {
            let org = org_by_slug(store, &org).await?;
            let t = add_tracking_domain(
                store,
                &ses,
                &org,
                &domain,
                &cname_target_from_env(),
                now_ms(),
            )
            .await?;
            Ok(t.to_json())
        }
        TrackingDomainCommand::Verify { org, domain } => {
            let org = org_by_slug(store, &org).await?;
            let resolver = Resolver::from_env()?;
            let (t, checks) =
                verify_tracking_domain(store, &ses, &resolver, &org, &domain, now_ms()).await?;
            let mut out = t.to_json();
            out["checks"] = serde_json::to_value(checks)?;
            Ok(out)
        }
    }
}
