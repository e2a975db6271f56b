//! A selection resolved against the registry once per request: each
//! response key with what it reads (a column index, a relation edge, a
//! computed field, a connection part), so writing a row is a walk over
//! indices with no name lookups and no metadata clones.

use async_graphql::Pos;
use graphloom_meta::{FieldMeta, ModelMeta, Registry};

use super::collect::Collected;
use crate::translate::Selection as _;
use crate::{
    convert::key_arguments,
    schema::{
        resolvers::Verb,
        types::{relation_nullable, ruled},
    },
};

/// One response key of an object.
pub(crate) struct Field<'a> {
    pub key: &'a str,
    pub pos: Pos,
    pub kind: Kind<'a>,
}

/// What a response key reads.
pub(crate) enum Kind<'a> {
    Typename(String),
    /// A column; `ruled` when a read rule may withhold it.
    Value {
        idx: usize,
        meta: &'a FieldMeta,
        ruled: bool,
    },
    /// A to-one relation, loaded under the field's response key.
    One {
        model: &'a ModelMeta,
        nullable: bool,
        fields: Vec<Field<'a>>,
    },
    /// A to-many relation's connection, loaded under the response key.
    Many {
        model: &'a ModelMeta,
        fields: Vec<Field<'a>>,
    },
    /// A to-many relation read as a plain list: its rows' own fields.
    List {
        model: &'a ModelMeta,
        fields: Vec<Field<'a>>,
    },
    /// A computed field, by its index in [`ModelMeta::computed`], and what
    /// is selected of a value type it returns (nothing for a scalar).
    Computed(usize, Vec<Pick<'a>>),
    TotalCount,
    Nodes(Vec<Field<'a>>),
    Edges(Vec<Field<'a>>),
    PageInfo(Vec<Field<'a>>),
    Cursor,
    EdgeNode(Vec<Field<'a>>),
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
    /// A create or update payload's row.
    Saved(Vec<Field<'a>>),
    /// A payload's refused inputs, as `FieldError`s.
    FieldErrors(Vec<Field<'a>>),
    /// A `FieldError`'s parts.
    ErrorPath,
    ErrorMessage,
    ErrorCode,
    /// A delete payload's `deletedId` (a composite key's part, by index).
    Deleted(usize),
    /// Validation let through a field this walk does not know: an
    /// internal error at its path rather than a guess.
    Unknown(String),
}

/// One selected field of a value type: its response key, its name, and
/// what is selected below it.
pub(crate) struct Pick<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub children: Vec<Pick<'a>>,
}

fn picks<'a>(sel: &[Collected<'a>]) -> Vec<Pick<'a>> {
    sel.iter()
        .map(|c| Pick {
            key: c.key_str(),
            name: c.name_str(),
            children: picks(&c.children()),
        })
        .collect()
}

fn field<'a>(c: &Collected<'a>, kind: Kind<'a>) -> Field<'a> {
    Field {
        key: c.key_str(),
        pos: c.pos(),
        kind,
    }
}

fn unknown(ty: &str, name: &str) -> Kind<'static> {
    Kind::Unknown(format!("{ty} has no field `{name}`"))
}

/// The fields of an object of `model`.
pub(crate) fn node<'a>(
    reg: &'a Registry,
    model: &'a ModelMeta,
    sel: &[Collected<'a>],
) -> Vec<Field<'a>> {
    sel.iter()
        .map(|c| {
            let name = c.name_str();
            let kind = if name == "__typename" {
                Kind::Typename(model.graphql_name.clone())
            } else if let Some((idx, meta)) = model.field_by_graphql(name) {
                Kind::Value {
                    idx,
                    meta,
                    ruled: ruled(reg, model, idx),
                }
            } else if let Some((_, rel)) = model.relation(name) {
                let target = reg.model(rel.target);
                if rel.is_many() && rel.list {
                    Kind::List {
                        model: target,
                        fields: node(reg, target, &c.children()),
                    }
                } else if rel.is_many() {
                    Kind::Many {
                        model: target,
                        fields: connection(reg, target, &c.children()),
                    }
                } else {
                    Kind::One {
                        model: target,
                        nullable: relation_nullable(model, rel),
                        fields: node(reg, target, &c.children()),
                    }
                }
            } else if let Some(ci) = model.computed.iter().position(|m| m.name == name) {
                Kind::Computed(ci, picks(&c.children()))
            } else {
                unknown(&model.graphql_name, name)
            };
            field(c, kind)
        })
        .collect()
}

/// The fields of `model`'s connection type.
pub(crate) fn connection<'a>(
    reg: &'a Registry,
    model: &'a ModelMeta,
    sel: &[Collected<'a>],
) -> Vec<Field<'a>> {
    let name = &model.graphql_name;
    sel.iter()
        .map(|c| {
            let kind = match c.name_str() {
                "__typename" => Kind::Typename(format!("{name}Connection")),
                "totalCount" => Kind::TotalCount,
                "nodes" => Kind::Nodes(node(reg, model, &c.children())),
                "edges" => Kind::Edges(
                    c.children()
                        .iter()
                        .map(|e| {
                            let kind = match e.name_str() {
                                "__typename" => Kind::Typename(format!("{name}Edge")),
                                "cursor" => Kind::Cursor,
                                "node" => Kind::EdgeNode(node(reg, model, &e.children())),
                                other => unknown(&format!("{name}Edge"), other),
                            };
                            field(e, kind)
                        })
                        .collect(),
                ),
                "pageInfo" => Kind::PageInfo(
                    c.children()
                        .iter()
                        .map(|p| {
                            let kind = match p.name_str() {
                                "__typename" => Kind::Typename("PageInfo".into()),
                                "hasNextPage" => Kind::HasNextPage,
                                "hasPreviousPage" => Kind::HasPreviousPage,
                                "startCursor" => Kind::StartCursor,
                                "endCursor" => Kind::EndCursor,
                                other => unknown("PageInfo", other),
                            };
                            field(p, kind)
                        })
                        .collect(),
                ),
                other => unknown(&format!("{name}Connection"), other),
            };
            field(c, kind)
        })
        .collect()
}

/// The fields of the payload of `model`'s generated mutation `verb`.
pub(crate) fn payload<'a>(
    reg: &'a Registry,
    model: &'a ModelMeta,
    verb: Verb,
    sel: &[Collected<'a>],
) -> Vec<Field<'a>> {
    let deleted = match verb {
        Verb::Delete => key_arguments(model),
        Verb::Create | Verb::Update => Vec::new(),
    };
    sel.iter()
        .map(|c| {
            let kind = match c.name_str() {
                "__typename" => Kind::Typename(verb.payload(model)),
                "errors" => Kind::FieldErrors(
                    c.children()
                        .iter()
                        .map(|e| {
                            let kind = match e.name_str() {
                                "__typename" => Kind::Typename("FieldError".into()),
                                "field" => Kind::ErrorPath,
                                "message" => Kind::ErrorMessage,
                                "code" => Kind::ErrorCode,
                                other => unknown("FieldError", other),
                            };
                            field(e, kind)
                        })
                        .collect(),
                ),
                name if !matches!(verb, Verb::Delete) && name == model.single_name => {
                    Kind::Saved(node(reg, model, &c.children()))
                }
                name => match deleted.iter().position(|a| a.deleted == name) {
                    Some(part) => Kind::Deleted(part),
                    None => unknown(&verb.payload(model), name),
                },
            };
            field(c, kind)
        })
        .collect()
}
