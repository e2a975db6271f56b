//! The model API: `Post::objects(&ctx)` is a [`QuerySet`], Django's manager
//! for Rust. It plans and runs through the same engine as every surface,
//! under the context's rules: the rows a principal may see, the writes it
//! may make, the fields it may filter on, presets, validators, `auto_now`.
//! Only a context made with [`Ctx::system`] (or [`Ctx::as_system`]) acts
//! without rules.

use std::{fmt, marker::PhantomData, sync::Arc};

use graphloom_meta::{
    FromRow, ManyToMany, ModelKey, ModelMeta, RelationKind, RowReader, ToRow, Value,
};

use graphloom_db::Exec;

use crate::{
    Ctx, Error, Result, Row,
    exec::{self, Child, Node},
    filter::Filter,
    plan::{ChildFetch, ChildPlan, Cost, ListPlan, NodePlan, Window},
    typed::{Assign, Change, Column, Cond, Order, Where},
    write::{self, LinkChange, Outcome, WriteInput},
};

/// What [`QuerySet::create_many`] does with a row that breaks a unique constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflicts {
    /// Refuse them all (`UNIQUE`), nothing is written.
    Fail,
    /// Skip that row.
    Ignore,
}

/// A lazy query over rows of `M`: conditions, order and a window, run by
/// one of its async methods.
pub struct QuerySet<'c, M> {
    ctx: &'c Ctx,
    filters: Vec<Cond>,
    order: Vec<Order<M>>,
    offset: u64,
    limit: Option<u64>,
    prefetch: Vec<&'static str>,
    _model: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for QuerySet<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuerySet")
            .field("filters", &self.filters)
            .field("order", &self.order)
            .field("offset", &self.offset)
            .field("limit", &self.limit)
            .finish()
    }
}

impl<'c, M: FromRow> QuerySet<'c, M> {
    /// Every row of `M` the context may see. `#[derive(Model)]` gives each
    /// model `M::objects(&ctx)` for this.
    pub fn new(ctx: &'c Ctx) -> Self {
        QuerySet {
            ctx,
            filters: Vec::new(),
            order: Vec::new(),
            offset: 0,
            limit: None,
            prefetch: Vec::new(),
            _model: PhantomData,
        }
    }

    /// Keeps the rows that match (every `filter` must hold).
    pub fn filter(mut self, w: Where<M>) -> Self {
        self.filters.push(w.cond);
        self
    }

    /// Drops the rows that match.
    pub fn exclude(mut self, w: Where<M>) -> Self {
        self.filters.push(Cond::Not(Box::new(w.cond)));
        self
    }

    /// Sorts by one more key; the primary key always breaks ties last.
    pub fn order_by(mut self, o: Order<M>) -> Self {
        self.order.push(o);
        self
    }

    /// At most `n` rows.
    pub fn first(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }

    /// Loads the keys of a many-to-many relation with the rows (one more
    /// statement, whatever their number); otherwise the struct's field is empty.
    pub fn prefetch<T>(mut self, relation: Column<M, ManyToMany<T>>) -> Self {
        self.prefetch.push(relation.name());
        self
    }

