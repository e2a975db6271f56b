//! The async-graphql dynamic schema generated from the registry. This
//! module only assembles; each part has its own: output types
//! ([`types`]), inputs ([`inputs`]), payloads ([`payloads`]), root fields
//! ([`resolvers`]); federation's entity resolver is [`crate::federation`].

pub(crate) mod inputs;
pub mod payloads;
pub(crate) mod resolvers;
pub(crate) mod types;
pub(crate) mod values;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use async_graphql::dynamic::{Enum, Object, Scalar, Schema, SchemaBuilder, Subscription, Type};

use crate::{convert::SCALARS, custom::Custom, runtime::Runtime};

/// The root fields taken so far, and by what: a custom field with the
/// name of another is refused here (async-graphql would panic on it).
#[derive(Default)]
struct Taken(BTreeMap<String, String>);

impl Taken {
    fn take(&mut self, root: &str, name: &str, what: String) -> Result<(), String> {
        match self.0.get(name) {
            Some(by) => Err(format!(
                "{what} is named `{name}`, as {by} already is: rename it (the {root} type has one field per name)"
            )),
            None => {
                self.0.insert(name.to_owned(), what);
                Ok(())
            }
        }
    }
}

/// The model enums a type mentions, in its value types' fields too.
fn enums_in(d: &graphloom_meta::TypeDesc) -> Vec<&'static graphloom_meta::EnumDecl> {
    use graphloom_meta::TypeDesc as T;
    fn direct(d: &T, out: &mut Vec<&'static graphloom_meta::EnumDecl>) {
        match d {
            T::Enum(e) => out.push(e),
            T::List(inner) | T::Nullable(inner) => direct(inner, out),
            // Its fields are walked once, below; a model's are its own.
            T::Object(_) | T::Model { .. } => {}
            T::Boolean | T::Int | T::Float | T::String | T::Id | T::Json => {}
        }
    }
    let mut out = Vec::new();
    direct(d, &mut out);
    for o in d.objects() {
        for f in o.fields() {
            direct(&f.ty, &mut out);
        }
    }
    out
}

/// The names of the types the schema generates, each with what it is: a
/// value type may not take one.
fn generated_types(
    reg: &graphloom_meta::Registry,
    enums: &std::collections::BTreeSet<&'static str>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |name: String, what: String| {
        out.entry(name).or_insert(what);
    };
    for name in [
        "Query",
        "Mutation",
        "Subscription",
        "PageInfo",
        "FieldError",
        "ErrorCode",
        "SortDirection",
        "ManyToManyInput",
        crate::subscriptions::KIND,
        "_Service",
        "_Entity",
        "_Any",
        "String",
        "Int",
        "Float",
        "Boolean",
        "ID",
    ] {
        put(name.into(), format!("the built-in type `{name}`"));
    }
    for (name, _) in SCALARS {
        put(name.into(), format!("the scalar `{name}`"));
    }
    for e in enums {
        put((*e).into(), format!("the enum `{e}`"));
    }
    for m in reg.models().iter().filter(|m| m.exposed) {
        let model = &m.graphql_name;
        put(model.clone(), format!("the model {model}"));
        for f in m.fields.iter().filter(|f| !f.hidden) {
            put(inputs::filter_type(f), "a generated filter".into());
        }
        for suffix in [
            "Edge",
            "Connection",
            "Filter",
            "ListFilter",
            "OrderBy",
            "Change",
        ] {
            put(
                format!("{model}{suffix}"),
                format!("a type generated for {model}"),
            );
        }
        for verb in ["Create", "Update", "Delete"] {
            put(
                format!("{verb}{model}Payload"),
                format!("a type generated for {model}"),
            );
            put(
                format!("{verb}{model}Input"),
                format!("a type generated for {model}"),
            );
        }
    }
    out
}

/// The value types an app resolves as entities, by name; a resolver of a
/// type that is no keyed value type, or two of one type, is an error.
fn value_entities(custom: &Custom) -> Result<crate::federation::Entities, String> {
    let mut out = std::collections::HashMap::new();
    for e in &custom.entities {
        let graphloom_meta::TypeDesc::Object(o) = &e.ty else {
            return Err(
                "an entity resolver (App::entity) must resolve a #[derive(Object)] struct".into(),
            );
        };
        if o.keys.is_empty() || o.input {
            return Err(format!(
                "an entity resolver (App::entity) resolves `{}`, which has no key: add #[object(key = \"…\")]",
                o.name
            ));
        }
        if out
            .insert(o.name.to_owned(), (*o, e.resolver.clone()))
            .is_some()
        {
            return Err(format!("two entity resolvers resolve `{}`", o.name));
        }
    }
    Ok(Arc::new(out))
}

