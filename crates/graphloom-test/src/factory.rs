//! Factories: rows for tests with sensible defaults, so a test names only
//! what it is about (factory_boy's idea, over the model API).

use std::sync::atomic::{AtomicU64, Ordering};

use graphloom::{
    meta::FromRow,
    query::{Assign, Ctx, Result},
};

/// Makes rows of `M`: `defaults(n)` gives the values of the `n`th row
/// (from 1, so unique fields can differ: `format!("user{n}")`), and each
/// [`create`](Factory::create) may override some of them.
///
/// Rows are written through the model API as the context given, so
/// validation, defaults, presets and permission rules apply as in the
/// service; use [`TestClient::system`](crate::TestClient::system) to write
/// without rules.
pub struct Factory<M> {
    defaults: Box<dyn Fn(u64) -> Vec<Assign<M>> + Send + Sync>,
    next: AtomicU64,
}

impl<M> std::fmt::Debug for Factory<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory")
            .field("model", &std::any::type_name::<M>())
            .field("next", &self.next)
            .finish()
    }
}

impl<M: FromRow> Factory<M> {
    pub fn new(defaults: impl Fn(u64) -> Vec<Assign<M>> + Send + Sync + 'static) -> Self {
        Factory {
            defaults: Box::new(defaults),
            next: AtomicU64::new(1),
        }
    }

    /// The next sequence number (what the next row's defaults get).
    pub fn peek(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    /// Creates one row: the defaults, then `overrides` (a later value for a
    /// field replaces the default). Returns it as stored.
    pub async fn create(
        &self,
        ctx: &Ctx,
        overrides: impl IntoIterator<Item = Assign<M>>,
    ) -> Result<M> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let values = (self.defaults)(n).into_iter().chain(overrides);
        graphloom::query::QuerySet::<M>::new(ctx)
            .create(values)
            .await
    }

    /// Creates `count` rows with the defaults alone, one after another (so
    /// each is its own statement and gets its own generated values).
    pub async fn create_batch(&self, ctx: &Ctx, count: usize) -> Result<Vec<M>> {
        let mut rows = Vec::with_capacity(count);
        for _ in 0..count {
            rows.push(self.create(ctx, []).await?);
        }
        Ok(rows)
    }
}
