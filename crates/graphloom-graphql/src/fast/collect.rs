//! The fields of a selection as GraphQL collects them (the spec's
//! CollectFields): fragments spread, `@skip`/`@include` decided, the fields
//! of one response key merged, in the order of their first appearance.
//!
//! Validation has run: every field exists, every fragment applies to the
//! object it is spread in (the fast path's types are all objects, and the
//! only abstract type they belong to is `_Entity`, whose items collect the
//! fragments for their own type: [`Collected::children_on`]), merged
//! fields agree.

use std::collections::HashMap;

use async_graphql::{
    Name, Pos, Positioned, Value as Gql, Variables,
    parser::types::{Directive, Field, FragmentDefinition, Selection as Node, SelectionSet},
};
use graphloom_query::{Error, Result};
use indexmap::IndexMap;

use crate::translate::Selection;

/// What collecting reads besides the selection: the document's fragments
/// and the request's variables (defaults applied).
#[derive(Clone, Copy)]
pub(crate) struct Doc<'a> {
    pub fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    pub variables: &'a Variables,
}

/// One response key of a selection, with every field merged under it.
#[derive(Clone)]
pub(crate) struct Collected<'a> {
    doc: Doc<'a>,
    key: &'a str,
    name: &'a str,
    fields: Vec<&'a Positioned<Field>>,
}

impl<'a> Collected<'a> {
    pub fn key_str(&self) -> &'a str {
        self.key
    }

    pub fn name_str(&self) -> &'a str {
        self.name
    }

    /// Where the field stands in the document (its first occurrence).
    pub fn pos(&self) -> Pos {
        self.fields.first().map_or(Pos::default(), |f| f.pos)
    }
}

/// Whether `@skip` / `@include` keep a selection.
fn included(doc: Doc<'_>, directives: &[Positioned<Directive>]) -> bool {
    directives.iter().all(|d| {
        let cond = d
            .node
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == "if")
            .map(|(_, v)| {
                let value = v.node.clone().into_const_with(|var| {
                    Ok::<_, std::convert::Infallible>(
                        doc.variables.get(&var).cloned().unwrap_or(Gql::Null),
                    )
                });
                matches!(value, Ok(Gql::Boolean(true)))
            });
        match d.node.name.node.as_str() {
            "skip" => cond != Some(true),
            "include" => cond != Some(false),
            _ => true,
        }
    })
}

/// Whether a fragment with the type condition `cond` applies to an object
/// of the type `on` (`None`: every fragment does; the object types below
/// the roots are where validation put them).
fn applies(cond: Option<&str>, on: Option<&str>) -> bool {
    match (cond, on) {
        (Some(cond), Some(on)) => cond == on || cond == "_Entity",
        _ => true,
    }
}

fn collect_into<'a>(
    doc: Doc<'a>,
    set: &'a SelectionSet,
    on: Option<&str>,
    out: &mut Vec<Collected<'a>>,
) {
    for item in &set.items {
        match &item.node {
            Node::Field(field) => {
                if !included(doc, &field.node.directives) {
                    continue;
                }
                let f = &field.node;
                let key = f.alias.as_ref().unwrap_or(&f.name).node.as_str();
                match out.iter_mut().find(|c| c.key == key) {
                    Some(c) => c.fields.push(field),
                    None => out.push(Collected {
                        doc,
                        key,
                        name: f.name.node.as_str(),
                        fields: vec![field],
                    }),
                }
            }
            Node::FragmentSpread(spread) => {
                if !included(doc, &spread.node.directives) {
                    continue;
                }
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node)
                    && applies(Some(&fragment.node.type_condition.node.on.node), on)
                {
                    collect_into(doc, &fragment.node.selection_set.node, on, out);
                }
            }
            Node::InlineFragment(inline) => {
                let cond = inline
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str());
                if included(doc, &inline.node.directives) && applies(cond, on) {
                    collect_into(doc, &inline.node.selection_set.node, on, out);
                }
            }
        }
    }
}

/// The collected fields of one selection set.
pub(crate) fn collect<'a>(doc: Doc<'a>, set: &'a SelectionSet) -> Vec<Collected<'a>> {
    let mut out = Vec::new();
    collect_into(doc, set, None, &mut out);
    out
}

impl<'a> Collected<'a> {
    /// The fields selected on an item of the abstract type's member `ty`
    /// (`_entities`' items): fragments for other types left out.
    pub fn children_on(&self, ty: &str) -> Vec<Collected<'a>> {
        let mut out = Vec::new();
        for f in &self.fields {
            collect_into(self.doc, &f.node.selection_set.node, Some(ty), &mut out);
        }
        out
    }
}

impl Selection for Collected<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key(&self) -> String {
        self.key.to_owned()
    }

    fn arguments(&self) -> Result<IndexMap<String, Gql>> {
        let Some(first) = self.fields.first() else {
            return Ok(IndexMap::new());
        };
        let vars = self.doc.variables;
        first
            .node
            .arguments
            .iter()
            .map(|(name, value)| {
                let v = value.node.clone().into_const_with(|var| {
                    Ok::<_, Error>(vars.get(&var).cloned().unwrap_or(Gql::Null))
                })?;
                Ok((name.node.to_string(), v))
            })
            .collect()
    }

    fn children(&self) -> Vec<Self> {
        let mut out = Vec::new();
        for f in &self.fields {
            collect_into(self.doc, &f.node.selection_set.node, None, &mut out);
        }
        out
    }
}
