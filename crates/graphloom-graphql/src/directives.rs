//! Custom directives composed into the supergraph (`@composeDirective`).
//!
//! An app declares a directive by the URL of its spec and its definition
//! ([`ComposeDirective`]); models and fields use it with
//! `#[model(directive = "@cacheControl(maxAge: 60)")]`. The subgraph SDL then
//! links the spec, imports the directive, marks it `@composeDirective` and
//! defines it, so composers keep its usages in the supergraph. Everything is
//! checked when the API is built (`graphloom.E014`).

use async_graphql::{
    dynamic::Directive,
    parser::{
        parse_schema,
        types::{TypeKind, TypeSystemDefinition},
    },
};
use graphloom_meta::{CheckError, Registry};

/// A custom directive an app composes into the supergraph.
#[derive(Debug, Clone)]
pub struct ComposeDirective {
    /// The spec's URL, ending in `/<name>/v<major>.<minor>`:
    /// `https://example.com/cache/v1.0`.
    pub url: String,
    /// The GraphQL definition:
    /// `directive @cacheControl(maxAge: Int) on OBJECT | FIELD_DEFINITION`.
    pub definition: String,
}

impl ComposeDirective {
    pub fn new(url: impl Into<String>, definition: impl Into<String>) -> Self {
        ComposeDirective {
            url: url.into(),
            definition: definition.into(),
        }
    }
}

/// A checked [`ComposeDirective`].
#[derive(Debug, Clone)]
pub(crate) struct Composed {
    url: String,
    name: String,
    definition: String,
}

/// One usage, `@name(arg: value, …)`, as async-graphql's directive.
pub(crate) fn usage(text: &str) -> Result<(String, Directive), String> {
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
            let name = d.name.node.to_string();
            let directive = d
                .arguments
                .iter()
                .fold(Directive::new(&name), |acc, (k, v)| {
                    acc.argument(k.node.as_str(), v.node.clone())
                });
            Ok((name, directive))
        }
        _ => Err(format!("`{text}` is not one directive usage")),
    }
}

fn check(at: String, message: String) -> CheckError {
    CheckError {
        id: "graphloom.E014",
        at,
        message,
        hint: "declare it with App::compose_directive(\"https://example.com/name/v1.0\", \"directive @name(…) on …\") and use it as #[model(directive = \"@name(…)\")]".into(),
    }
}

/// Checks the declarations and every usage in the registry's models.
pub(crate) fn resolve(
    reg: &Registry,
    declared: &[ComposeDirective],
) -> Result<Vec<Composed>, Vec<CheckError>> {
    let mut errors = Vec::new();
    let mut out: Vec<Composed> = Vec::new();
    for d in declared {
        let at = format!("compose_directive({})", d.url);
        let name =
            parse_schema(&d.definition)
                .ok()
                .and_then(|doc| match doc.definitions.as_slice() {
                    [TypeSystemDefinition::Directive(def)] => Some(def.node.name.node.to_string()),
                    _ => None,
                });
        let Some(name) = name else {
            errors.push(check(
                at,
                format!("`{}` is not one directive definition", d.definition),
            ));
            continue;
        };
        // A link URL names its spec and version: `…/name/v1.0`.
        let mut segments = d.url.trim_end_matches('/').rsplit('/');
        let version = segments.next().and_then(|v| v.strip_prefix('v'));
        let versioned = version.is_some_and(|v| {
            v.split_once('.')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
        });
        if !d.url.starts_with("http") || !versioned || segments.next().is_none() {
            errors.push(check(
                at,
                format!(
                    "`{}` is not a spec URL ending in /<name>/v<major>.<minor>",
                    d.url
                ),
            ));
            continue;
        }
        if out.iter().any(|c| c.name == name) {
            errors.push(check(at, format!("@{name} is declared twice")));
            continue;
        }
        out.push(Composed {
            url: d.url.clone(),
            name,
            definition: d.definition.trim().to_owned(),
        });
    }
    for m in reg.models() {
        let uses = std::iter::once((m.key.to_string(), &m.federation)).chain(
            m.fields
                .iter()
                .map(|f| (format!("{}.{}", m.key, f.name), &f.federation)),
        );
        for (at, fed) in uses {
            for text in &fed.directives {
                match usage(text) {
                    Ok((name, _)) if out.iter().any(|c| c.name == name) => {}
                    Ok((name, _)) => errors.push(check(
                        at.clone(),
                        format!("@{name} is not a composed directive of this service"),
                    )),
                    Err(e) => errors.push(check(at.clone(), e)),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The directive definitions, for both SDLs.
pub(crate) fn definitions(composed: &[Composed]) -> String {
    composed
        .iter()
        .map(|c| format!("{}\n", c.definition))
        .collect()
}

/// The subgraph SDL's links to the specs, each directive imported and marked
/// `@composeDirective`.
pub(crate) fn links(composed: &[Composed]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usages_parse_into_directives() {
        let (name, _) = usage(r#"@cacheControl(maxAge: 60, scope: "PUBLIC")"#).unwrap();
        assert_eq!(name, "cacheControl");
        assert!(usage("cacheControl").is_err());
        assert!(usage("@a @b").is_err());
        assert!(usage("@a(x: $v)").is_err());
    }

    #[test]
    fn declarations_are_checked() {
        let reg = Registry::resolve(Vec::new()).unwrap();
        let ok = ComposeDirective::new(
            "https://example.com/cache/v1.0",
            "directive @cacheControl(maxAge: Int) on OBJECT",
        );
        let composed = resolve(&reg, std::slice::from_ref(&ok)).unwrap();
        assert_eq!(
            links(&composed),
            "extend schema @link(url: \"https://example.com/cache/v1.0\", import: [\"@cacheControl\"]) @composeDirective(name: \"@cacheControl\")\n"
        );
        for bad in [
            ComposeDirective::new("https://example.com/cache", &ok.definition),
            ComposeDirective::new("cache/v1.0", &ok.definition),
            ComposeDirective::new(&ok.url, "type A { a: Int }"),
        ] {
            let err = resolve(&reg, &[bad]).unwrap_err();
            assert_eq!(err[0].id, "graphloom.E014");
        }
        assert!(resolve(&reg, &[ok.clone(), ok]).is_err());
    }
}