    fn model(&self) -> Result<&'c ModelMeta> {
        self.ctx
            .registry()
            .by_key(ModelKey::of::<M>())
            .ok_or_else(|| {
                Error::internal(format!("model {} is not registered", ModelKey::of::<M>()))
            })
    }

    fn filter_of(&self, m: &ModelMeta) -> Result<Option<Filter>> {
        let reg = self.ctx.registry();
        let parts = self
            .filters
            .iter()
            .map(|c| c.resolve(reg, m))
            .collect::<Result<Vec<_>>>()?;
        Ok(Filter::all(parts))
    }

    /// The plan the queryset runs: every stored column, the prefetched
    /// relations, checked against the rules. Inspect it, or price it with
    /// [`ListPlan::cost`], before any SQL runs.
    pub fn plan(&self) -> Result<ListPlan> {
        let m = self.model()?;
        let reg = self.ctx.registry();
        let scope = self.ctx.scope();
        let order = self
            .order
            .iter()
            .map(|o| o.resolve(reg, m))
            .collect::<Result<Vec<_>>>()?;
        let window = Window {
            start: self.offset,
            end: self.limit.map(|n| self.offset.saturating_add(n)),
            last: None,
        };
        let mut plan = ListPlan::new(reg, scope, m, self.filter_of(m)?, order, window)?;
        plan.node = NodePlan::all_columns(scope, m)?;
        for name in &self.prefetch {
            let ri = m
                .relations
                .iter()
                .position(|r| {
                    r.declared_by == (m.id, *name)
                        && matches!(r.kind, RelationKind::ManyToMany { forward: true, .. })
                })
                .ok_or_else(|| {
                    Error::internal(format!("{} has no many-to-many `{name}`", m.key))
                })?;
            let target = reg.model(m.relations[ri].target);
            let list = ListPlan::new(
                reg,
                scope,
                target,
                None,
                Vec::new(),
                Window {
                    start: 0,
                    end: None,
                    last: None,
                },
            )?;
            plan.node.add_child(
                reg,
                m,
                ChildPlan {
                    key: (*name).into(),
                    relation: ri,
                    target: target.id,
                    fetch: ChildFetch::Many(list),
                },
            );
        }
        Ok(plan)
    }

    /// What [`QuerySet::all`] would cost.
    pub fn cost(&self) -> Result<Cost> {
        self.plan().map(|p| p.cost())
    }

    fn build(&self, m: &ModelMeta, node: Node) -> Result<M> {
        let reg = self.ctx.registry();
        let many = self
            .prefetch
            .iter()
            .map(|name| {
                let keys = match node.children.get(name) {
                    Some(Child::Many(page)) => page.items.iter().map(|(_, n)| n.pk(reg)).collect(),
                    _ => Vec::new(),
                };
                (*name, keys)
            })
            .collect();
        M::from_row(RowReader::new(m, node.values, many)).map_err(Error::internal)
    }

    /// The page of nodes this queryset plans.
    async fn page(&self, m: &ModelMeta) -> Result<exec::Page> {
        let plan = self.plan()?;
        exec::fetch_list(
            self.ctx.engine(),
            &mut Exec::pool(self.ctx.db()),
            self.ctx.scope(),
            m,
            &plan,
        )
        .await
    }

    /// The rows, as the model's struct.
    pub async fn all(self) -> Result<Vec<M>> {
        let m = self.model()?;
        let page = self.page(m).await?;
        page.items
            .into_iter()
            .map(|(_, n)| self.build(m, Arc::unwrap_or_clone(n)))
            .collect()
    }

    /// The rows as dynamic [`Row`]s, every stored field by Rust name.
    pub async fn rows(self) -> Result<Vec<Row>> {
        let m = self.model()?;
        let page = self.page(m).await?;
        let all: Vec<usize> = (0..m.fields.len()).collect();
        Ok(page
            .items
            .iter()
            .map(|(_, n)| Row::of(m, &n.values, &all))
            .collect())
    }

    /// The primary keys of the rows, in order (only the key is fetched).
    pub async fn keys(self) -> Result<Vec<Value>> {
        let m = self.model()?;
        let mut plan = self.plan()?;
        plan.node = NodePlan::of(self.ctx.scope(), m)?;
        let page = exec::fetch_list(
            self.ctx.engine(),
            &mut Exec::pool(self.ctx.db()),
            self.ctx.scope(),
            m,
            &plan,
        )
        .await?;
        let reg = self.ctx.registry();
        Ok(page.items.iter().map(|(_, n)| n.pk(reg)).collect())
    }

    /// The first row, if any (Django's `.first()`).
    pub async fn one(self) -> Result<Option<M>> {
        Ok(self.first(1).all().await?.pop())
    }

    /// The row whose primary key is `key`; `NOT_FOUND` when there is none
    /// (or the context may not see it). A composite key is a tuple of its
    /// fields' values in key order: `.get((user_id, group_id))`.
    pub async fn get(self, key: impl Into<Value>) -> Result<M> {
        let m = self.model()?;
        let key = key.into();
        if key.parts().len() != m.pk.len() {
            return Err(Error::bad_input(format!(
                "{} is keyed by {} values; got {}",
                m.graphql_name,
                m.pk.len(),
                key.parts().len()
            )));
        }
        let plan = self.plan()?;
        let by_key =
            m.pk.iter()
                .zip(key.parts())
                .map(|(&field, v)| Filter::Field {
                    field,
                    op: graphloom_meta::Op::Eq,
                    value: crate::filter::FilterValue::One(v.clone()),
                });
        let filter = Filter::all(plan.filter.clone().into_iter().chain(by_key).collect());
        let plan = ListPlan {
            filter,
            window: Window {
                start: 0,
                end: None,
                last: None,
            },
            ..plan
        };
        let page = exec::fetch_list(
            self.ctx.engine(),
            &mut Exec::pool(self.ctx.db()),
            self.ctx.scope(),
            m,
            &plan,
        )
        .await?;
        match page.items.into_iter().next() {
            Some((_, n)) => self.build(m, Arc::unwrap_or_clone(n)),
            None => Err(Error::not_found(format!(
                "No {} with id {}.",
                m.graphql_name,
                key.key_string()
            ))),
        }
    }

    /// How many rows match (the window applied as Django's slicing does).
    pub async fn count(self) -> Result<i64> {
        let m = self.model()?;
        let plan = self.plan()?;
        let n = exec::count(
            self.ctx.engine(),
            &mut Exec::pool(self.ctx.db()),
            self.ctx.scope(),
            m,
            plan.filter.as_ref(),
        )
        .await?;
        let skip = i64::try_from(self.offset).unwrap_or(i64::MAX);
        let n = n.saturating_sub(skip).max(0);
        Ok(match self.limit {
            Some(l) => n.min(i64::try_from(l).unwrap_or(i64::MAX)),
            None => n,
        })
    }

    /// Whether any row matches.
    pub async fn exists(self) -> Result<bool> {
        let m = self.model()?;
        let plan = self.plan()?;
        exec::exists(
            self.ctx.engine(),
            &mut Exec::pool(self.ctx.db()),
            self.ctx.scope(),
            m,
            plan.filter.as_ref(),
        )
        .await
    }

    fn input(
        &self,
        m: &ModelMeta,
        values: impl IntoIterator<Item = Assign<M>>,
    ) -> Result<WriteInput> {
        let mut input = WriteInput::default();
        for a in values {
            match a.change {
                Change::Value(name, v) => {
                    let (i, _) = m.field(name).ok_or_else(|| {
                        Error::internal(format!("{} has no field `{name}`", m.key))
                    })?;
                    input.values.insert(i, v);
                }
                Change::Links {
                    name,
                    set,
                    add,
                    remove,
                } => {
                    let relation = m
                        .relations
                        .iter()
                        .position(|r| {
                            r.declared_by == (m.id, name)
                                && matches!(r.kind, RelationKind::ManyToMany { forward: true, .. })
                        })
                        .ok_or_else(|| {
                            Error::internal(format!("{} has no many-to-many `{name}`", m.key))
                        })?;
                    input.links.push(LinkChange {
                        relation,
                        set,
                        add,
                        remove,
                    });
                }
            }
        }
        Ok(input)
    }

    /// Creates one row from `values` (defaults, presets and `auto_now`
    /// fill the rest) and returns it as stored. Refused input is a
    /// `BAD_USER_INPUT` error whose `fields` say why.
    pub async fn create(self, values: impl IntoIterator<Item = Assign<M>>) -> Result<M> {
        let m = self.model()?;
        let input = self.input(m, values)?;
        let linked: Vec<(&'static str, Vec<Value>)> = input
            .links
            .iter()
            .map(|l| {
                let mut keys: Vec<Value> = l.set.iter().flatten().chain(&l.add).cloned().collect();
                let mut seen = std::collections::HashSet::new();
                keys.retain(|k| seen.insert(k.key_string()));
                (m.relations[l.relation].declared_by.1, keys)
            })
            .collect();
        match write::create(self.ctx.engine(), self.ctx.scope(), m, input, None).await? {
            Outcome::Written { row, .. } => {
                M::from_row(RowReader::new(m, row, linked)).map_err(Error::internal)
            }
            Outcome::Refused(errors) => Err(Error::refused(errors)),
        }
    }

    /// Creates many rows in one transaction and as few INSERTs as the
    /// database's parameter limit allows (Django's `bulk_create`); with
    /// [`Conflicts::Ignore`] rows that would break a unique constraint are
    /// skipped. Returns how many were inserted. Refused input names the row
    /// by its position (`["3", "title"]`).
    pub async fn create_many<I>(
        self,
        rows: impl IntoIterator<Item = I>,
        conflicts: Conflicts,
    ) -> Result<u64>
    where
        I: IntoIterator<Item = Assign<M>>,
    {
        let m = self.model()?;
        let inputs = rows
            .into_iter()
            .map(|r| self.input(m, r))
            .collect::<Result<Vec<_>>>()?;
        write::create_many(
            self.ctx.engine(),
            self.ctx.scope(),
            m,
            inputs,
            conflicts == Conflicts::Ignore,
        )
        .await?
        .map_err(Error::refused)
    }

    /// Changes every matching row the context may change (rows the update
    /// rule excludes are left alone) in one transaction, after the model's
    /// validation of each; returns how many changed.
    pub async fn update(self, values: impl IntoIterator<Item = Assign<M>>) -> Result<u64> {
        let m = self.model()?;
        let plan = self.plan()?;
        let input = self.input(m, values)?;
        write::update_where(self.ctx.engine(), self.ctx.scope(), m, plan.filter, input)
            .await?
            .map_err(Error::refused)
    }

    /// Changes the row `row` holds (one fetched earlier), if it still
    /// matches the queryset and the context may change it: the model's
    /// validation runs on `row` with the changes applied, in memory, so
    /// this is one UPDATE (Django's `save(update_fields=…)`). Returns 1, or
    /// 0 when the row is gone or out of reach.
    pub async fn update_row(
        self,
        row: &M,
        values: impl IntoIterator<Item = Assign<M>>,
    ) -> Result<u64>
    where
        M: ToRow,
    {
        let m = self.model()?;
        let plan = self.plan()?;
        let input = self.input(m, values)?;
        let mut known = std::collections::BTreeMap::new();
        for (name, v) in row.to_row() {
            if let Some((i, _)) = m.field(name) {
                known.insert(i, v);
            }
        }
        write::update_known(
            self.ctx.engine(),
            self.ctx.scope(),
            m,
            known,
            plan.filter,
            input,
        )
        .await?
        .map_err(Error::refused)
    }

    /// Deletes every matching row the context may delete; returns how many
    /// went. Rows that others protect (`on_delete = protect`) stop it all.
    pub async fn delete(self) -> Result<u64> {
        let m = self.model()?;
        let plan = self.plan()?;
        write::delete_where(self.ctx.engine(), self.ctx.scope(), m, plan.filter)
            .await?
            .map_err(Error::refused)
    }
}
