//! Attribute parsing and code emission for the derives.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{
    Attribute, Data, DeriveInput, Expr, Fields, Ident, LitBool, LitInt, LitStr, Path, Result,
    meta::ParseNestedMeta, spanned::Spanned,
};

pub(crate) fn doc(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join(" ").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The name of one option in `#[attr(name = …, flag)]`.
pub(crate) fn option_name(meta: &syn::meta::ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default()
}

pub(crate) fn opt_str(v: &Option<String>) -> TokenStream {
    match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

#[derive(Default)]
struct ModelAttrs {
    app: Option<String>,
    table: Option<String>,
    graphql_name: Option<String>,
    plural: Option<String>,
    create: Option<Named>,
    update: Option<Named>,
    delete: Option<Named>,
    lookup: Option<Named>,
    list: Option<Named>,
    subscribe: Option<bool>,
    graphql: Option<bool>,
    rest: Option<bool>,
    external: bool,
    keys: Vec<String>,
    unique: Vec<String>,
    primary_key: Option<String>,
    validate: Option<Path>,
    fed: Fed,
}

/// `= false`, `= true` or `= "name"`: a generated root field off, on, or
/// renamed.
#[derive(Clone)]
pub(crate) enum Named {
    On(bool),
    Name(String),
}

impl Named {
    fn parse(meta: &syn::meta::ParseNestedMeta<'_>) -> Result<Named> {
        match meta.value()?.parse::<syn::Lit>()? {
            syn::Lit::Bool(b) => Ok(Named::On(b.value)),
            syn::Lit::Str(s) if !s.value().is_empty() => Ok(Named::Name(s.value())),
            other => Err(syn::Error::new(
                other.span(),
                "expected `false`, `true` or a GraphQL field name in quotes",
            )),
        }
    }

    fn on(named: &Option<Named>) -> bool {
        !matches!(named, Some(Named::On(false)))
    }

    /// As `Option<&str>`: the new name, if any.
    fn name_tokens(named: &Option<Named>) -> TokenStream {
        match named {
            Some(Named::Name(n)) => quote!(::core::option::Option::Some(#n)),
            _ => quote!(::core::option::Option::None),
        }
    }

    /// As a `Naming`.
    fn naming_tokens(named: &Option<Named>) -> TokenStream {
        match named {
            None | Some(Named::On(true)) => quote!(::graphloom::meta::Naming::Generated),
            Some(Named::On(false)) => quote!(::graphloom::meta::Naming::Off),
            Some(Named::Name(n)) => quote!(::graphloom::meta::Naming::Named(#n)),
        }
    }
}

/// Federation directive options shared by models and fields.
#[derive(Default)]
pub(crate) struct Fed {
    pub(crate) shareable: bool,
    pub(crate) inaccessible: bool,
    pub(crate) tags: Vec<String>,
    override_from: Option<String>,
    override_label: Option<String>,
    external: bool,
    unresolvable: bool,
    interface_object: bool,
    provides: Option<String>,
    directives: Vec<String>,
    pub(crate) deprecated: Option<String>,
    plain: bool,
    context: Option<String>,
    /// `Declared` entries in the attributes' order.
    order: Vec<TokenStream>,
}

impl Fed {
    /// The directive options that models, fields and value types share
    /// (`shareable`, `inaccessible`, `tag`); false for any other.
    pub(crate) fn parse_common(&mut self, key: &str, meta: &ParseNestedMeta) -> Result<bool> {
        match key {
            "shareable" => {
                self.shareable = true;
                self.declare(quote!(Shareable));
            }
            "inaccessible" => {
                self.inaccessible = true;
                self.declare(quote!(Inaccessible));
            }
            "tag" => {
                let t = meta.value()?.parse::<LitStr>()?.value();
                self.declare(quote!(Tag(#t)));
                self.tags.push(t);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Notes a declared directive's place (`Shareable`, `Tag("x")`, …).
    pub(crate) fn declare(&mut self, d: TokenStream) {
        self.order.push(quote!(::graphloom::meta::Declared::#d));
    }

    pub(crate) fn tokens(&self) -> TokenStream {
        let (shareable, inaccessible) = (self.shareable, self.inaccessible);
        let tags = &self.tags;
        let override_from = opt_str(&self.override_from);
        let override_label = opt_str(&self.override_label);
        let external = self.external;
        let unresolvable = self.unresolvable;
        let interface_object = self.interface_object;
        let provides = opt_str(&self.provides);
        let directives = &self.directives;
        let deprecated = opt_str(&self.deprecated);
        let plain = self.plain;
        let context = opt_str(&self.context);
        let order = &self.order;
        quote! {
            ::graphloom::meta::Federation {
                shareable: #shareable,
                inaccessible: #inaccessible,
                tags: ::std::vec![#(#tags),*],
                override_from: #override_from,
                override_label: #override_label,
                external: #external,
                unresolvable: #unresolvable,
                interface_object: #interface_object,
                provides: #provides,
                directives: ::std::vec![#(#directives),*],
                deprecated: #deprecated,
                plain: #plain,
                context: #context,
                order: ::std::vec![#(#order),*],
            }
        }
    }
}

fn parse_model_attrs(attrs: &[Attribute]) -> Result<ModelAttrs> {
    let mut out = ModelAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            let key = option_name(&meta);
            match key.as_str() {
                "app" => out.app = Some(meta.value()?.parse::<LitStr>()?.value()),
                "table" => out.table = Some(meta.value()?.parse::<LitStr>()?.value()),
                "graphql_name" => out.graphql_name = Some(meta.value()?.parse::<LitStr>()?.value()),
                "plural" => out.plural = Some(meta.value()?.parse::<LitStr>()?.value()),
                "create" => out.create = Some(Named::parse(&meta)?),
                "update" => out.update = Some(Named::parse(&meta)?),
                "delete" => out.delete = Some(Named::parse(&meta)?),
                "lookup" => out.lookup = Some(Named::parse(&meta)?),
                "list" => out.list = Some(Named::parse(&meta)?),
                "subscribe" => out.subscribe = Some(meta.value()?.parse::<LitBool>()?.value),
                "graphql" => out.graphql = Some(meta.value()?.parse::<LitBool>()?.value),
                "rest" => out.rest = Some(meta.value()?.parse::<LitBool>()?.value),
                "external" => out.external = true,
                "key" => {
                    let k = meta.value()?.parse::<LitStr>()?.value();
                    out.fed.declare(quote!(Key(#k)));
                    out.keys.push(k);
                }
                "unique" => out.unique.push(meta.value()?.parse::<LitStr>()?.value()),
                "primary_key" => {
                    out.primary_key = Some(meta.value()?.parse::<LitStr>()?.value())
                }
                "resolvable" => out.fed.unresolvable = !meta.value()?.parse::<LitBool>()?.value,
                "entity" => out.fed.plain = !meta.value()?.parse::<LitBool>()?.value,
                "interface_object" => {
                    out.fed.interface_object = true;
                    out.fed.declare(quote!(InterfaceObject));
                }
                "context" => {
                    out.fed.context = Some(meta.value()?.parse::<LitStr>()?.value());
                    out.fed.declare(quote!(Context));
                }
                "directive" => {
                    let d = meta.value()?.parse::<LitStr>()?.value();
                    out.fed.declare(quote!(Directive(#d)));
                    out.fed.directives.push(d);
                }
                k if out.fed.parse_common(k, &meta)? => {}
                "validate" => out.validate = Some(meta.value()?.parse::<Path>()?),
                _ => {
                    return Err(meta.error(
                        "unknown model option; expected one of: app, table, graphql_name, plural, lookup, list, create, update, delete, subscribe, graphql, rest, entity, external, key, unique, primary_key, resolvable, interface_object, context, directive, shareable, inaccessible, tag, validate",
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

#[derive(Default)]
struct FieldAttrs {
    flags: Vec<&'static str>,
    max_length: Option<u32>,
    max_digits: Option<u32>,
    decimal_places: Option<u32>,
    default: Option<Expr>,
    /// `Some(force)` for `default = current_user` (false) or `preset = current_user` (true).
    current_user: Option<bool>,
    column: Option<String>,
    help: Option<String>,
    on_delete: Option<Ident>,
    related_name: Option<String>,
    db_table: Option<String>,
    lookup: Option<Named>,
    fed: Fed,
}

const FLAGS: [&str; 9] = [
    "primary_key",
    "list",
    "related_list",
    "unique",
    "index",
    "read_only",
    "hidden",
    "auto_now",
    "auto_now_add",
];

fn parse_field_attrs(attrs: &[Attribute]) -> Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("field")) {
        attr.parse_nested_meta(|meta| {
            let key = option_name(&meta);
            if let Some(flag) = FLAGS.iter().find(|f| **f == key) {
                out.flags.push(flag);
                return Ok(());
            }
            match key.as_str() {
                k if out.fed.parse_common(k, &meta)? => {}
                "override_from" => {
                    out.fed.override_from = Some(meta.value()?.parse::<LitStr>()?.value());
                    out.fed.declare(quote!(Override));
                }
                "override_label" => out.fed.override_label = Some(meta.value()?.parse::<LitStr>()?.value()),
                "deprecated" => out.fed.deprecated = Some(meta.value()?.parse::<LitStr>()?.value()),
                "external" => {
                    out.fed.external = true;
                    out.fed.declare(quote!(External));
                }
                "provides" => out.fed.provides = Some(meta.value()?.parse::<LitStr>()?.value()),
                "directive" => {
                    let d = meta.value()?.parse::<LitStr>()?.value();
                    out.fed.declare(quote!(Directive(#d)));
                    out.fed.directives.push(d);
                }
                "max_length" => out.max_length = Some(meta.value()?.parse::<LitInt>()?.base10_parse()?),
                "max_digits" => out.max_digits = Some(meta.value()?.parse::<LitInt>()?.base10_parse()?),
                "decimal_places" => {
                    out.decimal_places = Some(meta.value()?.parse::<LitInt>()?.base10_parse()?)
                }
                "default" => {
                    let e = meta.value()?.parse::<Expr>()?;
                    match &e {
                        Expr::Path(p) if p.path.is_ident("current_user") => out.current_user = Some(false),
                        _ => out.default = Some(e),
                    }
                }
                "preset" => {
                    let ident: Ident = meta.value()?.parse()?;
                    if ident != "current_user" {
                        return Err(syn::Error::new(ident.span(), "preset must be: current_user"));
                    }
                    out.current_user = Some(true);
                }
                "column" => out.column = Some(meta.value()?.parse::<LitStr>()?.value()),
                "help" => out.help = Some(meta.value()?.parse::<LitStr>()?.value()),
                "related_name" => out.related_name = Some(meta.value()?.parse::<LitStr>()?.value()),
                "lookup" => out.lookup = Some(Named::parse(&meta)?),
                "db_table" => out.db_table = Some(meta.value()?.parse::<LitStr>()?.value()),
                "on_delete" => {
                    let ident: Ident = meta.value()?.parse()?;
                    if !["cascade", "protect", "set_null", "restrict"].contains(&ident.to_string().as_str()) {
                        return Err(syn::Error::new(
                            ident.span(),
                            "on_delete must be one of: cascade, protect, set_null, restrict",
                        ));
                    }
                    out.on_delete = Some(ident);
                }
                _ => {
                    return Err(meta.error(format!(
                        "unknown field option; expected one of: {}, max_length, max_digits, decimal_places, default, preset, column, help, on_delete, related_name, lookup, db_table, shareable, inaccessible, tag, override_from, override_label, external, provides, directive, deprecated",
                        FLAGS.join(", ")
                    )));
                }
            }
            Ok(())
        })?;
    }
    if out.fed.override_label.is_some() && out.fed.override_from.is_none() {
        return Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            "override_label needs override_from: the label says when the gateway takes the field from that subgraph",
        ));
    }
    Ok(out)
}

pub fn model(input: &DeriveInput) -> Result<TokenStream> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "a model cannot be generic",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(Model)] works on structs with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(Model)] works on structs with named fields",
        ));
    };
    let attrs = parse_model_attrs(&input.attrs)?;
    let Some(app) = attrs.app.clone() else {
        return Err(syn::Error::new(
            name.span(),
            "a model needs its app: #[model(app = \"blog\")]",
        ));
    };
    let name_str = name.to_string();
    let mut field_decls = Vec::new();
    let mut columns = Vec::new();
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for f in &fields.named {
        let Some(ident) = &f.ident else { continue };
        let fname = ident.to_string();
        let fname = fname.strip_prefix("r#").unwrap_or(&fname).to_owned();
        let ty = &f.ty;
        let constant = Ident::new(&fname.to_uppercase(), ident.span());
        let column_doc = format!("The `{fname}` column, for the model API.");
        columns.push(quote! {
            #[doc = #column_doc]
            pub const #constant: ::graphloom::query::Column<#name, #ty> =
                ::graphloom::query::Column::new(#fname);
        });
        reads.push(quote!(#ident: row.take(#fname)?));
        writes.push(quote! {
            if let ::core::option::Option::Some(v) = ::graphloom::meta::ToValue::to_value(&self.#ident) {
                out.push((#fname, v));
            }
        });
        let fa = parse_field_attrs(&f.attrs)?;
        let help = opt_str(&fa.help.clone().or_else(|| doc(&f.attrs)));
        let column = opt_str(&fa.column);
        let related_name = opt_str(&fa.related_name);
        let federation = fa.fed.tokens();
        let db_table = opt_str(&fa.db_table);
        let opt_u32 = |v: Option<u32>| match v {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let max_length = opt_u32(fa.max_length);
        let max_digits = opt_u32(fa.max_digits);
        let decimal_places = opt_u32(fa.decimal_places);
        let default = match &fa.default {
            Some(e) => quote!(::core::option::Option::Some(::graphloom::meta::Value::from(#e))),
            None => quote!(::core::option::Option::None),
        };
        let preset = match fa.current_user {
            Some(force) => quote!(::core::option::Option::Some(::graphloom::meta::Preset {
                value: ::graphloom::meta::PresetValue::CurrentUser,
                force: #force,
            })),
            None => quote!(::core::option::Option::None),
        };
        let on_delete = match &fa.on_delete {
            Some(i) => {
                let variant = match i.to_string().as_str() {
                    "protect" => quote!(Protect),
                    "set_null" => quote!(SetNull),
                    "restrict" => quote!(Restrict),
                    _ => quote!(Cascade),
                };
                quote!(::core::option::Option::Some(::graphloom::meta::OnDelete::#variant))
            }
            None => quote!(::core::option::Option::None),
        };
        let flag = |n: &str| fa.flags.contains(&n);
        let (list, related_list) = (flag("list"), flag("related_list"));
        let lookup = Named::naming_tokens(&fa.lookup);
        let (primary_key, unique, index, read_only, hidden, auto_now, auto_now_add) = (
            flag("primary_key"),
            flag("unique"),
            flag("index"),
            flag("read_only"),
            flag("hidden"),
            flag("auto_now"),
            flag("auto_now_add"),
        );
        field_decls.push(quote! {
            ::graphloom::meta::FieldDecl {
                name: #fname,
                kind: <#ty as ::graphloom::meta::FieldType>::kind(),
                nullable: <#ty as ::graphloom::meta::FieldType>::NULLABLE,
                options: ::graphloom::meta::FieldOptions {
                    primary_key: #primary_key,
                    max_length: #max_length,
                    max_digits: #max_digits,
                    decimal_places: #decimal_places,
                    default: #default,
                    preset: #preset,
                    unique: #unique,
                    index: #index,
                    column: #column,
                    help: #help,
                    read_only: #read_only,
                    hidden: #hidden,
                    auto_now: #auto_now,
                    auto_now_add: #auto_now_add,
                    on_delete: #on_delete,
                    related_name: #related_name,
                    list: #list,
                    related_list: #related_list,
                    lookup: #lookup,
                    db_table: #db_table,
                    federation: #federation,
                },
            }
        });
    }
    let table = opt_str(&attrs.table);
    let graphql_name = opt_str(&attrs.graphql_name);
    let plural = opt_str(&attrs.plural);
    let help = opt_str(&doc(&input.attrs));
    let (create, update, delete) = (
        Named::on(&attrs.create),
        Named::on(&attrs.update),
        Named::on(&attrs.delete),
    );
    let (lookup_name, list_name) = (
        Named::naming_tokens(&attrs.lookup),
        Named::naming_tokens(&attrs.list),
    );
    let (create_name, update_name, delete_name) = (
        Named::name_tokens(&attrs.create),
        Named::name_tokens(&attrs.update),
        Named::name_tokens(&attrs.delete),
    );
    let subscribe = attrs.subscribe.unwrap_or(true);
    let graphql = attrs.graphql.unwrap_or(true);
    let rest = attrs.rest.unwrap_or(true);
    let external = attrs.external;
    let keys = &attrs.keys;
    let unique = &attrs.unique;
    let primary_key = opt_str(&attrs.primary_key);
    let model_federation = attrs.fed.tokens();
    let validator = match &attrs.validate {
        Some(p) => quote!(::core::option::Option::Some(#p as ::graphloom::meta::Validator)),
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {
        impl #name {
            #(#columns)*

            /// The model API: every row of this model the context may see.
            pub fn objects(ctx: &::graphloom::query::Ctx) -> ::graphloom::query::QuerySet<'_, #name> {
                ::graphloom::query::QuerySet::new(ctx)
            }
        }
        impl ::graphloom::meta::FromRow for #name {
            fn from_row(
                mut row: ::graphloom::meta::RowReader<'_>,
            ) -> ::core::result::Result<Self, ::std::string::String> {
                ::core::result::Result::Ok(#name { #(#reads),* })
            }
        }
        impl ::graphloom::meta::ToRow for #name {
            fn to_row(&self) -> ::std::vec::Vec<(&'static str, ::graphloom::meta::Value)> {
                let mut out = ::std::vec::Vec::new();
                #(#writes)*
                out
            }
        }
        impl ::graphloom::meta::Model for #name {
            const APP: &'static str = #app;
            const NAME: &'static str = #name_str;
            fn decl() -> ::graphloom::meta::ModelDecl {
                ::graphloom::meta::ModelDecl {
                    app: #app,
                    name: #name_str,
                    table: #table,
                    graphql_name: #graphql_name,
                    plural: #plural,
                    help: #help,
                    fields: ::std::vec![#(#field_decls),*],
                    operations: ::graphloom::meta::Operations {
                        create: #create,
                        update: #update,
                        delete: #delete,
                        subscribe: #subscribe,
                        names: ::graphloom::meta::RootNames {
                            lookup: #lookup_name,
                            list: #list_name,
                            create: #create_name,
                            update: #update_name,
                            delete: #delete_name,
                        },
                    },
                    validator: #validator,
                    graphql: #graphql,
                    rest: #rest,
                    external: #external,
                    federation: #model_federation,
                    keys: ::std::vec![#(#keys),*],
                    unique: ::std::vec![#(#unique),*],
                    primary_key: #primary_key,
                }
            }
        }
    })
}

pub fn model_enum(input: &DeriveInput) -> Result<TokenStream> {
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(ModelEnum)] works on enums",
        ));
    };
    let mut gql_name = name.to_string();
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("model_enum"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                gql_name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("unknown option; expected: name"))
            }
        })?;
    }
    let mut variants = Vec::new();
    let mut to_index = Vec::new();
    let mut from_index = Vec::new();
    for (i, v) in data.variants.iter().enumerate() {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.span(),
                "a ModelEnum variant cannot carry data",
            ));
        }
        let vname = v.ident.to_string();
        let (mut stored, mut deprecated) = (None, None);
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("value")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("stored") {
                    stored = Some(meta.value()?.parse::<LitStr>()?.value());
                    Ok(())
                } else if meta.path.is_ident("deprecated") {
                    deprecated = Some(meta.value()?.parse::<LitStr>()?.value());
                    Ok(())
                } else {
                    Err(meta.error("unknown option; expected: stored, deprecated"))
                }
            })?;
        }
        // Names are derived at run time by graphloom-meta, in one place.
        let stored = opt_str(&stored);
        let deprecated = opt_str(&deprecated);
        let help = opt_str(&doc(&v.attrs));
        variants.push(quote! {
            ::graphloom::meta::EnumVariant {
                name: #vname,
                stored_as: #stored,
                help: #help,
                deprecated: #deprecated,
            }
        });
        let ident = &v.ident;
        to_index.push(quote!(#name::#ident => #i));
        from_index.push(
            quote!(::core::option::Option::Some(#i) => ::core::result::Result::Ok(#name::#ident)),
        );
    }
    let help = opt_str(&doc(&input.attrs));
    Ok(quote! {
        impl ::graphloom::meta::ModelEnum for #name {
            fn decl() -> &'static ::graphloom::meta::EnumDecl {
                static DECL: ::graphloom::meta::EnumDecl = ::graphloom::meta::EnumDecl {
                    name: #gql_name,
                    help: #help,
                    variants: &[#(#variants),*],
                };
                &DECL
            }
        }
        impl ::graphloom::meta::FieldType for #name {
            fn kind() -> ::graphloom::meta::KindDecl {
                ::graphloom::meta::KindDecl::Enum(<#name as ::graphloom::meta::ModelEnum>::decl())
            }
        }
        // Stored as the variant's text, which the declaration derives.
        impl ::graphloom::meta::ToValue for #name {
            fn to_value(&self) -> ::core::option::Option<::graphloom::meta::Value> {
                let i: usize = match self { #(#to_index),* };
                let decl = <#name as ::graphloom::meta::ModelEnum>::decl();
                ::core::option::Option::Some(::graphloom::meta::Value::String(
                    decl.variants[i].stored().into_owned(),
                ))
            }
        }
        impl ::core::convert::From<#name> for ::graphloom::meta::Value {
            fn from(v: #name) -> Self {
                ::graphloom::meta::ToValue::to_value(&v).unwrap_or(::graphloom::meta::Value::Null)
            }
        }
        impl ::graphloom::meta::FromValue for #name {
            fn from_value(v: ::graphloom::meta::Value) -> ::core::result::Result<Self, ::std::string::String> {
                let decl = <#name as ::graphloom::meta::ModelEnum>::decl();
                let found = match &v {
                    ::graphloom::meta::Value::String(s) => decl.variants.iter().position(|x| x.stored() == s.as_str()),
                    _ => ::core::option::Option::None,
                };
                match found {
                    #(#from_index,)*
                    _ => ::core::result::Result::Err(::std::format!("expected a {} value, got {:?}", decl.name, v)),
                }
            }
        }
        impl ::graphloom::meta::Operand<#name> for #name {
            fn into_value(self) -> ::graphloom::meta::Value {
                ::graphloom::meta::Value::from(self)
            }
        }
        // As a custom argument or result: the GraphQL enum, by its values.
        impl ::graphloom::meta::Typed for #name {
            fn type_desc() -> ::graphloom::meta::TypeDesc {
                ::graphloom::meta::TypeDesc::Enum(<#name as ::graphloom::meta::ModelEnum>::decl())
            }
        }
        impl ::graphloom::meta::__serde::Serialize for #name {
            fn serialize<S: ::graphloom::meta::__serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                let i: usize = match self { #(#to_index),* };
                s.serialize_str(&<#name as ::graphloom::meta::ModelEnum>::decl().variants[i].graphql())
            }
        }
        impl<'de> ::graphloom::meta::__serde::Deserialize<'de> for #name {
            fn deserialize<D: ::graphloom::meta::__serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                let text = <::std::string::String as ::graphloom::meta::__serde::Deserialize>::deserialize(d)?;
                let decl = <#name as ::graphloom::meta::ModelEnum>::decl();
                match decl.position(&text) {
                    #(#from_index,)*
                    _ => ::core::result::Result::Err(<D::Error as ::graphloom::meta::__serde::de::Error>::custom(
                        ::std::format!("`{}` is not a {} value", text, decl.name),
                    )),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_attrs_parse() {
        let f: syn::Field = syn::parse_quote! {
            #[field(max_length = 200, unique, default = "x", on_delete = protect)]
            pub title: String
        };
        let a = parse_field_attrs(&f.attrs).unwrap();
        assert_eq!(a.max_length, Some(200));
        assert_eq!(a.flags, vec!["unique"]);
        assert!(a.default.is_some());
        assert_eq!(
            a.on_delete.map(|i| i.to_string()).as_deref(),
            Some("protect")
        );
    }

    #[test]
    fn current_user_is_a_preset_not_an_expression() {
        let f: syn::Field =
            syn::parse_quote! { #[field(default = current_user)] pub author: ForeignKey<User> };
        let a = parse_field_attrs(&f.attrs).unwrap();
        assert_eq!((a.current_user, a.default.is_none()), (Some(false), true));
        let f: syn::Field =
            syn::parse_quote! { #[field(preset = current_user)] pub author: ForeignKey<User> };
        assert_eq!(
            parse_field_attrs(&f.attrs).unwrap().current_user,
            Some(true)
        );
        let f: syn::Field = syn::parse_quote! { #[field(preset = now)] pub at: DateTime<Utc> };
        assert!(parse_field_attrs(&f.attrs).is_err());
    }

    #[test]
    fn unknown_options_are_errors() {
        let f: syn::Field = syn::parse_quote! { #[field(max_lenght = 3)] pub t: String };
        let err = parse_field_attrs(&f.attrs).err().unwrap();
        assert!(err.to_string().contains("unknown field option"));
        let f: syn::Field = syn::parse_quote! { #[field(on_delete = nope)] pub t: String };
        assert!(parse_field_attrs(&f.attrs).is_err());
    }

    #[test]
    fn model_needs_app() {
        let d: DeriveInput = syn::parse_quote! { struct Post { id: Id } };
        assert!(model(&d).unwrap_err().to_string().contains("needs its app"));
        let d: DeriveInput = syn::parse_quote! { #[model(app = "blog")] struct Post { id: Id } };
        assert!(model(&d).is_ok());
    }

    #[test]
    fn enum_variants_carry_no_data() {
        let d: DeriveInput = syn::parse_quote! { enum S { Draft, InReview(u8) } };
        assert!(model_enum(&d).is_err());
    }
}
