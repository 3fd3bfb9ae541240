//! Test support (feature `testing`): a fresh, migrated database per test on the real local
//! ClickHouse, named after the test so parallel tests never share state.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::Store;
use crate::control::org::{NewOrg, Org, Plan};
use crate::store::config::ClickHouseConfig;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Prefix of every test database (`make test` drops leftovers of crashed runs).
pub const TEST_DB_PREFIX: &str = "sendops_test_";

/// A migrated database of its own for one test. Call [`TestDb::drop`] at the end.
pub struct TestDb {
    pub store: Store,
    pub config: ClickHouseConfig,
}

impl TestDb {
    /// Creates and migrates `sendops_test_<name>_<pid>_<n>` on `CLICKHOUSE_URL` (on the cluster
    /// `CLICKHOUSE_CLUSTER` names, when set: `make test-cluster`).
    pub async fn new(name: &str) -> TestDb {
        TestDb::new_on(name, &ClickHouseConfig::from_env()).await
    }

    /// [`TestDb::new`] on the server (and cluster, if any) of `base`.
    pub async fn new_on(name: &str, base: &ClickHouseConfig) -> TestDb {
        let db = TestDb::unmigrated_on(name, base);
        db.store.migrate().await.unwrap_or_else(|e| {
            panic!(
                "cannot migrate test database {} at {}: {e}. Start the local server with scripts/clickhouse.sh start (make test does).",
                db.config.database, db.config.url
            )
        });
        db
    }

    /// A name and store for `sendops_test_<name>_<pid>_<n>`, without creating the database
    /// (migration tests run the runner themselves). [`TestDb::drop`] drops it if it was created.
    pub fn unmigrated(name: &str) -> TestDb {
        TestDb::unmigrated_on(name, &ClickHouseConfig::from_env())
    }

    /// [`TestDb::unmigrated`] on the server (and cluster, if any) of `base`.
    pub fn unmigrated_on(name: &str, base: &ClickHouseConfig) -> TestDb {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let db = format!(
            "{TEST_DB_PREFIX}{clean}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let config = base.with_database(&db);
        let store = Store::new(&config);
        TestDb { store, config }
    }

    pub async fn drop(self) {
        let _ = self.store.drop_database().await;
    }
}

/// Creates the org `slug` (named "Org <slug>", region us-east-1) for SES account `account` on
/// `plan`; panics if it cannot.
pub async fn create_test_org(store: &Store, slug: &str, account: &str, plan: Plan) -> Org {
    store
        .create_org(NewOrg {
            name: format!("Org {slug}"),
            slug: slug.into(),
            aws_account_id: account.into(),
            region: "us-east-1".into(),
            plan,
        })
        .await
        .unwrap_or_else(|e| panic!("create org {slug}: {e}"))
}

/// Runs a statement that returns nothing; panics naming the statement if it fails.
pub async fn exec(store: &Store, sql: &str) {
    store
        .client()
        .query(sql)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}
