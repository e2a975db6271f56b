//! The async-graphql dynamic schema generated from the registry. This
//! module only assembles; each part has its own: output types
//! ([`types`]), inputs ([`inputs`]), payloads ([`payloads`]), root fields
//! ([`resolvers`]); federation's entity resolver is [`crate::federation`].

pub(crate) mod inputs;
pub mod payloads;
pub(crate) mod resolvers;
pub(crate) mod types;

use std::sync::Arc;

use async_graphql::dynamic::{Enum, Object, Scalar, Schema, SchemaBuilder};

use crate::{convert::SCALARS, custom::Custom, runtime::Runtime};

/// Builds the schema's types.
pub(crate) fn build(rt: &Arc<Runtime>, custom: &Custom) -> SchemaBuilder {
    let reg = rt.registry();
    let has_mutation = !custom.mutations.is_empty()
        || !custom.raw_mutations.is_empty()
        || reg.models().iter().any(|m| {
            m.exposed && (m.operations.create || m.operations.update || m.operations.delete)
        });
    let mut schema = Schema::build("Query", has_mutation.then_some("Mutation"), None)
        .limit_depth(rt.config.max_depth)
        .enable_federation()
        .entity_resolver(crate::federation::resolver(Arc::clone(rt)));
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
    schema = inputs::scalar_filters(schema, reg);

    let mut query = Object::new("Query");
    let mut mutation = Object::new("Mutation");
    for m in reg.models().iter().filter(|m| m.exposed) {
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
        if m.operations.create {
            schema = schema
                .register(inputs::write_input(rt, m, true))
                .register(payloads::payload(rt, m, "Create"));
        }
        if m.operations.update {
            schema = schema
                .register(inputs::write_input(rt, m, false))
                .register(payloads::payload(rt, m, "Update"));
        }
        if m.operations.delete {
            schema = schema.register(payloads::delete_payload(m));
        }
    }
    for c in &custom.queries {
        query = query.field(resolvers::custom_field(rt, c));
    }
    for c in &custom.mutations {
        mutation = mutation.field(resolvers::custom_field(rt, c));
    }
    for f in &custom.raw_queries {
        query = query.field(f(rt));
    }
    for f in &custom.raw_mutations {
        mutation = mutation.field(f(rt));
    }
    for t in &custom.types {
        schema = schema.register(t(rt));
    }
    schema = schema.register(query);
    if has_mutation {
        schema = schema.register(mutation);
    }
    schema
}