/// The types a schema registers: all but those in `skip` (the types no
/// client can meet, [`crate::diff::unreachable_types`] of a first build:
/// a model whose list is hidden leaves its filter, order and connection
/// types behind, a service without a decimal field the `Decimal` scalar).
pub(crate) struct Types<'k> {
    builder: SchemaBuilder,
    skip: &'k BTreeSet<String>,
}

impl Types<'_> {
    pub(crate) fn register(mut self, ty: impl Into<Type>) -> Self {
        let ty = ty.into();
        let name = match &ty {
            Type::Scalar(t) => t.type_name(),
            Type::Object(t) => t.type_name(),
            Type::InputObject(t) => t.type_name(),
            Type::Enum(t) => t.type_name(),
            Type::Interface(t) => t.type_name(),
            Type::Union(t) => t.type_name(),
            Type::Subscription(t) => t.type_name(),
            Type::Upload => "Upload",
        };
        if !self.skip.contains(name) {
            self.builder = self.builder.register(ty);
        }
        self
    }
}

/// Builds the schema's types but those in `skip`; a root field named twice
/// is an error.
pub(crate) fn build(
    rt: &Arc<Runtime>,
    custom: &Custom,
    skip: &BTreeSet<String>,
) -> Result<SchemaBuilder, String> {
    let reg = rt.registry();
    let has_mutation = !custom.mutations.is_empty()
        || !custom.raw_mutations.is_empty()
        || reg.models().iter().any(|m| {
            // A model whose generated mutations are all switched off or
            // renamed away adds none.
            m.exposed
                && !m.external
                && resolvers::Verb::ALL
                    .into_iter()
                    .any(|verb| resolvers::mutation_name(m, verb).is_some())
        });
    let has_subscription =
        !custom.subscriptions.is_empty() || reg.models().iter().any(crate::subscriptions::offered);
    let resolved = value_entities(custom)?;
    let builder = Schema::build(
        "Query",
        has_mutation.then_some("Mutation"),
        has_subscription.then_some("Subscription"),
    )
    .limit_depth(rt.config.max_depth)
    .enable_federation()
    .entity_resolver(crate::federation::resolver(
        Arc::clone(rt),
        Arc::clone(&resolved),
    ));
    let mut schema = Types { builder, skip };
    // `introspection: false` is enforced by `cost::lint` (async-graphql's
    // switch would turn `_service` and `_entities` off too).
    for (name, desc) in SCALARS {
        schema = schema.register(Scalar::new(name).description(desc));
    }
    schema = schema
        .register(Enum::new("SortDirection").item("ASC").item("DESC"))
        .register(payloads::error_code_enum())
        .register(payloads::field_error_type())
        .register(types::page_info_type())
        .register(inputs::many_to_many_input());
    let (with_filters, mut enums) = inputs::scalar_filters(schema, reg);
    schema = with_filters;
    // The types only custom and computed fields use: enums, value types
    // and input objects.
    let mut uses: Vec<values::Use<'_>> = Vec::new();
    let heads = custom
        .queries
        .iter()
        .chain(&custom.mutations)
        .map(|c| (&c.head, &*c.returns, "query or mutation"))
        .chain(
            custom
                .subscriptions
                .iter()
                .map(|c| (&c.head, &*c.returns, "subscription")),
        );
    for (head, returns, kind) in heads {
        let by = format!("the custom {kind} `{}`", head.name);
        uses.extend(head.args.iter().map(|a| values::Use {
            ty: &a.ty,
            input: true,
            by: by.clone(),
        }));
        if let crate::custom::Returns::Scalar(t) = returns {
            uses.push(values::Use {
                ty: t,
                input: false,
                by,
            });
        }
    }
    uses.extend(custom.entities.iter().map(|e| values::Use {
        ty: &e.ty,
        input: false,
        by: "an entity resolver (App::entity)".into(),
    }));
    for m in reg.models().iter().filter(|m| m.exposed) {
        for c in &m.computed {
            let by = format!("the computed field `{}.{}`", m.graphql_name, c.name);
            uses.extend(c.args.iter().map(|a| values::Use {
                ty: &a.ty,
                input: true,
                by: by.clone(),
            }));
            uses.push(values::Use {
                ty: &c.output,
                input: false,
                by,
            });
        }
    }
    for u in &uses {
        for e in enums_in(u.ty) {
            if enums.insert(e.name) {
                schema = schema.register(inputs::enum_type(e));
            }
        }
    }
    let objects = values::collect(reg, &uses, &generated_types(reg, &enums))?;
    let mut key_places = crate::runtime::KeyPlaces::new();
    let references = objects
        .iter()
        .any(|o| o.fields().iter().any(|f| f.ty.model().is_some()));
    rt.value_references
        .store(references, std::sync::atomic::Ordering::Relaxed);
    for o in objects {
        if !o.keys.is_empty() && !resolved.contains_key(o.name) {
            return Err(format!(
                "the value type `{}` is keyed (#[object(key = …)]) and nothing resolves it: add App::entity(CustomEntity::new::<{}, …>(…))",
                o.name, o.name
            ));
        }
        if !o.input && !o.keys.is_empty() {
            let places = types::key_places(&o.federation, o.keys.len(), |k| {
                o.keys.iter().position(|x| *x == k)
            });
            key_places.insert(o.name.to_owned(), places);
        }
        schema = if o.input {
            schema.register(values::input_type(o))
        } else {
            schema.register(values::object_type(rt, o))
        };
    }

    let mut query = Object::new("Query");
    let mut mutation = Object::new("Mutation");
    let mut subscription = Subscription::new("Subscription");
    let (mut queries, mut mutations) = (Taken::default(), Taken::default());
    let mut subscriptions = Taken::default();
    for name in ["_service", "_entities"] {
        queries.take("Query", name, "federation's field".into())?;
    }
    for m in reg.models().iter().filter(|m| m.exposed && !m.external) {
        let model = &m.graphql_name;
        for (_, name) in resolvers::lookups(m) {
            queries.take("Query", &name, format!("the generated lookup of {model}"))?;
        }
        if let Some(list) = &m.roots.list {
            queries.take("Query", list, format!("the generated list of {model}"))?;
        }
        for verb in resolvers::Verb::ALL {
            if let Some(name) = resolvers::mutation_name(m, verb) {
                mutations.take("Mutation", name, format!("the generated {name}"))?;
            }
        }
        if crate::subscriptions::offered(m) {
            let name = crate::subscriptions::field_name(m);
            subscriptions.take("Subscription", &name, format!("the generated {name}"))?;
        }
    }
    for c in &custom.subscriptions {
        subscriptions.take(
            "Subscription",
            &c.head.name,
            format!("the custom subscription `{}`", c.head.name),
        )?;
    }
    for c in &custom.queries {
        let name = &c.head.name;
        queries.take("Query", name, format!("the custom query `{name}`"))?;
    }
    // GraphQL deprecates only optional arguments.
    let heads = custom
        .queries
        .iter()
        .chain(&custom.mutations)
        .map(|c| &c.head)
        .chain(custom.subscriptions.iter().map(|c| &c.head));
    for head in heads {
        let required = |a: &&crate::custom::Arg| {
            a.deprecated.is_some()
                && a.default.is_none()
                && !matches!(a.ty, graphloom_meta::TypeDesc::Nullable(_))
        };
        if let Some(a) = head.args.iter().find(required) {
            return Err(format!(
                "the argument `{}` of `{}` is deprecated and required: GraphQL deprecates only optional arguments; make it an Option",
                a.name, head.name
            ));
        }
    }
    // A connection also takes the generated list's arguments.
    for c in custom.queries.iter().chain(&custom.mutations) {
        if !matches!(&*c.returns, crate::custom::Returns::Connection(_)) {
            continue;
        }
        let list = [
            "where", "orderBy", "first", "after", "last", "before", "offset",
        ];
        if let Some(a) = c.head.args.iter().find(|a| list.contains(&a.name.as_str())) {
            return Err(format!(
                "the custom field `{}` returns a connection, which takes `{}` already: rename its argument",
                c.head.name, a.name
            ));
        }
    }
    for c in &custom.mutations {
        mutations.take(
            "Mutation",
            &c.head.name,
            format!("the custom mutation `{}`", c.head.name),
        )?;
    }
    for (name, _) in &custom.raw_queries {
        queries.take("Query", name, format!("an app's query `{name}`"))?;
    }
    for (name, _) in &custom.raw_mutations {
        mutations.take("Mutation", name, format!("an app's mutation `{name}`"))?;
    }
    for m in reg.models().iter().filter(|m| m.exposed) {
        if !m.federation.plain {
            let places = types::key_places(&m.federation, m.keys.len(), |k| m.key_index(k));
            key_places.insert(m.graphql_name.clone(), places);
        }
        schema = schema.register(types::object_type(rt, m));
        // Another service owns an external entity: here it is only a key
        // with the relations this service adds to it.
        if m.external {
            continue;
        }
        let (edge, conn) = types::connection_types(rt, m);
        schema = schema.register(edge).register(conn);
        for input in inputs::model_inputs(reg, m) {
            schema = schema.register(input);
        }
        query = resolvers::query_fields(query, rt, m);
        mutation = resolvers::mutation_fields(mutation, rt, m);
        if crate::subscriptions::offered(m) {
            schema = schema.register(crate::subscriptions::change_type(m));
            subscription = subscription.field(crate::subscriptions::field(rt, m));
        }
        if m.operations.create {
            schema = schema
                .register(inputs::write_input(rt, m, true))
                .register(payloads::payload(m, resolvers::Verb::Create));
        }
        if m.operations.update {
            schema = schema
                .register(inputs::write_input(rt, m, false))
                .register(payloads::payload(m, resolvers::Verb::Update));
        }
        if m.operations.delete {
            schema = schema.register(payloads::delete_payload(m));
        }
    }
    for c in &custom.queries {
        query = query.field(resolvers::custom_field(rt, c, "Query"));
    }
    for c in &custom.mutations {
        mutation = mutation.field(resolvers::custom_field(rt, c, "Mutation"));
    }
    for c in &custom.subscriptions {
        subscription = subscription.field(crate::subscriptions::custom_field(rt, c));
    }
    for (_, f) in &custom.raw_queries {
        query = query.field(f(rt));
    }
    for (_, f) in &custom.raw_mutations {
        mutation = mutation.field(f(rt));
    }
    for t in &custom.types {
        schema = schema.register(t(rt));
    }
    schema = schema.register(query);
    if has_mutation {
        schema = schema.register(mutation);
    }
    if has_subscription {
        schema = schema
            .register(crate::subscriptions::kind_enum())
            .register(subscription);
    }
    // Both builds find the same places (entities are never unreachable).
    let _ = rt.key_places.set(key_places);
    Ok(schema.builder)
}

