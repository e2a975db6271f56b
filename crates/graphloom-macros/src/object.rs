//! `#[derive(Object)]` and `#[derive(InputObject)]`: a struct's GraphQL
//! type, declared as data (an `ObjectDecl`). Values cross as the struct's
//! serde form, so a GraphQL field is named as serde names it: the derive
//! reads `#[serde(rename_all = "camelCase")]` and `#[serde(rename = "…")]`
//! and refuses a name serde and GraphQL would spell differently.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Result, spanned::Spanned};

use crate::expand::{Fed, doc, opt_str, option_name};

/// Options of `#[object(...)]` on the type or on a field.
#[derive(Default)]
struct Opts {
    name: Option<String>,
    keys: Vec<String>,
    /// `#[object(id)]` on a String field: GraphQL's `ID`.
    id: bool,
    fed: Fed,
}

fn parse_opts(attrs: &[Attribute], on_type: bool) -> Result<Opts> {
    let mut out = Opts::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("object")) {
        attr.parse_nested_meta(|meta| {
            let key = option_name(&meta);
            match key.as_str() {
                "name" if on_type => out.name = Some(meta.value()?.parse::<LitStr>()?.value()),
                "key" if on_type => {
                    let k = meta.value()?.parse::<LitStr>()?.value();
                    out.fed.declare(quote!(Key(#k)));
                    out.keys.push(k);
                }
                "id" if !on_type => out.id = true,
                k if out.fed.parse_common(k, &meta)? => {}
                "deprecated" if !on_type => {
                    out.fed.deprecated = Some(meta.value()?.parse::<LitStr>()?.value())
                }
                _ => {
                    return Err(meta.error(if on_type {
                        "unknown object option; expected one of: name, key, shareable, inaccessible, tag"
                    } else {
                        "unknown object field option; expected one of: id, shareable, inaccessible, tag, deprecated"
                    }));
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// serde's `rename_all` on the type and `rename` on a field, as far as
/// they change names; `skip` leaves a field out.
#[derive(Default)]
struct SerdeNames {
    rename_all: Option<String>,
    rename: Option<String>,
    skip: bool,
}

fn serde_names(attrs: &[Attribute]) -> Result<SerdeNames> {
    let mut out = SerdeNames::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let key = option_name(&meta);
            match key.as_str() {
                "rename_all" => out.rename_all = Some(meta.value()?.parse::<LitStr>()?.value()),
                "rename" => out.rename = Some(meta.value()?.parse::<LitStr>()?.value()),
                "skip" => out.skip = true,
                "flatten" => {
                    return Err(meta.error(
                        "graphloom cannot describe a flattened field; declare its fields here",
                    ));
                }
                _ => {
                    // Other serde options (default, with, …) keep the name;
                    // consume a value if there is one.
                    if meta.input.peek(syn::Token![=]) {
                        let _: syn::Expr = meta.value()?.parse()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        meta.parse_nested_meta(|inner| {
                            if inner.input.peek(syn::Token![=]) {
                                let _: syn::Expr = inner.value()?.parse()?;
                            }
                            Ok(())
                        })?;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

pub fn object(input: &DeriveInput, is_input: bool) -> Result<TokenStream> {
    let ident = &input.ident;
    let derive = if is_input { "InputObject" } else { "Object" };
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            format!("#[derive({derive})] needs a struct with named fields"),
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            input.span(),
            format!("#[derive({derive})] needs a struct with named fields"),
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            format!("#[derive({derive})] takes no generics: a GraphQL type has one name"),
        ));
    }
    let opts = parse_opts(&input.attrs, true)?;
    if is_input && (opts.fed.shareable || !opts.keys.is_empty()) {
        return Err(syn::Error::new(
            input.span(),
            "an input object cannot be `shareable` or keyed: they are for output types",
        ));
    }
    let keys = &opts.keys;
    let type_serde = serde_names(&input.attrs)?;
    match type_serde.rename_all.as_deref() {
        None | Some("camelCase") => {}
        Some(other) => {
            return Err(syn::Error::new(
                input.span(),
                format!(
                    "graphloom reads `rename_all = \"camelCase\"` only (found \"{other}\"): GraphQL fields are camelCase"
                ),
            ));
        }
    }
    let camel_all = type_serde.rename_all.is_some();
    let name = opts.name.clone().unwrap_or_else(|| ident.to_string());
    let description = opt_str(&doc(&input.attrs));
    let type_fed = opts.fed.tokens();
    let mut fields = Vec::new();
    for f in &named.named {
        let Some(fi) = &f.ident else { continue };
        let serde = serde_names(&f.attrs)?;
        if serde.skip {
            continue;
        }
        let rust = fi.to_string();
        let rust = rust.trim_start_matches("r#");
        // serde's name, which the GraphQL field takes: camelCase is the
        // registry's own conversion (serde's agrees on snake_case names).
        let gql = match (&serde.rename, camel_all) {
            (Some(n), _) => quote!(::std::string::String::from(#n)),
            (None, true) => quote!(::graphloom::meta::naming::camel_case(#rust)),
            (None, false) if rust.contains('_') => {
                return Err(syn::Error::new(
                    fi.span(),
                    format!(
                        "serde names this field `{rust}`, and GraphQL fields are camelCase: add #[serde(rename_all = \"camelCase\")] to the struct, or #[serde(rename = \"…\")] here"
                    ),
                ));
            }
            (None, false) => quote!(::std::string::String::from(#rust)),
        };
        let fo = parse_opts(&f.attrs, false)?;
        if is_input && fo.fed.shareable {
            return Err(syn::Error::new(
                fi.span(),
                "an input field cannot be `shareable`: @shareable is for output types",
            ));
        }
        let fed = fo.fed.tokens();
        let help = opt_str(&doc(&f.attrs));
        let ty = &f.ty;
        let ty = if fo.id {
            quote!(<#ty as ::graphloom::meta::TextId>::id_desc())
        } else {
            quote!(<#ty as ::graphloom::meta::Typed>::type_desc())
        };
        fields.push(quote! {
            ::graphloom::meta::ObjectField {
                name: #gql,
                ty: #ty,
                description: #help,
                federation: #fed,
            }
        });
    }
    Ok(quote! {
        impl ::graphloom::meta::Typed for #ident {
            fn type_desc() -> ::graphloom::meta::TypeDesc {
                static DECL: ::std::sync::OnceLock<::graphloom::meta::ObjectDecl> =
                    ::std::sync::OnceLock::new();
                ::graphloom::meta::TypeDesc::Object(DECL.get_or_init(|| ::graphloom::meta::ObjectDecl {
                    name: #name,
                    description: #description,
                    input: #is_input,
                    federation: #type_fed,
                    keys: ::std::vec![#(#keys),*],
                    field_list: || ::std::vec![#(#fields),*],
                    resolved: ::std::sync::OnceLock::new(),
                }))
            }
        }
    })
}
