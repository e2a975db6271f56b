//! The input types: per-scalar filter inputs and the enums (from the
//! registry's capability table), each model's filter, list filter and order
//! inputs, its create and update inputs, and `ManyToManyInput`.

use std::{collections::BTreeSet, sync::Arc};

use async_graphql::dynamic::{Enum, EnumItem, Field, InputObject, InputValue, TypeRef};
use graphloom_meta::{FieldKind, FieldMeta, ModelMeta, Registry};
use graphloom_query::write::link_relations;

use crate::{convert::type_name, runtime::Runtime, translate::op_name};

/// The filter input type of a field's values: `StringFilter`, `PostStatusFilter`.
pub(crate) fn filter_type(f: &FieldMeta) -> String {
    match f.kind {
        FieldKind::Enum(e) => format!("{}Filter", e.name),
        _ => format!("{}Filter", type_name(f)),
    }
}

/// An input field of a deprecated model field carries the mark too (every
/// generated input field is optional, as `@deprecated` on inputs requires).
fn deprecated(iv: InputValue, f: &FieldMeta) -> InputValue {
    match f.federation.deprecated {
        Some(reason) => iv.deprecation(Some(reason)),
        None => iv,
    }
}

/// A field's GraphQL type.
pub(crate) fn field_type(f: &FieldMeta, nullable: bool) -> TypeRef {
    let name = type_name(f);
    if nullable {
        TypeRef::named(name)
    } else {
        TypeRef::named_nn(name)
    }
}

/// A plain list relation's arguments: which rows, in what order, how many
/// (a connection's without its cursors).
pub(crate) fn plain_list_args(field: Field, m: &ModelMeta) -> Field {
    field
        .argument(InputValue::new(
            "where",
            TypeRef::named(format!("{}Filter", m.graphql_name)),
        ))
        .argument(InputValue::new(
            "orderBy",
            TypeRef::named_nn_list(format!("{}OrderBy", m.graphql_name)),
        ))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
}

/// The arguments of a connection, root or nested: a list's, and cursors.
pub(crate) fn list_args(field: Field, m: &ModelMeta) -> Field {
    plain_list_args(field, m)
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
}

/// One filter input per scalar type of a field, with the operators the
/// capability table gives the field's kind, and one GraphQL enum per model enum.
///
/// Only the API's models count: a table-only model (`graphql = false`)
/// adds no input to the schema.
/// Also returns the enums it registered (those of the models' fields).
pub(crate) fn scalar_filters<'k>(
    mut schema: super::Types<'k>,
    reg: &Registry,
) -> (super::Types<'k>, BTreeSet<&'static str>) {
    let mut done = BTreeSet::new();
    for m in reg.models().iter().filter(|m| m.exposed) {
        for f in m.fields.iter().filter(|f| !f.hidden) {
            let name = filter_type(f);
            if !done.insert(name.clone()) {
                continue;
            }
            let scalar = match f.kind {
                FieldKind::Enum(e) => e.name.to_owned(),
                _ => type_name(f),
            };
            let mut input = InputObject::new(&name).description(format!(
                "Conditions on a {scalar} field; all that are set must hold."
            ));
            for op in f.capabilities().ops {
                let Some(op_name) = op_name(*op) else {
                    continue;
                };
                let ty = match op {
                    graphloom_meta::Op::In | graphloom_meta::Op::NotIn => {
                        TypeRef::named_nn_list(&scalar)
                    }
                    graphloom_meta::Op::IsNull => TypeRef::named(TypeRef::BOOLEAN),
                    op if op.is_text() => TypeRef::named(TypeRef::STRING),
                    _ => TypeRef::named(&scalar),
                };
                input = input.field(InputValue::new(op_name, ty));
            }
            schema = schema.register(input);
        }
    }
    let mut enums = BTreeSet::new();
    for m in reg.models().iter().filter(|m| m.exposed) {
        for f in &m.fields {
            if let FieldKind::Enum(e) = f.kind
                && enums.insert(e.name)
            {
                schema = schema.register(enum_type(e));
            }
        }
    }
    (schema, enums)
}

/// A model enum as a GraphQL enum: its values and their descriptions.
pub(crate) fn enum_type(e: &graphloom_meta::EnumDecl) -> Enum {
    let mut en = Enum::new(e.name);
    if let Some(h) = e.help {
        en = en.description(h);
    }
    for v in e.variants {
        let mut item = EnumItem::new(v.graphql());
        if let Some(h) = v.help {
            item = item.description(h);
        }
        if let Some(reason) = v.deprecated {
            item = item.deprecation(Some(reason));
        }
        en = en.item(item);
    }
    en
}

