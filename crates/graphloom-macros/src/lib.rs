//! `#[derive(Model)]`, `#[derive(ModelEnum)]`, `#[derive(Object)]` and
//! `#[derive(InputObject)]`. Thin on purpose: they parse
//! attributes and emit plain declarations (data); everything else happens when
//! the registry resolves them at start-up. Use them through the `graphloom` crate.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod expand;
mod object;

/// Declares a model. See the graphloom guide for the attributes.
#[proc_macro_derive(Model, attributes(model, field))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::model(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares an enum stored as text and exposed as a GraphQL enum.
#[proc_macro_derive(ModelEnum, attributes(model_enum, value))]
pub fn derive_model_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::model_enum(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares a value type: a struct a custom or computed field returns as a
/// GraphQL object (no table, no key). Also derive `serde::Serialize`; its
/// names are the GraphQL field names.
#[proc_macro_derive(Object, attributes(object))]
pub fn derive_object(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    object::object(&input, false)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares an input object: a struct a custom field takes as an argument.
/// Also derive `serde::Deserialize`; its names are the GraphQL field names.
#[proc_macro_derive(InputObject, attributes(object))]
pub fn derive_input_object(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    object::object(&input, true)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
