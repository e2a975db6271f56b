//! The plan of one selection over models, as plain data: which columns,
//! which relations, which filters, order and window. Surfaces build it
//! (GraphQL from a root field's look-ahead, the model API from a queryset)
//! before any SQL runs, so it can be printed, tested and priced alone.

use std::collections::BTreeSet;

use graphloom_meta::{ModelId, ModelMeta, Registry, RelationKind};

use crate::{
    Error, ErrorCode, Result, cursor,
    filter::{Filter, OrderTerm},
    scope::{Scope, check_filter, check_order},
};

/// What to fetch of one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodePlan {
    /// Field indices of the model; always holds the primary key.
    pub columns: BTreeSet<usize>,
    pub children: Vec<ChildPlan>,
}

/// One relation edge under a node, keyed by its response key (alias or name).
#[derive(Debug, Clone, PartialEq)]
pub struct ChildPlan {
    pub key: std::sync::Arc<str>,
    pub relation: usize,
    pub target: ModelId,
    pub fetch: ChildFetch,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChildFetch {
    One(NodePlan),
    Many(ListPlan),
}

/// A list: its filter, order and window, what each node needs, and whether
/// the total is wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    pub filter: Option<Filter>,
    pub order: Vec<OrderTerm>,
    pub window: Window,
    pub node: NodePlan,
    pub want_total: bool,
    /// Whether any row is wanted: not for a connection that only counts
    /// (`comments { totalCount }`), whose rows are then never read.
    pub want_rows: bool,
}

/// The rows of an ordered list to return, as 0-based offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Rows before this offset are skipped.
    pub start: u64,
    /// Rows from this offset on are not returned (one more is fetched to learn `hasNextPage`).
    pub end: Option<u64>,
    /// `last` without `before`: the final `n` rows before `end`, or before the total when `end` is open.
    pub last: Option<u64>,
}

impl Window {
    /// At most this many rows come back (the extra row that tells whether a
    /// next page exists included); `None`: unbounded.
    pub fn max_rows(&self) -> Option<u64> {
        match (self.end, self.last) {
            (_, Some(n)) => Some(n),
            (Some(e), None) => Some(e.saturating_sub(self.start).saturating_add(1)),
            (None, None) => None,
        }
    }
}

/// The limits pagination applies.
#[derive(Debug, Clone)]
pub struct PageLimits {
    /// The largest `first` / `last` a client may ask for.
    pub max_page_size: u64,
    /// Rows returned when neither `first` nor `last` is given.
    pub default_page_size: u64,
    /// Signs cursors.
    pub cursor_key: Vec<u8>,
}

/// Pagination as a client asks for it: Relay's `first`/`after`/`last`/
/// `before` (cursors as given) and an `offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageArgs {
    pub first: Option<u64>,
    pub after: Option<String>,
    pub last: Option<u64>,
    pub before: Option<String>,
    pub offset: Option<u64>,
}

impl PageArgs {
    /// The window these arguments select in `model`'s lists, within `limits`.
    pub fn window(&self, limits: &PageLimits, model: &ModelMeta) -> Result<Window> {
        let max = limits.max_page_size;
        for (name, n) in [("first", self.first), ("last", self.last)] {
            if let Some(n) = n.filter(|n| *n > max) {
                return Err(Error::new(
                    ErrorCode::PageSizeExceeded,
                    format!("`{name}` is {n} but at most {max} rows can be asked for at once"),
                ));
            }
        }
        if self.first.is_some() && self.last.is_some() {
            return Err(Error::bad_input("give `first` or `last`, not both"));
        }
        let cursor_arg = |name: &str, c: &Option<String>| -> Result<Option<u64>> {
            match c {
                None => Ok(None),
                Some(s) => cursor::decode(&limits.cursor_key, &model.graphql_name, s)
                    .map(Some)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::InvalidCursor,
                            format!("`{name}` is not a valid cursor for {}", model.plural_name),
                        )
                    }),
            }
        };
        let after = cursor_arg("after", &self.after)?;
        let before = cursor_arg("before", &self.before)?;
        let mut start = after
            .map_or(0, |a| a + 1)
            .saturating_add(self.offset.unwrap_or(0));
        let mut end = before;
        if let Some(n) = self.first {
            let e = start.saturating_add(n);
            end = Some(end.map_or(e, |b| b.min(e)));
        }
        let mut last_open = None;
        if let Some(n) = self.last {
            match end {
                Some(e) => start = start.max(e.saturating_sub(n)),
                None => last_open = Some(n),
            }
        }
        if self.first.is_none() && self.last.is_none() {
            let e = start.saturating_add(limits.default_page_size.min(max));
            end = Some(end.map_or(e, |b| b.min(e)));
        }
        if let Some(e) = end {
            start = start.min(e);
        }
        Ok(Window {
            start,
            end,
            last: last_open,
        })
    }
}

/// What a plan costs, known before any SQL runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// SQL statements at most: one per list or lookup, one per relation
    /// edge, one more per total (and per root `last`, which needs the count).
    pub statements: u64,
    /// Rows fetched at most, over every statement (saturating; an unbounded
    /// list counts as `u64::MAX`).
    pub rows: u64,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            statements: self.statements.saturating_add(other.statements),
            rows: self.rows.saturating_add(other.rows),
        }
    }
}

impl NodePlan {
    /// The plan of one row: the primary key and the columns field rules read.
    pub fn of(scope: &Scope, model: &ModelMeta) -> Result<NodePlan> {
        scope.can_view(model)?;
        let mut plan = NodePlan::default();
        plan.columns.extend(model.pk.iter().copied());
        // Field rules that depend on the row read these columns.
        plan.columns.extend(scope.rule_columns(model));
        Ok(plan)
    }

