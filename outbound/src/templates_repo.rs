//! Template sync: reads a git repository that holds a `sendops.json` manifest
//! (`sendops-admin templates sync --org SLUG --repo PATH [--ref REF]`). The repository is read
//! with the `git` CLI at one commit; the org's templates become exactly the manifest's entries.
//!
//! The manifest (documented in the README, "Operator commands"):
//!
//! ```json
//! {
//!   "version": 1,
//!   "templates": [
//!     { "file": "emails/welcome.html", "name": "Welcome", "subject": "Welcome to Acme",
//!       "channel": "transactional" }
//!   ]
//! }
//! ```
//!
//! A template's slug is its file name (`welcome.html`), unique within the manifest; `version` is
//! the 7-character SHA of the synced commit; `last_modified_at` is the commit time of the last
//! commit at or before it that changed the file.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use sendops_shared::StoreError;
use sendops_shared::control::entities::ReplaceReport;
use sendops_shared::control::templates::Template;
use sendops_shared::store::Store;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

/// The manifest's path at the repository root.
pub const MANIFEST: &str = "sendops.json";

/// Why a template sync failed (nothing is written then).
#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("git {args}: {detail}")]
    Git { args: String, detail: String },
    #[error("{MANIFEST} at {commit}: {detail}")]
    Manifest { commit: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One entry of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path of the template file, relative to the repository root.
    pub file: String,
    /// Display name.
    pub name: String,
    /// Subject line (may hold the template's placeholders).
    pub subject: String,
    /// The channel (configuration-set name) it is sent through.
    #[serde(default)]
    pub channel: Option<String>,
}

/// `sendops.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version; only 1 exists.
    #[serde(default = "one")]
    pub version: u32,
    pub templates: Vec<ManifestEntry>,
}

fn one() -> u32 {
    1
}

/// Runs `git -C repo args…` and returns its stdout.
fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, TemplateError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| TemplateError::Git {
            args: args.join(" "),
            detail: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(TemplateError::Git {
            args: args.join(" "),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

fn git_text(repo: &Path, args: &[&str]) -> Result<String, TemplateError> {
    Ok(String::from_utf8_lossy(&git(repo, args)?).trim().to_owned())
}

/// A repository-relative path without `..`, absolute or empty components.
fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && !p.chars().any(char::is_control)
}

/// Checks a manifest and turns it into templates (without `commit`/`last_modified_ms`).
pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<(String, ManifestEntry)>, String> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if manifest.version != 1 {
        return Err(format!(
            "version {} is not supported (only 1)",
            manifest.version
        ));
    }
    let mut slugs = BTreeSet::new();
    let mut out = Vec::with_capacity(manifest.templates.len());
    for (i, e) in manifest.templates.into_iter().enumerate() {
        let at = format!("templates[{i}]");
        if !valid_path(&e.file) {
            return Err(format!(
                "{at}.file {:?} must be a relative path inside the repository",
                e.file
            ));
        }
        if e.name.trim().is_empty() {
            return Err(format!("{at}.name must not be empty"));
        }
        if e.subject.trim().is_empty() {
            return Err(format!("{at}.subject must not be empty"));
        }
        if let Some(c) = &e.channel
            && (c.is_empty()
                || c.len() > 64
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(format!(
                "{at}.channel {c:?} must be a configuration-set name (1-64 letters, digits, '_' or '-')"
            ));
        }
        let slug = e.file.rsplit('/').next().unwrap_or(&e.file).to_owned();
        if !slugs.insert(slug.clone()) {
            return Err(format!(
                "{at}: another template already has the file name {slug:?} (slugs are file names and must be unique)"
            ));
        }
        out.push((slug, e));
    }
    Ok(out)
}

/// The templates a repository's manifest describes at `git_ref` (default `HEAD`), and the full
/// SHA of that commit.
pub fn read_repository(
    repo: &Path,
    git_ref: Option<&str>,
) -> Result<(String, Vec<Template>), TemplateError> {
    let r = git_ref.unwrap_or("HEAD");
    if r.is_empty() || r.starts_with('-') || r.chars().any(|c| c.is_control() || c == ' ') {
        return Err(TemplateError::Git {
            args: "rev-parse".into(),
            detail: format!("{r:?} is not a git ref"),
        });
    }
    let commit = git_text(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{r}^{{commit}}"),
        ],
    )
    .map_err(|e| match e {
        TemplateError::Git { args, detail } if detail.is_empty() => TemplateError::Git {
            args,
            detail: format!("no commit {r:?} in {}", repo.display()),
        },
        other => other,
    })?;
    let manifest_err = |detail: String| TemplateError::Manifest {
        commit: commit.clone(),
        detail,
    };
    let bytes = git(repo, &["show", &format!("{commit}:{MANIFEST}")])
        .map_err(|_| manifest_err(format!("the commit has no {MANIFEST} at its root")))?;
    let entries = parse_manifest(&bytes).map_err(manifest_err)?;
    let mut out = Vec::with_capacity(entries.len());
    for (slug, e) in entries {
        let kind = git_text(repo, &["cat-file", "-t", &format!("{commit}:{}", e.file)])
            .unwrap_or_default();
        if kind != "blob" {
            return Err(manifest_err(format!(
                "template file {:?} does not exist in the commit",
                e.file
            )));
        }
        let changed = git_text(repo, &["log", "-1", "--format=%ct", &commit, "--", &e.file])?;
        let secs: i64 = changed.parse().map_err(|_| TemplateError::Git {
            args: "log".into(),
            detail: format!("unexpected commit time {changed:?}"),
        })?;
        out.push(Template {
            slug,
            name: e.name.trim().to_owned(),
            subject: e.subject,
            channel: e.channel,
            path: e.file,
            commit: commit.clone(),
            last_modified_ms: secs * 1000,
        });
    }
    Ok((commit, out))
}

