//! The control plane: orgs ([`org`], [`org_settings`]), API keys and scopes ([`api_key`],
//! [`scopes`]), the audit log ([`audit`]), synced entities ([`entities`]: channels and
//! identities), templates ([`templates`]) and tracking domains ([`tracking`]).

pub mod api_key;
pub mod audit;
pub mod entities;
pub mod org;
pub mod org_settings;
pub mod scopes;
pub mod templates;
pub mod tracking;

use clickhouse::sql::Bind;
use clickhouse::{RowOwned, RowRead};

use crate::store::Store;
use crate::store::error::StoreError;

impl Store {
    /// The first row `sql` selects with `value` bound to its one `?` (`None` when it selects none).
    pub(crate) async fn fetch_optional_by<R: RowOwned + RowRead>(
        &self,
        sql: &str,
        value: impl Bind + Send,
    ) -> Result<Option<R>, StoreError> {
        Ok(self
            .client()
            .query(sql)
            .bind(value)
            .fetch_optional()
            .await?)
    }

    /// Every row `sql` selects with `value` bound to its one `?`.
    pub(crate) async fn fetch_all_by<R: RowOwned + RowRead>(
        &self,
        sql: &str,
        value: impl Bind + Send,
    ) -> Result<Vec<R>, StoreError> {
        Ok(self.client().query(sql).bind(value).fetch_all().await?)
    }
}
