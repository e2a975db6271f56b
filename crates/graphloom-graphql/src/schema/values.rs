//! Value types and input objects (`#[derive(Object)]`,
//! `#[derive(InputObject)]`): the GraphQL types of structs that custom and
//! computed fields return or take. A value crosses as its serde form, so an
//! object's field resolver reads its parent's map by the field's name.

use std::collections::BTreeMap;

use async_graphql::{
    Value as Gql,
    dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Object},
};
use graphloom_meta::{ObjectDecl, TypeDesc};

use crate::{
    convert::type_ref,
    schema::types::{federate_field, federate_object},
};

/// A value of type `d` as a resolver returns it: null as no value, lists
/// item by item, objects for their fields' resolvers to read.
pub(crate) fn field_value(d: &TypeDesc, v: Gql) -> Option<FieldValue<'static>> {
    match (d, v) {
        (_, Gql::Null) => None,
        (TypeDesc::Nullable(inner), v) => field_value(inner, v),
        (TypeDesc::List(item), Gql::List(items)) => Some(FieldValue::list(
            items
                .into_iter()
                .map(|i| field_value(item, i).unwrap_or(FieldValue::NULL)),
        )),
        (_, v) => Some(FieldValue::value(v)),
    }
}

/// The output type of a value type.
pub(crate) fn object_type(o: &'static ObjectDecl) -> Object {
    let mut obj = Object::new(o.name);
    if let Some(d) = o.description {
        obj = obj.description(d);
    }
    for f in o.fields() {
        let (name, ty) = (f.name.clone(), f.ty.clone());
        let mut field = Field::new(&f.name, type_ref(&f.ty), move |ctx| {
            let (name, ty) = (name.clone(), ty.clone());
            FieldFuture::new(async move {
                let v = match ctx.parent_value.as_value() {
                    Some(Gql::Object(map)) => map.get(name.as_str()).cloned().unwrap_or(Gql::Null),
                    _ => Gql::Null,
                };
                Ok(field_value(&ty, v))
            })
        });
        if let Some(d) = f.description {
            field = field.description(d);
        }
        obj = obj.field(federate_field(field, &f.federation));
    }
    for key in &o.keys {
        obj = obj.key(*key);
    }
    federate_object(obj, &o.federation)
}

/// The input type of an input object.
pub(crate) fn input_type(o: &'static ObjectDecl) -> InputObject {
    let mut obj = InputObject::new(o.name);
    if let Some(d) = o.description {
        obj = obj.description(d);
    }
    if o.federation.inaccessible {
        obj = obj.inaccessible();
    }
    if !o.federation.tags.is_empty() {
        obj = obj.tags(o.federation.tags.iter().copied());
    }
    for f in o.fields() {
        let mut iv = InputValue::new(&f.name, type_ref(&f.ty));
        if let Some(d) = f.description {
            iv = iv.description(d);
        }
        if f.federation.inaccessible {
            iv = iv.inaccessible();
        }
        if !f.federation.tags.is_empty() {
            iv = iv.tags(f.federation.tags.iter().copied());
        }
        if let Some(reason) = f.federation.deprecated {
            iv = iv.deprecation(Some(reason));
        }
        obj = obj.field(iv);
    }
    obj
}

/// Where a type is used: as an argument (`input`) or a result.
pub(crate) struct Use<'a> {
    pub ty: &'a TypeDesc,
    pub input: bool,
    /// What uses it, for the error (`the custom query `product``).
    pub by: String,
}

/// The value types and input objects the uses mention, each once, or why
/// they cannot be: an output type taken as an argument or the reverse, two
/// types of one name, or a name the generated schema already has.
pub(crate) fn collect(
    uses: &[Use<'_>],
    taken: &BTreeMap<String, String>,
) -> Result<Vec<&'static ObjectDecl>, String> {
    let mut found: Vec<&'static ObjectDecl> = Vec::new();
    for u in uses {
        for o in u.ty.objects() {
            if o.input != u.input {
                let (is, wants) = if o.input {
                    ("an input object (#[derive(InputObject)])", "a result")
                } else {
                    ("a value type (#[derive(Object)])", "an argument")
                };
                return Err(format!(
                    "{} uses `{}` as {wants}, but it is {is}: GraphQL keeps input and output types apart; declare one of each",
                    u.by, o.name
                ));
            }
            match found.iter().find(|f| f.name == o.name) {
                Some(f) if std::ptr::eq(*f, o) => {}
                Some(_) => {
                    return Err(format!(
                        "two Rust types are both named `{}` in GraphQL: rename one with #[object(name = \"…\")]",
                        o.name
                    ));
                }
                None => {
                    if let Some(by) = taken.get(o.name) {
                        return Err(format!(
                            "the type `{}` of {} is named as {by} already is: rename it with #[object(name = \"…\")]",
                            o.name, u.by
                        ));
                    }
                    found.push(o);
                }
            }
        }
    }
    Ok(found)
}
