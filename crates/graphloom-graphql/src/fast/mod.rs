//! The fast path: a query whose root fields are all generated lookups and
//! lists, or federation's `_entities` for models (this service's own, and
//! other services' entities it extends), and `__typename`; or a mutation
//! whose root fields are all generated creates, updates and deletes. It
//! runs from its plan and is written straight into the response JSON,
//! without a resolver per field.
//!
//! async-graphql parses and validates a document the first time; this
//! extension takes over at execution, and a document seen before skips
//! async-graphql altogether ([`Factory::run_known`]). Everything else
//! (introspection, `_service`, value types in `_entities`, custom root
//! fields, computed fields with arguments, subscriptions) runs through the
//! resolvers. Both paths plan, fetch and write with the same functions, so
//! they send the same statements; the blog's `fast_path` tests hold them
//! to the same responses, errors included.

mod collect;
mod known;
mod shape;
mod write;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Instant, SystemTime},
};

use async_graphql::{
    PathSegment, Positioned, QueryPathNode, QueryPathSegment, Response, ServerError, ServerResult,
    ValidationResult, Value as Gql, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
        NextResolve, NextValidation, ResolveInfo,
    },
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    },
    registry::Registry,
};
use futures_util::future::join_all;
use graphloom_meta::{ModelId, ModelMeta};
use graphloom_query::{
    Ctx, ErrorCode, RequestContext, Result,
    exec::{Child, Node, Page},
    scope::Scope,
    write::Expected,
};

use self::{
    collect::{Collected, Doc, collect},
    known::{Documents, Known},
    shape::{Field, Kind},
    write::{Computed, Writer, node_id},
};
use crate::{
    convert::json_into,
    cost,
    federation::{Entity, Local},
    runtime::Runtime,
    schema::{
        payloads::{MutationResult, Payload},
        resolvers::{Args, Verb, fetch_lookup, fetch_page, lookups, mutation_name, run_mutation},
    },
    trace,
    translate::Selection as _,
};

/// A root field the fast path answers.
enum Root {
    /// `post(id:)`: the row whose fields `fields` (one unique field, or a
    /// composite key's) are the arguments `args`.
    Lookup {
        model: ModelId,
        fields: Vec<usize>,
        args: Vec<String>,
    },
    /// `posts(…)`: a page.
    List { model: ModelId },
    /// Federation's `_entities(representations:)`, when every
    /// representation names a model (not a value type).
    Entities,
}

/// What the fast path wrote: the `data` object and the errors.
pub(crate) struct Output {
    pub data: Vec<u8>,
    pub errors: Vec<ServerError>,
}

/// Where the extension leaves its output for [`crate::Api::execute_as`]
/// (async-graphql's response can only carry a value tree).
#[derive(Default)]
pub(crate) struct Slot(Mutex<Option<Output>>);

impl Slot {
    pub fn take(&self) -> Option<Output> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, out: Output) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(out);
    }
}

/// The fast path's table of root fields, built with the schema.
pub(crate) struct Fast {
    rt: Arc<Runtime>,
    roots: HashMap<String, Root>,
    /// The generated mutations, by name.
    mutations: HashMap<String, (ModelId, Verb)>,
}

impl Fast {
    pub fn new(rt: &Arc<Runtime>) -> Fast {
        let mut roots = HashMap::new();
        let mut mutations = HashMap::new();
        for m in rt.registry().models() {
            if !m.exposed || m.external {
                continue;
            }
            for verb in Verb::ALL {
                if let Some(name) = mutation_name(m, verb) {
                    mutations.insert(name.to_owned(), (m.id, verb));
                }
            }
            for (fields, name) in lookups(m) {
                let args = fields
                    .iter()
                    .map(|&i| m.fields[i].graphql_name.clone())
                    .collect();
                roots.insert(
                    name,
                    Root::Lookup {
                        model: m.id,
                        fields,
                        args,
                    },
                );
            }
            if let Some(list) = &m.roots.list {
                roots.insert(list.clone(), Root::List { model: m.id });
            }
        }
        roots.insert("_entities".to_owned(), Root::Entities);
        Fast {
            rt: Arc::clone(rt),
            roots,
            mutations,
        }
    }

