//! What an operation may cost, decided from its text before it is
//! validated or runs: every field counted as many times as it can be
//! resolved (a list's fields once per row it can return, nested lists
//! multiplied), the rows that could be fetched, the aliases and the root
//! fields. An operation over a [`Limits`] budget is refused with
//! `COST_LIMIT_EXCEEDED` and runs no SQL; so is one nested deeper than
//! `max_depth`, with `DEPTH_LIMIT_EXCEEDED`.
//!
//! A page's size is its `first` / `last` (or the default page size); a plain
//! list of unknown length counts as a default page, `_entities` as its
//! representations. `@skip` / `@include` are not decided: the bound is for
//! every variable value. The schema's shape comes from its own SDL, so
//! custom fields and federation's are counted like generated ones.

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensionValues, Name, Positioned, ServerError, Value as Gql, Variables,
    parser::types::{
        BaseType, ExecutableDocument, Field, FragmentDefinition, OperationType, Selection,
        SelectionSet, Type, TypeKind, TypeSystemDefinition, VariableDefinition,
    },
};
use graphloom_query::ErrorCode;

/// The budget of one operation. Defaults refuse an amplification attack
/// (10,000 aliases of a 100-row list) and accept any operation of a few
/// nested pages; `u64::MAX` / `usize::MAX` switch a limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Field resolutions (each field once per row it can appear in, times
    /// its weight).
    pub max_cost: u64,
    /// Rows the operation could fetch, every page at its full size.
    pub max_rows: u64,
    /// Aliased fields in the document.
    pub max_aliases: usize,
    /// Lexical tokens in the document (names, punctuators, values),
    /// counted before it is parsed: parsing is the one step whose cost
    /// grows with the text before any other limit can be judged. The
    /// default is Apollo Router's `parser_max_tokens`.
    pub max_tokens: usize,
    /// Fields at the root of the operation.
    pub max_root_fields: usize,
    /// Bytes of one response: of the rows its statements read (a statement
    /// that reads past it stops there, so the rows are never held), and of
    /// its `data` and `errors` as sent. The row budget bounds how many
    /// rows; this bounds how wide they are.
    pub max_response_bytes: u64,
    /// Weights of particular fields (`"Type.field"`), default 1: a custom
    /// field that does expensive work can count as more.
    pub weights: HashMap<String, u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_cost: 50_000,
            max_rows: 25_000,
            max_aliases: 100,
            max_tokens: 15_000,
            max_root_fields: 32,
            max_response_bytes: 16 * 1024 * 1024,
            weights: HashMap::new(),
        }
    }
}

/// What an operation was found to cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub cost: u64,
    pub rows: u64,
    pub depth: usize,
    pub aliases: usize,
    pub root_fields: usize,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            cost: self.cost.saturating_add(other.cost),
            rows: self.rows.saturating_add(other.rows),
            depth: self.depth.max(other.depth),
            aliases: self.aliases,
            root_fields: self.root_fields,
        }
    }

    fn times(self, n: u64) -> Cost {
        Cost {
            cost: self.cost.saturating_mul(n),
            rows: self.rows.saturating_mul(n),
            ..self
        }
    }

    /// As `extensions.cost` shows it.
    pub fn to_value(self, limits: &Limits) -> Gql {
        Gql::from_json(serde_json::json!({
            "cost": self.cost, "maxCost": limits.max_cost,
            "rows": self.rows, "maxRows": limits.max_rows,
            "depth": self.depth,
            "aliases": self.aliases, "maxAliases": limits.max_aliases,
            "rootFields": self.root_fields, "maxRootFields": limits.max_root_fields,
        }))
        .unwrap_or_default()
    }
}

/// A field's result as cost counting needs it.
#[derive(Debug)]
struct FieldInfo {
    /// The named type under any list and non-null wrappers.
    named: String,
    list: bool,
    /// Takes `first` (a connection's page).
    paged: bool,
}