/// What a template sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSyncReport {
    pub org: String,
    pub commit: String,
    pub version: String,
    pub templates: ReplaceReport,
    /// Channels the manifest names that no synced channel has (not an error: channels may be
    /// synced later).
    pub unknown_channels: Vec<String>,
}

/// Makes the org's templates exactly the manifest's entries at `git_ref`.
pub async fn sync_templates(
    store: &Store,
    org_id: Uuid,
    org_slug: &str,
    repo: &Path,
    git_ref: Option<&str>,
    now_ms: i64,
) -> Result<TemplateSyncReport, TemplateError> {
    let (commit, templates) = read_repository(repo, git_ref)?;
    let mut unknown_channels = Vec::new();
    let channels: BTreeSet<&str> = templates
        .iter()
        .filter_map(|t| t.channel.as_deref())
        .collect();
    for c in channels {
        if store.channel(org_id, c).await?.is_none() {
            unknown_channels.push(c.to_owned());
        }
    }
    let report = store.replace_templates(org_id, &templates, now_ms).await?;
    Ok(TemplateSyncReport {
        org: org_slug.to_owned(),
        version: commit[..7].to_owned(),
        commit,
        templates: report,
        unknown_channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_checked() {
        let ok = br#"{"templates": [
            {"file": "emails/welcome.html", "name": " Welcome ", "subject": "Hi {{name}}", "channel": "transactional"},
            {"file": "reset.mjml", "name": "Reset", "subject": "Reset your password"}
        ]}"#;
        let entries = parse_manifest(ok).unwrap();
        assert_eq!(entries[0].0, "welcome.html");
        assert_eq!(entries[1].0, "reset.mjml");
        assert_eq!(entries[1].1.channel, None);

        for (bad, needle) in [
            (&br#"{"templates": [{"file": "../x.html", "name": "a", "subject": "b"}]}"#[..], "relative path"),
            (br#"{"templates": [{"file": "/x.html", "name": "a", "subject": "b"}]}"#, "relative path"),
            (br#"{"templates": [{"file": "x.html", "name": "", "subject": "b"}]}"#, "name"),
            (br#"{"templates": [{"file": "x.html", "name": "a", "subject": " "}]}"#, "subject"),
            (br#"{"templates": [{"file": "x.html", "name": "a", "subject": "b", "chanel": "c"}]}"#, "unknown field"),
            (br#"{"templates": [{"file": "a/x.html", "name": "a", "subject": "b"}, {"file": "b/x.html", "name": "a", "subject": "b"}]}"#, "unique"),
            (br#"{"templates": [{"file": "x.html", "name": "a", "subject": "b", "channel": "has space"}]}"#, "configuration-set"),
            (br#"{"version": 2, "templates": []}"#, "version 2"),
            (br#"{"tmpl": []}"#, "unknown field"),
        ] {
            let e = parse_manifest(bad).unwrap_err();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }
}