#[cfg(test)]
mod tests {
    use async_graphql::dynamic::{
        Field, FieldFuture, FieldValue, InputObject, InputValue, Interface, InterfaceField, Object,
        Scalar, Schema, TypeRef, Union,
    };

    fn field(name: &str, ty: TypeRef) -> Field {
        Field::new(name, ty, |_| {
            FieldFuture::new(async { Ok(None::<FieldValue>) })
        })
    }

    #[test]
    fn unreachable_types_are_those_no_operation_can_name() {
        let schema = Schema::build("Query", None, None)
            .register(
                Object::new("Query")
                    .field(
                        field("a", TypeRef::named("A"))
                            .argument(InputValue::new("w", TypeRef::named_nn_list("W"))),
                    )
                    .field(field("u", TypeRef::named("U"))),
            )
            .register(
                Object::new("A")
                    .implement("I")
                    .field(field("f", TypeRef::named(TypeRef::STRING))),
            )
            .register(
                Interface::new("I")
                    .field(InterfaceField::new("f", TypeRef::named(TypeRef::STRING))),
            )
            .register(InputObject::new("W").field(InputValue::new("x", TypeRef::named("S"))))
            .register(Scalar::new("S"))
            .register(Union::new("U").possible_type("B"))
            .register(Object::new("B").field(field("g", TypeRef::named(TypeRef::INT))))
            // An entity: `_entities` returns it.
            .register(
                Object::new("E")
                    .key("id")
                    .field(field("id", TypeRef::named_nn(TypeRef::ID)))
                    .field(field("t", TypeRef::named("T"))),
            )
            .register(Scalar::new("T"))
            .register(Scalar::new("Unused"))
            .register(Object::new("Lost").field(field("l", TypeRef::named("LostToo"))))
            .register(
                Object::new("LostToo").field(
                    field("x", TypeRef::named(TypeRef::INT))
                        .argument(InputValue::new("i", TypeRef::named("LostInput"))),
                ),
            )
            .register(
                InputObject::new("LostInput")
                    .field(InputValue::new("x", TypeRef::named(TypeRef::FLOAT))),
            )
            .entity_resolver(|_| FieldFuture::new(async { Ok(None::<FieldValue>) }))
            .finish()
            .unwrap();
        let lost = crate::diff::unreachable_types(&schema.sdl()).unwrap();
        assert_eq!(lost, ["Lost", "LostInput", "LostToo", "Unused"]);
    }
}