    /// Every stored column of the model.
    pub fn all_columns(scope: &Scope, model: &ModelMeta) -> Result<NodePlan> {
        let mut plan = NodePlan::of(scope, model)?;
        plan.columns.extend(0..model.fields.len());
        Ok(plan)
    }

    /// Adds a relation edge (or merges it into the edge of the same key),
    /// with the columns the parent must hold to attach it.
    pub fn add_child(&mut self, reg: &Registry, model: &ModelMeta, child: ChildPlan) {
        let rel = &model.relations[child.relation];
        self.columns.insert(rel.join.source);
        if let RelationKind::ForwardOne { field } = rel.kind {
            // The local copies of the target's fields (@provides).
            let provided = model.provided_through(reg, field);
            self.columns
                .extend(provided.into_iter().map(|(local, _)| local));
        }
        match self.children.iter_mut().find(|c| c.key == child.key) {
            None => self.children.push(child),
            Some(existing) => match (&mut existing.fetch, child.fetch) {
                (ChildFetch::One(a), ChildFetch::One(b)) => a.merge(b),
                (ChildFetch::Many(a), ChildFetch::Many(b)) => {
                    a.want_total |= b.want_total;
                    a.want_rows |= b.want_rows;
                    a.node.merge(b.node);
                }
                // One response key never names two different fields.
                (_, _) => {}
            },
        }
    }

    /// Merges another plan of the same model into this one.
    pub fn merge(&mut self, other: NodePlan) {
        self.columns.extend(other.columns);
        for c in other.children {
            match self.children.iter_mut().find(|x| x.key == c.key) {
                None => self.children.push(c),
                Some(existing) => match (&mut existing.fetch, c.fetch) {
                    (ChildFetch::One(a), ChildFetch::One(b)) => a.merge(b),
                    (ChildFetch::Many(a), ChildFetch::Many(b)) => {
                        a.want_total |= b.want_total;
                        a.want_rows |= b.want_rows;
                        a.node.merge(b.node);
                    }
                    (_, _) => {}
                },
            }
        }
    }

    /// The cost of loading this node's relations under `parents` rows.
    pub fn cost_under(&self, parents: u64) -> Cost {
        let mut cost = Cost::default();
        for child in &self.children {
            cost = cost.add(match &child.fetch {
                ChildFetch::One(node) => Cost {
                    statements: 1,
                    rows: parents,
                }
                .add(node.cost_under(parents)),
                // Only counted: no row comes back.
                ChildFetch::Many(list) if !list.want_rows => Cost {
                    statements: u64::from(list.want_total),
                    rows: 0,
                },
                ChildFetch::Many(list) => {
                    let rows = list
                        .window
                        .max_rows()
                        .map_or(u64::MAX, |r| r.saturating_mul(parents));
                    Cost {
                        statements: 1 + u64::from(list.want_total),
                        rows,
                    }
                    .add(list.node.cost_under(rows))
                }
            });
        }
        cost
    }

    /// The cost of one row with this plan (a lookup).
    pub fn cost(&self) -> Cost {
        Cost {
            statements: 1,
            rows: 1,
        }
        .add(self.cost_under(1))
    }
}

impl ListPlan {
    /// A list of `model` rows: the filter and order checked against the
    /// principal's rights and the capability table.
    pub fn new(
        reg: &Registry,
        scope: &Scope,
        model: &ModelMeta,
        filter: Option<Filter>,
        order: Vec<OrderTerm>,
        window: Window,
    ) -> Result<ListPlan> {
        let node = NodePlan::of(scope, model)?;
        if let Some(f) = &filter {
            check_filter(reg, scope, model, f)?;
        }
        check_order(reg, scope, &order)?;
        Ok(ListPlan {
            filter,
            order,
            window,
            node,
            want_total: false,
            want_rows: true,
        })
    }

    /// The cost of this list at the root.
    pub fn cost(&self) -> Cost {
        let count = u64::from(self.want_total || self.window.last.is_some());
        if !self.want_rows {
            return Cost {
                statements: count,
                rows: 0,
            };
        }
        let rows = self.window.max_rows().unwrap_or(u64::MAX);
        Cost {
            statements: 1 + count,
            rows,
        }
        .add(self.node.cost_under(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(end: Option<u64>, want_total: bool, node: NodePlan) -> ListPlan {
        ListPlan {
            filter: None,
            order: Vec::new(),
            window: Window {
                start: 0,
                end,
                last: None,
            },
            node,
            want_total,
            want_rows: true,
        }
    }

    #[test]
    fn cost_counts_statements_and_bounds_rows() {
        // posts(first: 50) { comments(first: 10) { totalCount author } author }
        let author = ChildPlan {
            key: "author".into(),
            relation: 0,
            target: ModelId(0),
            fetch: ChildFetch::One(NodePlan::default()),
        };
        let comments = ChildPlan {
            key: "comments".into(),
            relation: 1,
            target: ModelId(2),
            fetch: ChildFetch::Many(list(
                Some(10),
                true,
                NodePlan {
                    children: vec![author.clone()],
                    ..NodePlan::default()
                },
            )),
        };
        let posts = list(
            Some(50),
            false,
            NodePlan {
                children: vec![comments, author],
                ..NodePlan::default()
            },
        );
        let cost = posts.cost();
        // posts, comments, their total, comment authors, post authors.
        assert_eq!(cost.statements, 5);
        // 51 posts, 51 × 11 comments, as many comment authors, 51 post authors.
        assert_eq!(cost.rows, 51 + 561 + 561 + 51);
        assert_eq!(list(None, true, NodePlan::default()).cost().rows, u64::MAX);
        assert_eq!(
            NodePlan::default().cost(),
            Cost {
                statements: 1,
                rows: 1
            }
        );
    }
}