    /// Whether an operation of the document may run here: the check before
    /// the document is kept (its operation is chosen later).
    fn may_run(&self, doc: &ExecutableDocument) -> bool {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Subscription)
    }

    /// Whether some operation of a validated `doc` has only root fields
    /// this path answers, so that a document with a custom root field (a
    /// login, a search) is not collected, planned and checked on every
    /// request only to go to the resolvers. A root under `@skip` or
    /// `@include` does not count against it: it may be left out. Walks
    /// fragments, so only after validation (which refuses their cycles);
    /// kept per document ([`Known::answered`]).
    fn answers(&self, doc: &ExecutableDocument) -> bool {
        doc.operations.iter().any(|(_, op)| match op.node.ty {
            OperationType::Query => roots_answered(doc, &op.node.selection_set.node, &|n| {
                self.roots.contains_key(n)
            }),
            OperationType::Mutation => roots_answered(doc, &op.node.selection_set.node, &|n| {
                self.mutations.contains_key(n)
            }),
            OperationType::Subscription => false,
        })
    }

    /// Runs the operation `name` of `doc`, or returns `None` when a root
    /// field is not the fast path's.
    async fn run(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
        name: Option<&str>,
        scope: &Arc<Scope>,
        request: &Arc<RequestContext>,
        expect: Option<&Expected>,
    ) -> Option<Output> {
        let op = match (&doc.operations, name) {
            (DocumentOperations::Single(op), _) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
            (DocumentOperations::Multiple(ops), None) => ops.values().next()?,
        };
        // Variables the request left out take their declared defaults.
        let mut variables = variables.clone();
        for def in &op.node.variable_definitions {
            let def = &def.node;
            if !variables.contains_key(&def.name.node)
                && let Some(default) = &def.default_value
            {
                variables.insert(def.name.node.clone(), default.node.clone());
            }
        }
        let doc = Doc {
            fragments: &doc.fragments,
            variables: &variables,
        };
        let fields = collect(doc, &op.node.selection_set.node);
        match op.node.ty {
            OperationType::Query => self.query(&fields, scope, request).await,
            OperationType::Mutation => self.mutation(&fields, scope, request, expect).await,
            OperationType::Subscription => None,
        }
    }

    /// A query: its root fields fetched together, then written.
    async fn query(
        &self,
        fields: &[Collected<'_>],
        scope: &Arc<Scope>,
        request: &Arc<RequestContext>,
    ) -> Option<Output> {
        let mut roots = Vec::with_capacity(fields.len());
        for c in fields {
            match c.name_str() {
                "__typename" => roots.push(None),
                name => roots.push(Some(self.roots.get(name)?)),
            }
        }
        let rt = &*self.rt;
        let reg = rt.registry();
        // `_entities`' representations, read before anything is fetched:
        // one that names a value type is the resolvers'.
        let mut locals = Vec::with_capacity(fields.len());
        for (c, root) in fields.iter().zip(&roots) {
            locals.push(match root {
                Some(Root::Entities) => Some(match c.arguments() {
                    Ok(args) => match args.get("representations") {
                        // One representation is a list of one, as for the resolver.
                        Some(reps) => Ok(Local::parse(rt, &crate::translate::list(reps))?),
                        None => Err(graphloom_query::Error::bad_input(
                            "`representations` is required",
                        )),
                    },
                    Err(e) => Err(e),
                }),
                _ => None,
            });
        }
        let shapes: Vec<Vec<Field<'_>>> = fields
            .iter()
            .zip(&roots)
            .map(|(c, root)| match root {
                None | Some(Root::Entities) => Vec::new(),
                Some(Root::Lookup { model, .. }) => {
                    shape::node(reg, reg.model(*model), &c.children())
                }
                Some(Root::List { model }) => {
                    shape::connection(reg, reg.model(*model), &c.children())
                }
            })
            .collect();
        // Each entity type's items, with the fields its fragments select.
        let entity_shapes: Vec<Vec<(ModelId, Vec<Field<'_>>)>> = fields
            .iter()
            .zip(&locals)
            .map(|(c, local)| match local {
                Some(Ok(local)) => local
                    .models(reg)
                    .into_iter()
                    .map(|m| (m.id, shape::node(reg, m, &c.children_on(&m.graphql_name))))
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        let resolvers = roots.iter().zip(&shapes).any(|(root, shape)| match root {
            None | Some(Root::Entities) => false,
            Some(Root::Lookup { model, .. } | Root::List { model }) => {
                selects_computed(reg.model(*model), shape, refers)
            }
        }) || entity_shapes
            .iter()
            .flatten()
            .any(|(model, shape)| selects_computed(reg.model(*model), shape, refers));
        if resolvers {
            return None;
        }
        let fetched = join_all(fields.iter().zip(&roots).zip(locals).map(
            |((c, root), local)| async move {
                match (root, local) {
                    (Some(Root::Entities), Some(local)) => Fetched::Entities(match local {
                        Ok(local) => local.fetch(rt, scope, c).await,
                        Err(e) => Err(e),
                    }),
                    (Some(Root::Entities), None) | (None, _) => Fetched::Typename,
                    (
                        Some(Root::Lookup {
                            model,
                            fields,
                            args: names,
                        }),
                        _,
                    ) => {
                        let model = rt.registry().model(*model);
                        let node = match c.arguments() {
                            Ok(args) => {
                                let raws: Vec<&Gql> = names
                                    .iter()
                                    .map(|n| args.get(n.as_str()).unwrap_or(&Gql::Null))
                                    .collect();
                                fetch_lookup(rt, scope, model, fields, &raws, c).await
                            }
                            Err(e) => Err(e),
                        };
                        Fetched::Node(model, node)
                    }
                    (Some(Root::List { model }), _) => {
                        let model = rt.registry().model(*model);
                        Fetched::Page(model, fetch_page(rt, scope, model, c).await)
                    }
                }
            },
        ))
        .await;
        let ctx = Ctx::new(
            Arc::clone(&rt.engine),
            Arc::clone(request),
            Arc::clone(scope),
        );
        let computed = compute(&ctx, &fetched, &shapes, &entity_shapes).await;
        let mut w = Writer::new(rt, scope, &computed);
        let top = typenames(fields, "Query");
        // `object` writes the fields in order: the i-th call is root i.
        let mut at = 0;
        w.object(&top, |w, f| {
            let i = at;
            at += 1;
            match &fetched[i] {
                Fetched::Typename => {
                    json_into(&mut w.buf, "Query");
                    Ok(())
                }
                Fetched::Node(model, Ok(Some(node))) => {
                    w.node(model, node, &shapes[i]);
                    Ok(())
                }
                Fetched::Node(_, Ok(None)) => {
                    w.buf.extend_from_slice(b"null");
                    Ok(())
                }
                Fetched::Page(model, Ok(page)) => {
                    w.connection(model, page, &shapes[i]);
                    Ok(())
                }
                Fetched::Entities(Ok(items)) => {
                    w.entities(items, &entity_shapes[i]);
                    Ok(())
                }
                Fetched::Node(_, Err(e)) | Fetched::Page(_, Err(e)) | Fetched::Entities(Err(e)) => {
                    Err(w.error(f.pos, e.clone()))
                }
            }
        });
        Some(Output {
            data: w.buf,
            errors: w.errors,
        })
    }

    /// A mutation: its root fields one after the other (the spec's serial
    /// execution), each with its payload's computed fields before the
    /// next write; then written.
    async fn mutation(
        &self,
        fields: &[Collected<'_>],
        scope: &Arc<Scope>,
        request: &Arc<RequestContext>,
        expect: Option<&Expected>,
    ) -> Option<Output> {
        let rt = &*self.rt;
        let reg = rt.registry();
        let mut roots = Vec::with_capacity(fields.len());
        for c in fields {
            match c.name_str() {
                "__typename" => roots.push(None),
                name => {
                    let (model, verb) = self.mutations.get(name)?;
                    roots.push(Some((reg.model(*model), *verb)));
                }
            }
        }
        let shapes: Vec<Vec<Field<'_>>> = fields
            .iter()
            .zip(&roots)
            .map(|(c, root)| match root {
                None => Vec::new(),
                Some((model, verb)) => shape::payload(reg, model, *verb, &c.children()),
            })
            .collect();
        let resolvers = roots.iter().zip(&shapes).any(|(root, shape)| {
            root.is_some_and(|(model, _)| selects_computed(model, shape, refers))
        });
        if resolvers {
            return None;
        }
        let ctx = Ctx::new(
            Arc::clone(&rt.engine),
            Arc::clone(request),
            Arc::clone(scope),
        );
        let mut done = Vec::with_capacity(fields.len());
        let mut computed = Computed::new();
        for ((c, root), shape) in fields.iter().zip(&roots).zip(&shapes) {
            let Some((model, verb)) = root else {
                done.push(None);
                continue;
            };
            let res = match c.arguments() {
                Ok(args) => {
                    let args: Args = args
                        .into_iter()
                        .map(|(k, v)| (async_graphql::Name::new(k), v))
                        .collect();
                    run_mutation(rt, scope, model, *verb, &args, c, expect).await
                }
                Err(e) => Err(e),
            };
            // The payload's computed fields see this write, not the next.
            if let Ok(MutationResult {
                payload: Payload::Read(Some(node)),
                ..
            }) = &res
            {
                let mut wanted = Vec::new();
                for f in shape {
                    if let Kind::Saved(fields) = &f.kind {
                        wanted_in_node(model, node, fields, &mut wanted);
                    }
                }
                computed.extend(run_computed(&ctx, wanted).await);
            }
            done.push(Some(res));
        }
        let mut w = Writer::new(rt, scope, &computed);
        let top = typenames(fields, "Mutation");
        let mut at = 0;
        w.object(&top, |w, f| {
            let i = at;
            at += 1;
            match (&roots[i], &done[i]) {
                (Some((model, _)), Some(Ok(res))) => {
                    w.payload(model, res, &shapes[i]);
                    Ok(())
                }
                (Some(_), Some(Err(e))) => Err(w.error(f.pos, e.clone())),
                (None, _) | (_, None) => {
                    json_into(&mut w.buf, "Mutation");
                    Ok(())
                }
            }
        });
        Some(Output {
            data: w.buf,
            errors: w.errors,
        })
    }
}

/// Whether every root field of `set` (through its fragments) is
/// `__typename`, one `answers` names, or conditional.
fn roots_answered(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    answers: &dyn Fn(&str) -> bool,
) -> bool {
    let conditional = |ds: &[Positioned<Directive>]| {
        ds.iter()
            .any(|d| matches!(d.node.name.node.as_str(), "skip" | "include"))
    };
    set.items.iter().all(|item| match &item.node {
        Selection::Field(f) => {
            let name = f.node.name.node.as_str();
            conditional(&f.node.directives) || name == "__typename" || answers(name)
        }
        Selection::FragmentSpread(s) => {
            conditional(&s.node.directives)
                || doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .is_none_or(|f| roots_answered(doc, &f.node.selection_set.node, answers))
        }
        Selection::InlineFragment(i) => {
            conditional(&i.node.directives)
                || roots_answered(doc, &i.node.selection_set.node, answers)
        }
    })
}

/// The root fields as written: each under its response key (what each
/// holds, the caller writes).
fn typenames<'a>(fields: &[Collected<'a>], root: &str) -> Vec<Field<'a>> {
    fields
        .iter()
        .map(|c| Field {
            key: c.key_str(),
            pos: c.pos(),
            kind: Kind::Typename(root.into()),
        })
        .collect()
}

/// A root field's rows.
enum Fetched<'a> {
    Typename,
    Node(&'a ModelMeta, Result<Option<Node>>),
    Page(&'a ModelMeta, Result<Page>),
    Entities(Result<Vec<Entity>>),
}

/// A computed field with arguments (each selection its own), or whose
/// value refers to another service's entity (resolved as an entity is), is
/// the resolvers'.
fn refers(c: &graphloom_meta::ComputedMeta) -> bool {
    !c.args.is_empty() || c.output.mentions_model()
}

/// Runs every computed field the shapes select, on every row they reach,
/// at once (as the resolvers would), each row and field once.
async fn compute(
    ctx: &Ctx,
    fetched: &[Fetched<'_>],
    shapes: &[Vec<Field<'_>>],
    entity_shapes: &[Vec<(ModelId, Vec<Field<'_>>)>],
) -> Computed {
    let reg = ctx.engine().registry();
    let any = fetched.iter().zip(shapes).any(|(f, shape)| match f {
        Fetched::Node(model, _) | Fetched::Page(model, _) => {
            selects_computed(model, shape, |_| true)
        }
        Fetched::Typename | Fetched::Entities(_) => false,
    }) || entity_shapes
        .iter()
        .flatten()
        .any(|(model, shape)| selects_computed(reg.model(*model), shape, |_| true));
    if !any {
        return Computed::new();
    }
    let mut wanted = Vec::new();
    for ((f, shape), entity_shapes) in fetched.iter().zip(shapes).zip(entity_shapes) {
        match f {
            Fetched::Node(model, Ok(Some(node))) => wanted_in_node(model, node, shape, &mut wanted),
            Fetched::Page(model, Ok(page)) => wanted_in_page(model, page, shape, &mut wanted),
            Fetched::Entities(Ok(items)) => {
                for item in items {
                    if let Entity::Row(id, node) = item
                        && let Some((_, shape)) = entity_shapes.iter().find(|(m, _)| m == id)
                    {
                        wanted_in_node(reg.model(*id), node, shape, &mut wanted);
                    }
                }
            }
            Fetched::Typename
            | Fetched::Node(_, _)
            | Fetched::Page(_, Err(_))
            | Fetched::Entities(Err(_)) => {}
        }
    }
    run_computed(ctx, wanted).await
}

/// Runs each wanted computed field once per row.
async fn run_computed(ctx: &Ctx, mut wanted: Wanted<'_>) -> Computed {
    if wanted.is_empty() {
        return Computed::new();
    }
    let mut seen = HashSet::new();
    wanted.retain(|(_, node, ci)| seen.insert((node_id(node), *ci)));
    let engine = ctx.engine();
    let values = join_all(wanted.iter().map(|(model, node, ci)| {
        engine.compute(
            ctx.clone(),
            model,
            &model.computed[*ci],
            &node.values,
            serde_json::Value::Null,
        )
    }))
    .await;
    wanted
        .iter()
        .zip(values)
        .map(|((_, node, ci), v)| ((node_id(node), *ci), v))
        .collect()
}

/// Whether `fields` (of `model`) select anywhere a computed field for
/// which `which` holds (most queries select none, and then no row is
/// walked for them).
fn selects_computed(
    model: &ModelMeta,
    fields: &[Field<'_>],
    which: fn(&graphloom_meta::ComputedMeta) -> bool,
) -> bool {
    fields.iter().any(|f| match &f.kind {
        Kind::Computed(ci, _) => which(&model.computed[*ci]),
        Kind::One { model, fields, .. }
        | Kind::Many { model, fields }
        | Kind::List { model, fields } => selects_computed(model, fields, which),
        Kind::Nodes(fields)
        | Kind::Edges(fields)
        | Kind::EdgeNode(fields)
        | Kind::Saved(fields) => selects_computed(model, fields, which),
        Kind::PageInfo(_)
        | Kind::Typename(_)
        | Kind::Value { .. }
        | Kind::TotalCount
        | Kind::Cursor
        | Kind::HasNextPage
        | Kind::HasPreviousPage
        | Kind::StartCursor
        | Kind::EndCursor
        | Kind::FieldErrors(_)
        | Kind::ErrorPath
        | Kind::ErrorMessage
        | Kind::ErrorCode
        | Kind::Deleted(_)
        | Kind::Unknown(_) => false,
    })
}

type Wanted<'a> = Vec<(&'a ModelMeta, &'a Node, usize)>;

fn wanted_in_node<'a>(
    model: &'a ModelMeta,
    node: &'a Node,
    fields: &'a [Field<'a>],
    out: &mut Wanted<'a>,
) {
    if node.missing.is_some() {
        return;
    }
    for f in fields {
        match &f.kind {
            Kind::Computed(ci, _) => out.push((model, node, *ci)),
            Kind::One { model, fields, .. } => {
                if let Some(Child::One(Some(n))) = node.children.get(f.key) {
                    wanted_in_node(model, n, fields, out);
                }
            }
            Kind::Many { model, fields } => {
                if let Some(Child::Many(page)) = node.children.get(f.key) {
                    wanted_in_page(model, page, fields, out);
                }
            }
            Kind::List { model, fields } => {
                if let Some(Child::Many(page)) = node.children.get(f.key) {
                    for (_, n) in &page.items {
                        wanted_in_node(model, n, fields, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn wanted_in_page<'a>(
    model: &'a ModelMeta,
    page: &'a Page,
    fields: &'a [Field<'a>],
    out: &mut Wanted<'a>,
) {
    for f in fields {
        let nodes = match &f.kind {
            Kind::Nodes(nodes) => nodes,
            Kind::Edges(edge) => match edge.iter().find_map(|e| match &e.kind {
                Kind::EdgeNode(n) => Some(n),
                _ => None,
            }) {
                Some(n) => n,
                None => continue,
            },
            _ => continue,
        };
        for (_, n) in &page.items {
            wanted_in_node(model, n, nodes, out);
        }
    }
}

/// The API's async-graphql extension, one instance per request: runs what
/// the fast path can (when it is on), and gives the resolvers' errors their
/// path, which async-graphql's dynamic schema leaves empty (the spec asks
/// for it, and the fast path's errors have it).
#[derive(Clone)]
pub(crate) struct Factory {
    fast: Option<Arc<Fast>>,
    documents: Arc<Documents>,
    guard: Arc<Guard>,
}

/// The operation budget ([`crate::cost`]), checked as soon as a document is
/// parsed: before validation (which a huge document would make slow) and
/// before any SQL.
pub(crate) struct Guard {
    /// Set once the schema is built (its SDL is the shape).
    pub(crate) shape: OnceLock<cost::Shape>,
    limits: cost::Limits,
    pages: (u64, u64),
    max_depth: usize,
    /// Answer `__schema` and `__type`.
    introspection: bool,
    /// Answer `_service` and `_entities` for requests not from the gateway.
    federation_public: bool,
    /// Show each operation's cost in `extensions.cost`.
    show: bool,
}

/// What [`Guard::admit`] found of a document it let through.
struct Admitted {
    /// The gateway asked for an inline trace.
    traced: bool,
    /// The operation's cost, to show in `extensions.cost`.
    cost: Option<cost::Cost>,
}

impl Guard {
    /// The checks on a parsed document before validation: the lint (what
    /// this requester may ask for at all) and the operation budget.
    fn admit(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
        request: Option<&RequestContext>,
    ) -> ServerResult<Admitted> {
        let gateway = request.is_some_and(|r| r.gateway);
        let access = cost::Access {
            introspection: self.introspection || gateway,
            federation: self.federation_public || gateway,
        };
        cost::lint(doc, access)?;
        // A gateway's request for an inline trace (anyone's, where
        // federation is public, as `_entities` is).
        let traced = access.federation
            && request.is_some_and(|r| {
                r.headers
                    .get(trace::HEADER)
                    .is_some_and(|v| v.trim() == trace::FTV1)
            });
        let mut shown = None;
        if let Some(shape) = self.shape.get() {
            let cost = cost::cost(shape, &self.limits, self.pages, doc, variables);
            cost::check(&cost, &self.limits, self.max_depth)?;
            if self.show {
                shown = Some(cost);
            }
        }
        Ok(Admitted {
            traced,
            cost: shown,
        })
    }
}

impl Factory {
    pub(crate) fn new(fast: Option<Arc<Fast>>, rt: &Runtime) -> Self {
        let c = &rt.config;
        Factory {
            fast,
            documents: Arc::default(),
            guard: Arc::new(Guard {
                shape: OnceLock::new(),
                limits: c.limits.clone(),
                pages: (c.default_page_size, c.max_page_size),
                max_depth: c.max_depth,
                introspection: c.introspection,
                federation_public: c.federation_public,
                show: c.debug_sql,
            }),
        }
    }

    pub(crate) fn guard(&self) -> Arc<Guard> {
        Arc::clone(&self.guard)
    }

    /// Runs `request` on the fast path without async-graphql's request
    /// pipeline, where that pipeline would add nothing: the document (of
    /// one operation) was parsed and validated before, these variables fit
    /// it ([`Known::validated`]), its root fields are this path's, it
    /// passes the guard, and it is not traced. Else `None`, and the request goes
    /// through async-graphql, which runs it or reports its errors. Saves
    /// the pipeline's per-request work: its context and extension hooks,
    /// a copy of the document, and the response value it builds.
    pub(crate) async fn run_known(
        &self,
        registry: &Registry,
        request: &async_graphql::Request,
        context: &Arc<RequestContext>,
        scope: &Arc<Scope>,
    ) -> Option<(Output, BTreeMap<String, Gql>)> {
        let fast = self.fast.as_ref()?;
        if !request.uploads.is_empty() {
            return None;
        }
        let known = self.documents.get(&request.query)?;
        // A name that is not the operation's is async-graphql's error.
        let (name, _) = known::only_operation(&known.doc)?;
        if request.operation_name.is_some() && request.operation_name.as_deref() != name {
            return None;
        }
        known.validated(registry, &request.variables)?;
        if !known.answered(|doc| fast.answers(doc)) {
            return None;
        }
        let admitted = self
            .guard
            .admit(&known.doc, &request.variables, Some(context))
            .ok()?;
        if admitted.traced {
            return None;
        }
        // REST's `If-Match` travels as request data.
        let expect = request
            .data
            .get(&std::any::TypeId::of::<Expected>())
            .and_then(|d| d.downcast_ref::<Expected>());
        let out = fast
            .run(&known.doc, &request.variables, name, scope, context, expect)
            .await?;
        let mut extensions = BTreeMap::new();
        if let Some(cost) = admitted.cost {
            extensions.insert("cost".into(), cost.to_value(&self.guard.limits));
        }
        Some((out, extensions))
    }
}

struct PerRequest {
    fast: Option<Arc<Fast>>,
    documents: Arc<Documents>,
    /// The request's document and variables, from parsing on.
    known: Mutex<Option<(Arc<Known>, Variables)>>,
    /// Whether the fast path may run the document.
    fast_may_run: AtomicBool,
    guard: Arc<Guard>,
    cost: Mutex<Option<cost::Cost>>,
    /// The inline trace, when the gateway asked for one ([`crate::trace`]).
    trace: Mutex<Option<trace::Recording>>,
    /// Whether `trace` records: read per resolved field, without the lock.
    traced: AtomicBool,
}

impl ExtensionFactory for Factory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            fast: self.fast.clone(),
            documents: Arc::clone(&self.documents),
            known: Mutex::new(None),
            fast_may_run: AtomicBool::new(false),
            guard: Arc::clone(&self.guard),
            cost: Mutex::new(None),
            trace: Mutex::new(None),
            traced: AtomicBool::new(false),
        })
    }
}

/// The response path of the field at `node`.
fn path_of(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path = Vec::new();
    let mut at = Some(node);
    while let Some(n) = at {
        path.push(match n.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            QueryPathSegment::Index(i) => PathSegment::Index(i),
        });
        at = n.parent;
    }
    path.reverse();
    path
}

#[async_trait::async_trait]
impl Extension for PerRequest {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // A document that passed before, with variables that fit it, is
        // not validated again (see `known`).
        let known = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(k, vars)| (Arc::clone(k), k.validated(&ctx.schema_env.registry, vars)));
        if let Some((_, Some(result))) = known {
            return Ok(result);
        }
        let result = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| cost::with_code(e, ErrorCode::GraphqlValidationFailed))
                .collect::<Vec<_>>()
        })?;
        if let Some((known, _)) = known {
            known.passed(result);
        }
        Ok(result)
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        // Most requests are not traced: no lock for them.
        let traced = self
            .traced
            .load(Ordering::Relaxed)
            .then(|| {
                self.trace
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
            })
            .flatten();
        if let Some(recording) = traced {
            // `_entities`' failed items become errors now, so the trace has them.
            if let Some(misses) = &recording.misses {
                misses.patch(&mut response);
            }
            let trace = recording.finish(&response.errors);
            response
                .extensions
                .insert(trace::FTV1.into(), Gql::String(trace.to_base64()));
        }
        let cost = self
            .cost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(cost) = cost {
            response
                .extensions
                .insert("cost".into(), cost.to_value(&self.guard.limits));
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let known = match self.documents.get(query) {
            Some(known) => known,
            None => {
                cost::check_tokens(query, &self.guard.limits)?;
                let doc = next
                    .run(ctx, query, variables)
                    .await
                    .map_err(|e| cost::with_code(e, ErrorCode::GraphqlParseFailed))?;
                self.documents.put(query, doc)
            }
        };
        let doc = &known.doc;
        let request = ctx.data_opt::<Arc<RequestContext>>().map(|r| &**r);
        let admitted = self.guard.admit(doc, variables, request)?;
        let traced = admitted.traced;
        if traced {
            // The trace starts once the document is parsed (from the
            // cache, usually): what a gateway times is execution.
            let mut recording = trace::Recording::new(Instant::now(), SystemTime::now());
            recording.misses = ctx
                .data_opt::<Arc<crate::federation::Misses>>()
                .map(Arc::clone);
            *self.trace.lock().unwrap_or_else(PoisonError::into_inner) = Some(recording);
            self.traced.store(true, Ordering::Relaxed);
        }
        if let Some(cost) = admitted.cost {
            *self.cost.lock().unwrap_or_else(PoisonError::into_inner) = Some(cost);
        }
        // A traced request has its fields timed, so it takes the resolvers.
        let runs = |f: &Arc<Fast>| f.may_run(doc);
        if !traced && ctx.data_opt::<Arc<Slot>>().is_some() && self.fast.as_ref().is_some_and(runs)
        {
            self.fast_may_run.store(true, Ordering::Relaxed);
        }
        // async-graphql takes the document by value; the kept one stays
        // shared, for validation and the fast path.
        let doc = doc.clone();
        *self.known.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((known, variables.clone()));
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let kept = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .filter(|(known, _)| {
                self.fast_may_run.load(Ordering::Relaxed)
                    && self
                        .fast
                        .as_ref()
                        .is_some_and(|f| known.answered(|doc| f.answers(doc)))
            });
        if let (Some(fast), Some((known, variables)), Some(slot), Some(scope), Some(request)) = (
            &self.fast,
            kept,
            ctx.data_opt::<Arc<Slot>>(),
            ctx.data_opt::<Arc<Scope>>(),
            ctx.data_opt::<Arc<RequestContext>>(),
        ) && let Some(out) = fast
            .run(
                &known.doc,
                &variables,
                operation_name,
                scope,
                request,
                ctx.data_opt::<Expected>(),
            )
            .await
        {
            slot.put(out);
            return Response::new(Gql::Null);
        }
        next.run(ctx, operation_name).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Gql>> {
        let node = info.path_node;
        let traced = self.traced.load(Ordering::Relaxed).then(|| {
            self.trace
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|r| r.started)
        });
        // A list's items are nodes by index, not fields of their own.
        let item = matches!(node.segment, QueryPathSegment::Index(_));
        let (Some(Some(started)), false) = (traced, item) else {
            return next.run(ctx, info).await.map_err(|mut e| {
                if e.path.is_empty() {
                    e.path = path_of(node);
                }
                e
            });
        };
        let field = trace::Resolved {
            path: path_of(node),
            field_name: info.name.to_owned(),
            ty: info.return_type.to_owned(),
            parent_type: info.parent_type.to_owned(),
            start: started.elapsed(),
            end: std::time::Duration::ZERO,
        };
        let out = next.run(ctx, info).await.map_err(|mut e| {
            if e.path.is_empty() {
                e.path = field.path.clone();
            }
            e
        });
        let end = started.elapsed();
        if let Some(r) = self
            .trace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            r.fields.push(trace::Resolved { end, ..field });
        }
        out
    }
}