/// The schema's object and interface fields, by type and field name.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    types: HashMap<String, HashMap<String, FieldInfo>>,
    query: String,
    mutation: String,
}

fn unwrap_type(ty: &Type) -> (&str, bool) {
    match &ty.base {
        BaseType::Named(n) => (n.as_str(), false),
        BaseType::List(inner) => (unwrap_type(inner).0, true),
    }
}

impl Shape {
    /// The shape of the schema whose SDL is `sdl`.
    pub(crate) fn from_sdl(sdl: &str) -> Result<Shape, String> {
        let doc = async_graphql::parser::parse_schema(sdl).map_err(|e| e.to_string())?;
        let mut shape = Shape {
            query: "Query".into(),
            mutation: "Mutation".into(),
            ..Shape::default()
        };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Type(t) => {
                    let fields = match &t.node.kind {
                        TypeKind::Object(o) => &o.fields,
                        TypeKind::Interface(i) => &i.fields,
                        _ => continue,
                    };
                    let fields = fields
                        .iter()
                        .map(|f| {
                            let (named, list) = unwrap_type(&f.node.ty.node);
                            let paged =
                                f.node.arguments.iter().any(|a| {
                                    a.node.name.node == "first" || a.node.name.node == "last"
                                });
                            (
                                f.node.name.node.to_string(),
                                FieldInfo {
                                    named: named.to_owned(),
                                    list,
                                    paged,
                                },
                            )
                        })
                        .collect();
                    shape.types.insert(t.node.name.node.to_string(), fields);
                }
                TypeSystemDefinition::Schema(s) => {
                    if let Some(q) = &s.node.query {
                        shape.query = q.node.to_string();
                    }
                    if let Some(m) = &s.node.mutation {
                        shape.mutation = m.node.to_string();
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        Ok(shape)
    }

    fn field(&self, ty: &str, name: &str) -> Option<&FieldInfo> {
        self.types.get(ty)?.get(name)
    }

    fn is_connection(&self, ty: &str) -> bool {
        self.types
            .get(ty)
            .is_some_and(|f| f.contains_key("pageInfo") && f.contains_key("nodes"))
    }
}

/// Counting one operation.
struct Walk<'a> {
    shape: &'a Shape,
    limits: &'a Limits,
    default_page: u64,
    max_page: u64,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    definitions: &'a [Positioned<VariableDefinition>],
    /// A fragment's cost once per row, by name and page (a fragment spread
    /// many times is counted once: costs are linear in the rows above).
    memo: HashMap<(&'a str, u64), Cost>,
    visiting: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn number(&self, value: &Gql) -> Option<u64> {
        match value {
            Gql::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// A literal or variable argument, variables' defaults applied.
    fn argument(&self, field: &'a Field, name: &str) -> Option<Gql> {
        let (_, v) = field.arguments.iter().find(|(n, _)| n.node == name)?;
        v.node
            .clone()
            .into_const_with(|var| {
                self.variables
                    .get(&var)
                    .cloned()
                    .or_else(|| {
                        self.definitions
                            .iter()
                            .find(|d| d.node.name.node == var)
                            .and_then(|d| d.node.default_value.as_ref())
                            .map(|d| d.node.clone())
                    })
                    .ok_or(())
            })
            .ok()
    }

    /// How many rows a list field can return.
    fn page(&self, field: &'a Field, info: &FieldInfo) -> u64 {
        if field.name.node == "_entities" {
            return match self.argument(field, "representations") {
                Some(Gql::Null) | None => self.max_page,
                // One representation where the list is expected is a list of one.
                Some(v) => crate::translate::list(&v).len() as u64,
            };
        }
        if !info.paged {
            return self.default_page;
        }
        let size = |arg| {
            self.argument(field, arg).map(|v| match v {
                Gql::Null => None,
                // A variable without a value: the largest page allowed.
                v => Some(self.number(&v).unwrap_or(self.max_page)),
            })
        };
        match (size("first").flatten(), size("last").flatten()) {
            (None, None) => self.default_page,
            (a, b) => a.unwrap_or(0).max(b.unwrap_or(0)),
        }
    }

    /// The cost of `set` on `ty` for one row; `page` is the page size when
    /// `ty` is a connection (its `nodes` and `edges` are that many rows).
    fn set(&mut self, ty: &str, set: &'a SelectionSet, page: u64) -> Cost {
        let mut cost = Cost::default();
        for item in &set.items {
            let c = match &item.node {
                Selection::Field(f) => self.field(ty, &f.node, page),
                Selection::InlineFragment(f) => {
                    let on = f
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(ty, |c| c.node.on.node.as_str());
                    self.set(on, &f.node.selection_set.node, page)
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    self.fragment(name, page)
                }
            };
            cost = cost.add(c);
        }
        cost
    }

    fn fragment(&mut self, name: &'a str, page: u64) -> Cost {
        if let Some(c) = self.memo.get(&(name, page)) {
            return *c;
        }
        // A cycle is invalid; validation reports it.
        if self.visiting.contains(&name) {
            return Cost::default();
        }
        let Some(def) = self.fragments.get(name) else {
            return Cost::default();
        };
        self.visiting.push(name);
        let on = def.node.type_condition.node.on.node.as_str();
        let c = self.set(on, &def.node.selection_set.node, page);
        self.visiting.pop();
        self.memo.insert((name, page), c);
        c
    }

    fn field(&mut self, ty: &str, field: &'a Field, page: u64) -> Cost {
        let name = field.name.node.as_str();
        let weight = if self.limits.weights.is_empty() {
            1
        } else {
            *self
                .limits
                .weights
                .get(&format!("{ty}.{name}"))
                .unwrap_or(&1)
        };
        let own = Cost {
            cost: weight,
            ..Cost::default()
        };
        if field.selection_set.node.items.is_empty() {
            return own;
        }
        let entities;
        let info = match self.shape.field(ty, name) {
            Some(info) => info,
            // Federation's entry point, wherever the SDL leaves it out.
            None if name == "_entities" => {
                entities = FieldInfo {
                    named: "_Entity".into(),
                    list: true,
                    paged: false,
                };
                &entities
            }
            None => {
                // Introspection, or a field validation will refuse: its
                // depth still counts.
                let mut below = self.set("", &field.selection_set.node, page);
                below.depth += 1;
                return own.add(below);
            }
        };
        // A connection's `nodes` / `edges`: one per row of its page.
        let rows = if self.shape.is_connection(ty) && matches!(name, "nodes" | "edges") {
            page
        } else if info.list {
            // A plain list: its `first` rows (a relation's), or a default page.
            self.page(field, info)
        } else {
            1
        };
        let child_page = if self.shape.is_connection(&info.named) {
            self.page(field, info)
        } else {
            page
        };
        let mut below = self.set(&info.named, &field.selection_set.node, child_page);
        below.depth += 1;
        // A connection object itself is not a row; its nodes are.
        let fetched = if self.shape.is_connection(&info.named) {
            0
        } else {
            rows
        };
        own.add(below.times(rows)).add(Cost {
            rows: fetched,
            ..Cost::default()
        })
    }
}

/// What a request may ask for besides the API itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Access {
    /// `__schema` and `__type`.
    pub(crate) introspection: bool,
    /// `_service` and `_entities`.
    pub(crate) federation: bool,
}

impl Access {
    #[cfg(test)]
    const ALL: Access = Access {
        introspection: true,
        federation: true,
    };
}

/// The validation async-graphql 7 skips on `__typename` (its arguments and
/// directives are never checked), and unique directives per location: a
/// field may not take arguments it does not have, and `@skip` ten thousand
/// times is a request to burn CPU. Without `introspection`, `__schema` and
/// `__type` are refused here rather than by async-graphql's switch, which
/// on a dynamic schema turns federation's `_service` and `_entities` off
/// with them (and a gateway could no longer compose or plan).
pub(crate) fn lint(doc: &ExecutableDocument, access: Access) -> Result<(), ServerError> {
    use async_graphql::parser::types::Directive;
    fn unique(directives: &[Positioned<Directive>]) -> Result<(), ServerError> {
        for (i, d) in directives.iter().enumerate() {
            let name = &d.node.name.node;
            if directives[..i].iter().any(|e| e.node.name.node == *name) {
                return Err(with_code(
                    ServerError::new(
                        format!(
                            "The directive \"@{name}\" can only be used once at this location."
                        ),
                        Some(d.pos),
                    ),
                    ErrorCode::GraphqlValidationFailed,
                ));
            }
        }
        Ok(())
    }
    fn walk(set: &SelectionSet, access: Access) -> Result<(), ServerError> {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    unique(&f.directives)?;
                    if !access.federation
                        && matches!(f.name.node.as_str(), "_service" | "_entities")
                    {
                        return Err(with_code(
                            ServerError::new(
                                format!(
                                    "`{}` is answered for the federation gateway only.",
                                    f.name.node
                                ),
                                Some(f.name.pos),
                            ),
                            ErrorCode::Forbidden,
                        ));
                    }
                    if !access.introspection
                        && matches!(f.name.node.as_str(), "__schema" | "__type")
                    {
                        return Err(with_code(
                            ServerError::new(
                                "Introspection is turned off on this service.",
                                Some(f.name.pos),
                            ),
                            ErrorCode::IntrospectionDisabled,
                        ));
                    }
                    if f.name.node == "__typename"
                        && (!f.arguments.is_empty() || !f.selection_set.node.items.is_empty())
                    {
                        return Err(with_code(
                            ServerError::new(
                                "`__typename` takes no arguments and no selection.",
                                Some(f.name.pos),
                            ),
                            ErrorCode::GraphqlValidationFailed,
                        ));
                    }
                    walk(&f.selection_set.node, access)?;
                }
                Selection::InlineFragment(f) => {
                    unique(&f.node.directives)?;
                    walk(&f.node.selection_set.node, access)?;
                }
                Selection::FragmentSpread(s) => unique(&s.node.directives)?,
            }
        }
        Ok(())
    }
    for (_, op) in doc.operations.iter() {
        unique(&op.node.directives)?;
        walk(&op.node.selection_set.node, access)?;
    }
    for f in doc.fragments.values() {
        unique(&f.node.directives)?;
        walk(&f.node.selection_set.node, access)?;
    }
    Ok(())
}