/// A model's filter, list filter and order inputs.
pub(crate) fn model_inputs(reg: &Registry, m: &ModelMeta) -> [InputObject; 3] {
    let name = &m.graphql_name;
    let mut filter = InputObject::new(format!("{name}Filter"))
        .description(format!(
            "Conditions on {}; all that are set must hold.",
            m.plural_name
        ))
        .field(InputValue::new(
            "AND",
            TypeRef::named_nn_list(format!("{name}Filter")),
        ))
        .field(InputValue::new(
            "OR",
            TypeRef::named_nn_list(format!("{name}Filter")),
        ))
        .field(InputValue::new(
            "NOT",
            TypeRef::named(format!("{name}Filter")),
        ));
    for f in m.fields.iter().filter(|f| !f.hidden) {
        filter = filter.field(deprecated(
            InputValue::new(&f.graphql_name, TypeRef::named(filter_type(f))),
            f,
        ));
    }
    // Relations into another service's entities are not filterable here.
    let local = |t: &ModelMeta| t.exposed && !t.external;
    for rel in m.relations.iter().filter(|r| local(reg.model(r.target))) {
        let target = reg.model(rel.target);
        let ty = if rel.is_many() {
            format!("{}ListFilter", target.graphql_name)
        } else {
            format!("{}Filter", target.graphql_name)
        };
        filter = filter.field(InputValue::new(&rel.name, TypeRef::named(ty)));
    }
    let list_filter = InputObject::new(format!("{name}ListFilter"))
        .description(format!("Conditions on a set of {}.", m.plural_name))
        .field(
            InputValue::new("some", TypeRef::named(format!("{name}Filter")))
                .description("At least one matches."),
        )
        .field(
            InputValue::new("none", TypeRef::named(format!("{name}Filter")))
                .description("None matches."),
        )
        .field(
            InputValue::new("every", TypeRef::named(format!("{name}Filter")))
                .description("All match (true for an empty set)."),
        );
    // Order input: one key per entry.
    let mut order = InputObject::new(format!("{name}OrderBy"))
        .description(
            "One sort key: a field, or a to-one relation's order. The primary key breaks ties.",
        )
        .oneof();
    for f in m
        .fields
        .iter()
        .filter(|f| !f.hidden && f.capabilities().order)
    {
        order = order.field(deprecated(
            InputValue::new(&f.graphql_name, TypeRef::named("SortDirection")),
            f,
        ));
    }
    for rel in m
        .relations
        .iter()
        .filter(|r| !r.is_many() && local(reg.model(r.target)))
    {
        order = order.field(InputValue::new(
            &rel.name,
            TypeRef::named(format!("{}OrderBy", reg.model(rel.target).graphql_name)),
        ));
    }
    [filter, list_filter, order]
}

/// A model's create (or update) input: its writable fields and its
/// many-to-many relations.
pub(crate) fn write_input(rt: &Arc<Runtime>, m: &ModelMeta, create: bool) -> InputObject {
    let reg = rt.registry();
    let mut obj = InputObject::new(format!(
        "{}{}Input",
        if create { "Create" } else { "Update" },
        m.graphql_name
    ));
    for f in m.fields.iter().filter(|f| f.writable(create)) {
        let mut iv = InputValue::new(&f.graphql_name, TypeRef::named(type_name(f)));
        let mut desc = f.help.unwrap_or_default().to_owned();
        if create && f.required_on_create() {
            desc = format!("Required. {desc}").trim().to_owned();
        }
        if !desc.is_empty() {
            iv = iv.description(desc);
        }
        obj = obj.field(deprecated(iv, f));
    }
    for ri in link_relations(reg, m) {
        obj = obj.field(InputValue::new(
            &m.relations[ri].name,
            TypeRef::named("ManyToManyInput"),
        ));
    }
    obj
}

/// Changes to a many-to-many relation.
pub(crate) fn many_to_many_input() -> InputObject {
    InputObject::new("ManyToManyInput")
        .description("Changes to a many-to-many relation: replace the set, or add and remove ids.")
        .field(InputValue::new("set", TypeRef::named_nn_list(TypeRef::ID)))
        .field(InputValue::new("add", TypeRef::named_nn_list(TypeRef::ID)))
        .field(InputValue::new(
            "remove",
            TypeRef::named_nn_list(TypeRef::ID),
        ))
}
