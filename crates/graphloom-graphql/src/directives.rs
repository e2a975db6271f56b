//! Directives in the printed schema: the custom directives the service
//! composes into the supergraph (`@composeDirective`, declared and checked in
//! the registry: `graphloom.E014`), and the auth directives derived from the
//! permission rules (`@authenticated`, `@requiresScopes`, `@policy`).

use async_graphql::{
    Value as Gql,
    dynamic::{Directive, Field},
    parser::{
        parse_schema,
        types::{TypeKind, TypeSystemDefinition},
    },
};
use graphloom_meta::{CheckError, CheckId, ComposedDirective, Need, Operation, Registry};

use crate::runtime::Runtime;

/// One usage, `@name(arg: value, …)`, as async-graphql's directive.
pub(crate) fn usage(text: &str) -> Result<Directive, String> {
    // A usage is what follows a scalar's name in SDL; parse it as one.
    let doc = parse_schema(format!("scalar X {text}")).map_err(|e| e.to_string())?;
    let mut directives = doc.definitions.into_iter().filter_map(|d| match d {
        TypeSystemDefinition::Type(t) if matches!(t.node.kind, TypeKind::Scalar) => {
            Some(t.node.directives)
        }
        _ => None,
    });
    match (directives.next().as_deref(), directives.next()) {
        (Some([one]), None) => {
            let d = &one.node;
            Ok(d.arguments
                .iter()
                .fold(Directive::new(d.name.node.as_str()), |acc, (k, v)| {
                    acc.argument(k.node.as_str(), v.node.clone())
                }))
        }
        _ => Err(format!("`{text}` is not one directive usage")),
    }
}

/// Parses every usage and definition the registry holds; the registry
/// checked their shape, the GraphQL parser checks the rest (`graphloom.E014`).
pub(crate) fn check(reg: &Registry) -> Vec<CheckError> {
    let mut errors = Vec::new();
    let bad = |at: String, message: String| {
        CheckError::new(
            CheckId::E014,
            at,
            message,
            "write the directive as GraphQL: `@name(arg: value)`, defined as `directive @name(arg: Type) on …`",
        )
    };
    for d in reg.composed_directives() {
        let one = parse_schema(&d.definition).ok().is_some_and(|doc| {
            matches!(
                doc.definitions.as_slice(),
                [TypeSystemDefinition::Directive(_)]
            )
        });
        if !one {
            errors.push(bad(
                format!("compose_directive({})", d.url),
                format!("`{}` is not one directive definition", d.definition),
            ));
        }
    }
    for (at, text) in reg.directive_usages() {
        if let Err(e) = usage(text) {
            errors.push(bad(at, e));
        }
    }
    errors
}

/// The directive definitions, for both SDLs.
pub(crate) fn definitions(composed: &[ComposedDirective]) -> String {
    composed
        .iter()
        .map(|c| format!("{}\n", c.definition))
        .collect()
}

/// The subgraph SDL's links to the specs, each directive imported and marked
/// `@composeDirective`.
pub(crate) fn links(composed: &[ComposedDirective]) -> String {
    let mut urls: Vec<&str> = composed.iter().map(|c| c.url.as_str()).collect();
    urls.dedup();
    urls.iter()
        .map(|url| {
            let names: Vec<&str> = composed
                .iter()
                .filter(|c| c.url == *url)
                .map(|c| c.name.as_str())
                .collect();
            let imports: Vec<String> = names.iter().map(|n| format!("\"@{n}\"")).collect();
            let marks: Vec<String> = names
                .iter()
                .map(|n| format!(" @composeDirective(name: \"@{n}\")"))
                .collect();
            format!(
                "extend schema @link(url: \"{url}\", import: [{}]){}\n",
                imports.join(", "),
                marks.concat()
            )
        })
        .collect()
}

