//! The fast path's JSON writer: fetched rows written straight into the
//! response body along a [`shape`](super::shape). It keeps async-graphql's
//! behaviour for errors: a field that fails is left out of its object with
//! an error at its path, and an object left with no field is `null`.

use std::collections::HashMap;

use async_graphql::{ErrorExtensionValues, PathSegment, Pos, ServerError};
use graphloom_meta::{ModelId, ModelMeta, TypeDesc};
use graphloom_query::{
    Error, ErrorCode, FieldError, cursor,
    exec::{Child, Node, Page},
    scope::Scope,
};

use super::shape::{Field, Kind, Pick};
use crate::{
    convert::{json_into, output, plain_output},
    error::gql,
    federation::Entity,
    runtime::Runtime,
    schema::payloads::{MutationResult, Payload},
};

/// A computed field's value, by the row (its address) and the field's
/// index in [`ModelMeta::computed`].
pub(crate) type Computed = HashMap<(usize, usize), Result<serde_json::Value, Error>>;

/// A row's identity for [`Computed`]: a row shared by several parents (one
/// author of many posts) is one `Node`, computed once.
pub(crate) fn node_id(node: &Node) -> usize {
    node as *const Node as usize
}

/// A field left out of its object.
pub(crate) struct Omitted;

/// One step of the path to the value being written; turned into
/// async-graphql's path only when an error needs it.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

pub(crate) struct Writer<'a> {
    rt: &'a Runtime,
    scope: &'a Scope,
    computed: &'a Computed,
    pub buf: Vec<u8>,
    pub errors: Vec<ServerError>,
    path: Vec<Step<'a>>,
}

impl<'a> Writer<'a> {
    pub fn new(rt: &'a Runtime, scope: &'a Scope, computed: &'a Computed) -> Self {
        Writer {
            rt,
            scope,
            computed,
            buf: Vec::with_capacity(16 * 1024),
            errors: Vec::new(),
            path: Vec::new(),
        }
    }

    /// Records `e` as the error of the field at `pos`, at the current path.
    pub fn error(&mut self, pos: Pos, e: Error) -> Omitted {
        self.server_error(gql(e).into_server_error(pos))
    }

    fn server_error(&mut self, mut error: ServerError) -> Omitted {
        error.path = self
            .path
            .iter()
            .map(|s| match s {
                Step::Key(k) => PathSegment::Field((*k).to_owned()),
                Step::Index(i) => PathSegment::Index(*i),
            })
            .collect();
        self.errors.push(error);
        Omitted
    }