/// Counts aliases in every operation and fragment of the document.
fn aliases(doc: &ExecutableDocument) -> usize {
    fn walk(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|i| match &i.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + walk(&f.node.selection_set.node)
                }
                Selection::InlineFragment(f) => walk(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    doc.operations
        .iter()
        .map(|(_, op)| walk(&op.node.selection_set.node))
        .chain(
            doc.fragments
                .values()
                .map(|f| walk(&f.node.selection_set.node)),
        )
        .sum()
}

/// The largest cost among the document's operations (only one runs, and
/// the operation name is not known yet when this is decided).
pub(crate) fn cost(
    shape: &Shape,
    limits: &Limits,
    (default_page, max_page): (u64, u64),
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Cost {
    let mut worst = Cost {
        aliases: aliases(doc),
        ..Cost::default()
    };
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => &shape.query,
            OperationType::Mutation => &shape.mutation,
            // No subscriptions yet; validation refuses one.
            OperationType::Subscription => continue,
        };
        let mut walk = Walk {
            shape,
            limits,
            default_page,
            max_page,
            fragments: &doc.fragments,
            variables,
            definitions: &op.node.variable_definitions,
            memo: HashMap::new(),
            visiting: Vec::new(),
        };
        let set = &op.node.selection_set.node;
        let mut c = walk.set(root, set, 1);
        c.depth += 1;
        let roots = set.items.len();
        worst = Cost {
            cost: worst.cost.max(c.cost),
            rows: worst.rows.max(c.rows),
            depth: worst.depth.max(c.depth),
            aliases: worst.aliases,
            root_fields: worst.root_fields.max(roots),
        };
    }
    worst
}