/// The auth directives a [`Need`] prints as in the subgraph SDL, each with
/// its text (imported by the federation `@link`, see
/// [`crate::link::upgrade_link`]): `@requiresScopes` when every way through
/// holds scopes, else `@authenticated` when every way needs a login; and
/// `@policy` when every way holds a policy.
pub(crate) fn auth_directives(need: &Need) -> Vec<(Directive, String)> {
    let mut out = Vec::new();
    if let Some(scopes) = need.scopes() {
        out.push(sets_usage("requiresScopes", "scopes", scopes));
    } else if need.login() {
        out.push((Directive::new("authenticated"), "@authenticated".to_owned()));
    }
    if let Some(policies) = need.policies() {
        out.push(sets_usage("policy", "policies", policies));
    }
    out
}

/// `@name(arg: [["a", "b"], ["c"]])` and its text.
fn sets_usage(name: &str, arg: &str, sets: Vec<Vec<String>>) -> (Directive, String) {
    let sets = Gql::List(
        sets.into_iter()
            .map(|set| Gql::List(set.into_iter().map(Gql::from).collect()))
            .collect(),
    );
    let text = format!("@{name}({arg}: {sets})");
    (Directive::new(name).argument(arg, sets), text)
}

/// What the rule of `op` on `model` needs of every request.
pub(crate) fn need(reg: &Registry, model: graphloom_meta::ModelId, op: Operation) -> Need {
    Need::of(reg.rules(model).op(op))
}

/// What a field's read rule needs of every request that sees its value.
pub(crate) fn field_need(reg: &Registry, model: graphloom_meta::ModelId, field: usize) -> Need {
    reg.rules(model)
        .fields
        .get(&field)
        .map_or_else(Need::nothing, Need::of)
}

/// A field with the auth directive of `need`, when the service prints them.
pub(crate) fn field_with_auth(rt: &Runtime, f: Field, need: &Need) -> Field {
    if !rt.config.auth_directives {
        return f;
    }
    auth_directives(need)
        .into_iter()
        .fold(f, |f, (d, _)| f.directive(d))
}

/// `@listSize` on a connection (`connection`) or a plain list of rows, as
/// this service pages it: `first` / `last` size the page, the default page
/// when neither is given; a connection's rows are its `edges` and `nodes`.
pub(crate) fn with_list_size(rt: &Runtime, f: Field, connection: bool) -> Field {
    if !rt.config.cost_directives || !rt.config.federation().defines("@cost") {
        return f;
    }
    let names = |items: &[&str]| {
        async_graphql::Value::List(
            items
                .iter()
                .map(|s| async_graphql::Value::String((*s).to_owned()))
                .collect(),
        )
    };
    let assumed = async_graphql::Value::from(rt.config.default_page_size);
    let d = Directive::new("listSize").argument("assumedSize", assumed);
    let d = if connection {
        d.argument("slicingArguments", names(&["first", "last"]))
            .argument("sizedFields", names(&["edges", "nodes"]))
    } else {
        d.argument("slicingArguments", names(&["first"]))
    };
    f.directive(d.argument(
        "requireOneSlicingArgument",
        async_graphql::Value::Boolean(false),
    ))
}

/// `@cost(weight:)` on `Type.field` when the service weighs it
/// ([`crate::cost::Limits::weights`]), so a gateway prices it alike.
pub(crate) fn with_cost(rt: &Runtime, f: Field, ty: &str, field: &str) -> Field {
    if !rt.config.cost_directives || !rt.config.federation().defines("@cost") {
        return f;
    }
    match rt.config.limits.weights.get(&format!("{ty}.{field}")) {
        Some(w) => {
            f.directive(Directive::new("cost").argument("weight", async_graphql::Value::from(*w)))
        }
        None => f,
    }
}