    /// Writes an object: each field, those that fail left out; `null` when
    /// none is left.
    pub fn object<F>(&mut self, fields: &'a [Field<'a>], mut write: F)
    where
        F: FnMut(&mut Self, &'a Field<'a>) -> Result<(), Omitted>,
    {
        let start = self.buf.len();
        self.buf.push(b'{');
        let mut any = false;
        for f in fields {
            let before = self.buf.len();
            if any {
                self.buf.push(b',');
            }
            // A response key is a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`):
            // nothing in it needs escaping.
            debug_assert!(
                f.key
                    .bytes()
                    .all(|b| b == b'_' || b.is_ascii_alphanumeric())
            );
            self.buf.push(b'"');
            self.buf.extend_from_slice(f.key.as_bytes());
            self.buf.extend_from_slice(b"\":");
            self.path.push(Step::Key(f.key));
            let written = write(self, f);
            self.path.pop();
            match written {
                Ok(()) => any = true,
                Err(Omitted) => self.buf.truncate(before),
            }
        }
        if any {
            self.buf.push(b'}');
        } else {
            self.buf.truncate(start);
            self.buf.extend_from_slice(b"null");
        }
    }

    /// Writes a list, each item at its index.
    fn list<T>(&mut self, items: &[T], mut write: impl FnMut(&mut Self, &T)) {
        self.buf.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.path.push(Step::Index(i));
            write(self, item);
            self.path.pop();
        }
        self.buf.push(b']');
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), Omitted> {
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// A row of `model` with the fields `fields`.
    pub fn node(&mut self, model: &'a ModelMeta, node: &Node, fields: &'a [Field<'a>]) {
        self.object(fields, |w, f| w.node_field(model, node, f));
    }

    fn node_field(
        &mut self,
        model: &ModelMeta,
        node: &Node,
        f: &'a Field<'a>,
    ) -> Result<(), Omitted> {
        if let (Some(missing), false) = (&node.missing, matches!(f.kind, Kind::Typename(_))) {
            return Err(self.error(f.pos, Error::new(ErrorCode::NotFound, missing.clone())));
        }
        match &f.kind {
            Kind::Typename(name) => {
                json_into(&mut self.buf, name.as_str());
                Ok(())
            }
            Kind::Value { idx, meta, ruled } => {
                if *ruled {
                    let scope = node.scope.as_deref().unwrap_or(self.scope);
                    if !scope.field_visible(model, *idx, &|i| node.values[i].clone()) {
                        return self.raw(b"null");
                    }
                }
                output(meta, &node.values[*idx]).write_json(&mut self.buf);
                Ok(())
            }
            Kind::One {
                model: target,
                nullable,
                fields,
            } => match node.children.get(f.key) {
                Some(Child::One(Some(n))) => {
                    self.node(target, n, fields);
                    Ok(())
                }
                Some(Child::One(None)) if *nullable => self.raw(b"null"),
                // async-graphql's own error for a missing non-null value
                // (a row rule hid the target of a required foreign key).
                Some(Child::One(None)) => Err(self.server_error(ServerError::new(
                    "internal: non-null types require a return value",
                    Some(f.pos),
                ))),
                Some(Child::Many(_)) | None => Err(self.not_loaded(f)),
            },
            Kind::Many {
                model: target,
                fields,
            } => match node.children.get(f.key) {
                Some(Child::Many(page)) => {
                    self.connection(target, page, fields);
                    Ok(())
                }
                Some(Child::One(_)) | None => Err(self.not_loaded(f)),
            },
            Kind::List {
                model: target,
                fields,
            } => match node.children.get(f.key) {
                Some(Child::Many(page)) => {
                    self.list(&page.items, |w, (_, n)| w.node(target, n, fields));
                    Ok(())
                }
                Some(Child::One(_)) | None => Err(self.not_loaded(f)),
            },
            Kind::Computed(ci, pick) => match self.computed.get(&(node_id(node), *ci)) {
                Some(Ok(v)) if pick.is_empty() => {
                    json_into(&mut self.buf, v);
                    Ok(())
                }
                // A value type: only what the selection asks, by its keys.
                Some(Ok(v)) => {
                    project(&mut self.buf, &model.computed[*ci].output, v, pick);
                    Ok(())
                }
                Some(Err(e)) => Err(self.error(f.pos, e.clone())),
                None => Err(self.error(f.pos, Error::internal("a computed field was not run"))),
            },
            Kind::Unknown(m) => Err(self.error(f.pos, Error::internal(m.clone()))),
            Kind::TotalCount
            | Kind::Nodes(_)
            | Kind::Edges(_)
            | Kind::PageInfo(_)
            | Kind::Cursor
            | Kind::EdgeNode(_)
            | Kind::HasNextPage
            | Kind::HasPreviousPage
            | Kind::StartCursor
            | Kind::EndCursor
            | Kind::Saved(_)
            | Kind::FieldErrors(_)
            | Kind::ErrorPath
            | Kind::ErrorMessage
            | Kind::ErrorCode
            | Kind::Deleted(_) => Err(self.misplaced(f)),
        }
    }

    fn not_loaded(&mut self, f: &Field<'_>) -> Omitted {
        self.error(
            f.pos,
            Error::internal(format!("relation `{}` was not loaded", f.key)),
        )
    }

    fn misplaced(&mut self, f: &Field<'_>) -> Omitted {
        self.error(
            f.pos,
            Error::internal(format!("`{}` is not a field of this type", f.key)),
        )
    }

    fn cursor(&mut self, model: &ModelMeta, item: Option<&(u64, std::sync::Arc<Node>)>) {
        match item {
            Some((offset, _)) => {
                let c = cursor::encode(&self.rt.config.cursor_key, &model.graphql_name, *offset);
                json_into(&mut self.buf, c.as_str());
            }
            None => self.buf.extend_from_slice(b"null"),
        }
    }

    /// A page of `model` rows as its connection type.
    pub fn connection(&mut self, model: &'a ModelMeta, page: &Page, fields: &'a [Field<'a>]) {
        self.object(fields, |w, f| match &f.kind {
            Kind::Typename(name) => {
                json_into(&mut w.buf, name.as_str());
                Ok(())
            }
            Kind::TotalCount => match page.total {
                Some(n) => {
                    json_into(&mut w.buf, &n);
                    Ok(())
                }
                None => Err(w.error(f.pos, Error::internal("totalCount was not planned"))),
            },
            Kind::Nodes(fields) => {
                w.list(&page.items, |w, (_, n)| w.node(model, n, fields));
                Ok(())
            }
            Kind::Edges(fields) => {
                w.list(&page.items, |w, item| {
                    w.object(fields, |w, e| match &e.kind {
                        Kind::Typename(name) => {
                            json_into(&mut w.buf, name.as_str());
                            Ok(())
                        }
                        Kind::Cursor => {
                            w.cursor(model, Some(item));
                            Ok(())
                        }
                        Kind::EdgeNode(fields) => {
                            w.node(model, &item.1, fields);
                            Ok(())
                        }
                        _ => Err(w.misplaced(e)),
                    });
                });
                Ok(())
            }
            Kind::PageInfo(fields) => {
                w.object(fields, |w, p| {
                    match &p.kind {
                        Kind::Typename(name) => json_into(&mut w.buf, name.as_str()),
                        Kind::HasNextPage => json_into(&mut w.buf, &page.has_next),
                        Kind::HasPreviousPage => json_into(&mut w.buf, &page.has_prev),
                        Kind::StartCursor => w.cursor(model, page.items.first()),
                        Kind::EndCursor => w.cursor(model, page.items.last()),
                        _ => return Err(w.misplaced(p)),
                    }
                    Ok(())
                });
                Ok(())
            }
            Kind::Unknown(m) => Err(w.error(f.pos, Error::internal(m.clone()))),
            _ => Err(w.misplaced(f)),
        });
    }
}

impl<'a> Writer<'a> {
    /// The payload of a generated mutation of `model`.
    pub fn payload(&mut self, model: &'a ModelMeta, res: &MutationResult, fields: &'a [Field<'a>]) {
        self.object(fields, |w, f| match &f.kind {
            Kind::Typename(name) => {
                json_into(&mut w.buf, name.as_str());
                Ok(())
            }
            Kind::Saved(fields) => match &res.payload {
                Payload::Read(Some(node)) => {
                    w.node(model, node, fields);
                    Ok(())
                }
                Payload::None | Payload::Read(None) => w.raw(b"null"),
                Payload::Failed(e) => Err(w.error(f.pos, e.clone())),
            },
            Kind::FieldErrors(fields) => {
                w.list(&res.errors, |w, e| w.field_error(e, fields));
                Ok(())
            }
            Kind::Deleted(part) => {
                match res.deleted.as_ref().and_then(|k| k.parts().get(*part)) {
                    Some(v) => plain_output(v).write_json(&mut w.buf),
                    None => w.buf.extend_from_slice(b"null"),
                }
                Ok(())
            }
            Kind::Unknown(m) => Err(w.error(f.pos, Error::internal(m.clone()))),
            _ => Err(w.misplaced(f)),
        });
    }

    /// `_entities`' items, each with the fields selected on its type.
    pub fn entities(&mut self, items: &[Entity], shapes: &'a [(ModelId, Vec<Field<'a>>)]) {
        let reg = self.rt.registry();
        self.list(items, |w, item| match item {
            Entity::Row(id, node) => match shapes.iter().find(|(m, _)| m == id) {
                Some((_, fields)) => w.node(reg.model(*id), node, fields),
                None => w.buf.extend_from_slice(b"null"),
            },
            Entity::Missed(message, code) => {
                // One error at the item, without a location (as the
                // resolvers' `Misses` puts it).
                w.buf.extend_from_slice(b"null");
                let mut ext = ErrorExtensionValues::default();
                ext.set("code", code.as_str());
                let mut error = ServerError::new(message.clone(), None);
                error.extensions = Some(ext);
                w.server_error(error);
            }
        });
    }

    fn field_error(&mut self, e: &FieldError, fields: &'a [Field<'a>]) {
        self.object(fields, |w, f| {
            match &f.kind {
                Kind::Typename(name) => json_into(&mut w.buf, name.as_str()),
                Kind::ErrorPath => json_into(&mut w.buf, &e.field),
                Kind::ErrorMessage => json_into(&mut w.buf, e.message.as_str()),
                Kind::ErrorCode => json_into(&mut w.buf, e.code.as_str()),
                Kind::Unknown(m) => return Err(w.error(f.pos, Error::internal(m.clone()))),
                _ => return Err(w.misplaced(f)),
            }
            Ok(())
        });
    }
}

/// Writes a value of type `d` with only the picked fields of its objects,
/// under their response keys (`__typename` as the value type's name).
fn project(buf: &mut Vec<u8>, d: &TypeDesc, v: &serde_json::Value, pick: &[Pick<'_>]) {
    use serde_json::Value as J;
    match (d, v) {
        (_, J::Null) => buf.extend_from_slice(b"null"),
        (TypeDesc::Nullable(inner), v) => project(buf, inner, v, pick),
        (TypeDesc::List(item), J::Array(items)) => {
            buf.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                project(buf, item, it, pick);
            }
            buf.push(b']');
        }
        (TypeDesc::Object(o), J::Object(map)) => {
            buf.push(b'{');
            for (i, p) in pick.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                json_into(buf, p.key);
                buf.push(b':');
                match o.field(p.name) {
                    _ if p.name == "__typename" => json_into(buf, o.name),
                    Some(f) => {
                        project(buf, &f.ty, map.get(p.name).unwrap_or(&J::Null), &p.children)
                    }
                    None => buf.extend_from_slice(b"null"),
                }
            }
            buf.push(b'}');
        }
        (TypeDesc::Id, J::Number(n)) => json_into(buf, &n.to_string()),
        (_, v) => json_into(buf, v),
    }
}