/// `e` with `extensions.code` set to `code` unless it has one: parse and
/// validation errors get the codes Apollo's servers give them.
pub(crate) fn with_code(mut e: ServerError, code: ErrorCode) -> ServerError {
    let ext = e
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if ext.get("code").is_none() {
        ext.set("code", code.as_str());
    }
    e
}

/// A refusal's error: its code, and `extra` (an object) beside it in
/// `extensions`.
pub(crate) fn refusal(code: ErrorCode, message: String, extra: serde_json::Value) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code.as_str());
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            ext.set(k, Gql::from_json(v).unwrap_or_default());
        }
    }
    e.extensions = Some(ext);
    e
}

/// Refuses a document with more than `limits.max_tokens` tokens, before
/// it is parsed (a 500 KB document of 10,000 aliases took 0.13 s to parse
/// in a release build; counting its tokens is a linear scan).
pub(crate) fn check_tokens(text: &str, limits: &Limits) -> Result<(), ServerError> {
    if tokens(text, limits.max_tokens) > limits.max_tokens {
        return Err(refusal(
            ErrorCode::CostLimitExceeded,
            format!(
                "The operation is too expensive: it has more than {} tokens.",
                limits.max_tokens
            ),
            serde_json::json!({ "limit": "tokens", "max": limits.max_tokens }),
        ));
    }
    Ok(())
}