/// The plain SDL without the directives printed as usages that only a
/// gateway reads (federation's, demand control, `@context` and
/// `@fromContext`): a plain schema does not declare them.
pub(crate) fn strip_gateway_only(sdl: &str) -> String {
    const WITH_ARGS: [&str; 7] = [
        " @listSize(",
        " @cost(",
        " @override(",
        " @context(",
        " @fromContext(",
        " @tag(",
        " @requires(",
    ];
    const BARE: [&str; 4] = [
        " @shareable",
        " @inaccessible",
        " @external",
        " @interfaceObject",
    ];
    // A bare name ends where a name cannot go on (`@shareableX` is another).
    let bare_at = |rest: &str, d: &str| {
        rest.match_indices(d)
            .find(|(at, _)| {
                !rest[at + d.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(|(at, _)| (at, d.len()))
    };
    let mut out = String::with_capacity(sdl.len());
    let mut rest = sdl;
    loop {
        let next = WITH_ARGS
            .iter()
            .filter_map(|d| {
                let at = rest.find(d)?;
                Some((at, args_end(&rest[at..]).unwrap_or(rest.len() - at)))
            })
            .chain(BARE.iter().filter_map(|d| bare_at(rest, d)))
            .min_by_key(|(at, _)| *at);
        let Some((at, len)) = next else {
            break;
        };
        out.push_str(&rest[..at]);
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

/// Where a directive usage starting at `usage[0]` ends: after the `)` that
/// closes its arguments, parentheses inside strings (`"percent(5)"`) not
/// counted.
fn args_end(usage: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in usage.char_indices() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') | (false, '"') => in_string = !in_string,
            (false, '(') => depth += 1,
            (false, ')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Every auth directive the schema carries, as printed. The plain SDL (for
/// clients and code generators) leaves them out: they are for the gateway,
/// and a plain GraphQL schema does not declare them.
pub(crate) fn auth_directive_texts(rt: &Runtime) -> Vec<String> {
    let mut out = Vec::new();
    if !rt.config.auth_directives {
        return out;
    }
    let reg = rt.registry();
    for m in reg.models() {
        let ops = [
            Operation::View,
            Operation::List,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ];
        let needs = ops
            .iter()
            .map(|op| need(reg, m.id, *op))
            .chain((0..m.fields.len()).map(|i| field_need(reg, m.id, i)));
        out.extend(needs.flat_map(|n| {
            auth_directives(&n)
                .into_iter()
                .map(|(_, t)| format!(" {t}"))
        }));
    }
    // Longest first, so no text is removed as part of a shorter one's match.
    out.sort_by_key(|t| std::cmp::Reverse(t.len()));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_sdl_loses_only_the_gateways_directives() {
        let sdl = "type Q {\n\tposts(first: Int): [P!]! @listSize(assumedSize: 100, slicingArguments: [\"first\"], requireOneSlicingArgument: false) @cost(weight: 3) @deprecated(reason: \"x\")\n\tn: Int @cost(weight: 1)\n}\n";
        assert_eq!(
            strip_gateway_only(sdl),
            "type Q {\n\tposts(first: Int): [P!]! @deprecated(reason: \"x\")\n\tn: Int\n}\n"
        );
        assert_eq!(strip_gateway_only("a @cost(weight"), "a");
        assert_eq!(strip_gateway_only("no directives"), "no directives");
        assert_eq!(
            strip_gateway_only(
                "\ta: Int @override(from: \"x\", label: \"percent(5)\") @tag(name: \"t\") @custom\n"
            ),
            "\ta: Int @custom\n"
        );
        assert_eq!(
            strip_gateway_only(
                "type T @shareable @interfaceObject @shareableToo {\n\ta: Int @external @inaccessible\n}\n"
            ),
            "type T @shareableToo {\n\ta: Int\n}\n"
        );
    }

    #[test]
    fn usages_parse_into_directives() {
        assert!(usage(r#"@cacheControl(maxAge: 60, scope: "PUBLIC")"#).is_ok());
        assert!(usage("cacheControl").is_err());
        assert!(usage("@a @b").is_err());
        assert!(usage("@a(x: $v)").is_err());
    }

    #[test]
    fn links_import_and_mark() {
        let composed = [ComposedDirective {
            url: "https://example.com/cache/v1.0".into(),
            name: "cacheControl".into(),
            definition: "directive @cacheControl(maxAge: Int) on OBJECT".into(),
        }];
        assert_eq!(
            links(&composed),
            "extend schema @link(url: \"https://example.com/cache/v1.0\", import: [\"@cacheControl\"]) @composeDirective(name: \"@cacheControl\")\n"
        );
    }
}