/// The lexical tokens of a GraphQL document (the spec's punctuators,
/// names, numbers and strings; whitespace, commas and comments are
/// ignored), counted up to one past `max`. Text the parser would refuse
/// counts a token per odd byte: the count is a bound, the parser decides.
fn tokens(text: &str, max: usize) -> usize {
    let b = text.as_bytes();
    let word = |c: u8| c == b'_' || c.is_ascii_alphanumeric();
    let (mut i, mut n) = (0, 0);
    while i < b.len() && n <= max {
        let rest = &b[i..];
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && !matches!(b[i], b'\n' | b'\r') {
                    i += 1;
                }
                continue;
            }
            _ if rest.starts_with(b"...") => i += 3,
            _ if rest.starts_with(br#"""""#) => {
                i += 3;
                while i < b.len() {
                    if b[i..].starts_with(br#"\""""#) {
                        i += 4;
                    } else if b[i..].starts_with(br#"""""#) {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && !matches!(b[i], b'"' | b'\n' | b'\r') {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            c if c == b'-' || c.is_ascii_digit() => {
                i += 1;
                while i < b.len()
                    && (word(b[i])
                        || b[i] == b'.'
                        || (matches!(b[i], b'+' | b'-') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
            }
            c if word(c) => {
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        n += 1;
    }
    n
}

/// The first limit `cost` breaks, as the error the client gets.
pub(crate) fn check(cost: &Cost, limits: &Limits, max_depth: usize) -> Result<(), ServerError> {
    let over = |limit: &str, value: u64, max: u64| {
        refusal(
            ErrorCode::CostLimitExceeded,
            format!("The operation is too expensive: {limit} {value} is over the limit of {max}."),
            serde_json::json!({ "limit": limit, "value": value, "max": max }),
        )
    };
    if cost.depth > max_depth {
        return Err(refusal(
            ErrorCode::DepthLimitExceeded,
            format!(
                "The operation is nested {} deep, more than the limit of {max_depth}.",
                cost.depth
            ),
            serde_json::json!({ "value": cost.depth, "max": max_depth }),
        ));
    }
    if cost.aliases > limits.max_aliases {
        return Err(over(
            "aliases",
            cost.aliases as u64,
            limits.max_aliases as u64,
        ));
    }
    if cost.root_fields > limits.max_root_fields {
        return Err(over(
            "rootFields",
            cost.root_fields as u64,
            limits.max_root_fields as u64,
        ));
    }
    if cost.cost > limits.max_cost {
        return Err(over("cost", cost.cost, limits.max_cost));
    }
    if cost.rows > limits.max_rows {
        return Err(over("rows", cost.rows, limits.max_rows));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        type Query { posts(first: Int, last: Int): PostConnection! post(id: ID!): Post
                     _entities(representations: [_Any!]!): [_Entity]! tags: [Tag!]! }
        type PostConnection { nodes: [Post!]! edges: [PostEdge!]! pageInfo: PageInfo! totalCount: Int! }
        type PostEdge { node: Post! cursor: String! }
        type PageInfo { hasNextPage: Boolean! }
        type Post { id: ID! title: String! author: User comments(first: Int): CommentConnection!
                    tags(first: Int): [Tag!]! }
        type CommentConnection { nodes: [Comment!]! pageInfo: PageInfo! }
        type Comment { id: ID! body: String! author: User }
        type User { id: ID! username: String! }
        type Tag { name: String! }
        union _Entity = Post | User
        scalar _Any
    "#;

    fn cost_of(query: &str, vars: serde_json::Value) -> Cost {
        let shape = Shape::from_sdl(SDL).unwrap();
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let vars = Variables::from_json(vars);
        cost(&shape, &Limits::default(), (100, 100), &doc, &vars)
    }

    #[test]
    fn pages_multiply_their_fields_and_rows() {
        let c = cost_of(
            "{ posts(first: 50) { nodes { title author { username } comments(first: 10) { nodes { body } } } } }",
            serde_json::json!({}),
        );
        // posts, nodes, then per post: title, author(+username), comments, nodes, per comment: body.
        assert_eq!(c.cost, 1 + 1 + 50 * (1 + 2 + 1 + 1 + 10));
        // 50 posts, their 50 authors, 500 comments.
        assert_eq!(c.rows, 50 + 50 + 500);
        assert_eq!(c.depth, 5);
        assert_eq!(c.root_fields, 1);
    }

    #[test]
    fn defaults_variables_and_plain_lists() {
        let no_first = cost_of("{ posts { nodes { id } } }", serde_json::json!({}));
        assert_eq!(no_first.rows, 100);
        let var = cost_of(
            "query($n: Int = 7) { posts(last: $n) { edges { node { id } } } }",
            serde_json::json!({}),
        );
        assert_eq!(var.rows, 7 + 7);
        let given = cost_of(
            "query($n: Int = 7) { posts(first: $n) { nodes { id } } }",
            serde_json::json!({ "n": 3 }),
        );
        assert_eq!(given.rows, 3);
        let tags = cost_of("{ tags { name } }", serde_json::json!({}));
        assert_eq!(tags.rows, 100);
        // A relation as a plain list: its `first` rows per parent, else a page.
        let paged = cost_of(
            "{ posts(first: 10) { nodes { tags(first: 5) { name } } } }",
            serde_json::json!({}),
        );
        assert_eq!((paged.cost, paged.rows), (2 + 10 * (1 + 5), 10 + 50));
        let unpaged = cost_of(
            "{ posts(first: 10) { nodes { tags { name } } } }",
            serde_json::json!({}),
        );
        assert_eq!(unpaged.rows, 10 + 10 * 100);
        let entities = cost_of(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Post { title } ... on User { username } } }"#,
            serde_json::json!({ "r": [{}, {}, {}] }),
        );
        assert_eq!(entities.rows, 3);
        assert_eq!(entities.cost, 1 + 3 * 2);
    }

    #[test]
    fn fragments_are_counted_where_spread_and_a_bomb_is_cheap_to_count() {
        let mut q = String::from("fragment F0 on Post { title }\n");
        for i in 1..40 {
            q += &format!("fragment F{i} on Post {{ ...F{p} ...F{p} }}\n", p = i - 1);
        }
        q += "{ post(id: 1) { ...F39 } }";
        let c = cost_of(&q, serde_json::json!({}));
        assert_eq!(c.cost, 1 + (1u64 << 39));
        assert!(check(&c, &Limits::default(), 15).is_err());
    }

    #[test]
    fn typename_takes_nothing_and_directives_are_unique() {
        let lint_of = |q: &str| lint(&async_graphql::parser::parse_query(q).unwrap(), Access::ALL);
        assert!(lint_of("{ __typename post(id: 1) @skip(if: false) { id } }").is_ok());
        let deep = format!("{{ __typename(x: {}1{}) }}", "[".repeat(20), "]".repeat(20));
        let skips = format!("{{ __typename{} }}", " @skip(if: false)".repeat(100));
        for bad in [
            deep.as_str(),
            "{ __typename(x: { a: { b: 1 } }) }",
            "{ __typename { id } }",
            skips.as_str(),
            "{ post(id: 1) @include(if: true) @include(if: true) { id } }",
            "query Q @a @a { post(id: 1) { id } }",
        ] {
            let e = lint_of(bad).unwrap_err();
            let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
            assert_eq!(code, Some(Gql::from("GRAPHQL_VALIDATION_FAILED")), "{bad}");
        }
    }

    #[test]
    fn tokens_are_counted_as_the_spec_lexes_them() {
        let n = |t: &str| tokens(t, usize::MAX);
        assert_eq!(n(""), 0);
        assert_eq!(n("{ post(id: 1) { id } }"), 11);
        assert_eq!(n("query Q($a: [Int!] = [1, -2.5e+3]) { a: f(x: $a) }"), 27);
        assert_eq!(n("{ ...F } # a comment { { {\n fragment F on Q { x }"), 11);
        assert_eq!(n(r#"{ f(s: "a \" { b", t: """ } \""" { """) }"#), 11);
        assert_eq!(n("{ f(s: \"unterminated"), 6);
        // Counting stops one past the limit.
        assert_eq!(tokens(&"{ a }".repeat(1000), 10), 11);
        let limits = Limits {
            max_tokens: 9,
            ..Limits::default()
        };
        let e = check_tokens("{ post(id: 1) { id } }", &limits).unwrap_err();
        let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
        assert_eq!(code, Some(Gql::from("COST_LIMIT_EXCEEDED")));
        assert!(check_tokens("{ post(id: 1) { id } }", &Limits::default()).is_ok());
    }

    #[test]
    fn introspection_off_refuses_schema_and_type_wherever_they_hide() {
        let off = |q: &str| {
            lint(
                &async_graphql::parser::parse_query(q).unwrap(),
                Access {
                    introspection: false,
                    federation: true,
                },
            )
        };
        for ok in [
            "{ __typename _service { sdl } }",
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
        ] {
            assert!(off(ok).is_ok(), "{ok}");
        }
        for bad in [
            "{ __schema { queryType { name } } }",
            "{ __type(name: \"Post\") { name } }",
            "{ ... on Query { __schema { types { name } } } }",
            "query { ...F } fragment F on Query { __type(name: \"Post\") { name } }",
        ] {
            let e = off(bad).unwrap_err();
            let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
            assert_eq!(code, Some(Gql::from("INTROSPECTION_DISABLED")), "{bad}");
            let q = async_graphql::parser::parse_query(bad).unwrap();
            assert!(lint(&q, Access::ALL).is_ok(), "{bad}");
        }
    }

    #[test]
    fn the_amplification_attack_is_refused_and_ordinary_pages_are_not() {
        let one = "posts(first: 100) { nodes { id title } }";
        let mut q = String::from("{");
        for i in 0..10_000 {
            q += &format!(" a{i}: {one}");
        }
        q += " }";
        let c = cost_of(&q, serde_json::json!({}));
        let e = check(&c, &Limits::default(), 15).unwrap_err();
        let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
        assert_eq!(code, Some(Gql::from("COST_LIMIT_EXCEEDED")));
        let ok = cost_of(
            "{ posts(first: 100) { nodes { title comments(first: 100) { nodes { body author { username } } } } } }",
            serde_json::json!({}),
        );
        assert!(check(&ok, &Limits::default(), 15).is_ok(), "{ok:?}");
    }
}
