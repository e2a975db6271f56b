//! Custom directives composed into the supergraph (`@composeDirective`), as
//! model facts: the declarations of an app ([`ComposeDirective`]) and their
//! usages on models and fields (`#[model(directive = "@cacheControl(maxAge: 60)")]`).
//! The registry checks names, spec URLs and that every usage is declared
//! (`graphloom.E014`); the GraphQL surface prints them.

/// A custom directive an app composes into the supergraph.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedDirective {
    pub url: String,
    /// Without the `@`.
    pub name: String,
    pub definition: String,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where the bracket group that opens `s` closes (brackets nest, strings
/// close): the byte index after its last character, or `None` when it
/// never closes.
fn group_end(s: &str) -> Option<usize> {
    let mut stack = Vec::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    Some((_, '\\')) => {
                        chars.next();
                    }
                    Some((_, '"')) => break,
                    Some(_) => {}
                    None => return None,
                }
            },
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return None;
                }
                if stack.is_empty() {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether every bracket in `s` nests and every string closes.
fn balanced(s: &str) -> bool {
    let mut rest = s;
    while let Some(open) = rest.find(['(', '[', '{', ')', ']', '}', '"']) {
        let tail = &rest[open..];
        match group_end(tail) {
            Some(end) => rest = &tail[end..],
            None => return false,
        }
    }
    true
}

/// The directive name of a usage, `@name(arg: value, …)`.
pub fn usage_name(text: &str) -> Result<&str, String> {
    let bad = || format!("`{text}` is not one directive usage");
    let rest = text.trim().strip_prefix('@').ok_or_else(bad)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, args) = rest.split_at(end);
    let args = args.trim();
    // No arguments, or one parenthesised group and nothing after it;
    // variables are not constants.
    let args_ok = args.is_empty()
        || (args.starts_with('(') && group_end(args) == Some(args.len()) && !args.contains('$'));
    if is_name(name) && args_ok {
        Ok(name)
    } else {
        Err(bad())
    }
}

/// The name a definition `directive @name(…) on …` declares.
pub fn definition_name(definition: &str) -> Option<&str> {
    let rest = definition.trim().strip_prefix("directive")?.trim_start();
    let rest = rest.strip_prefix('@')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, tail) = rest.split_at(end);
    (is_name(name) && balanced(tail) && tail.contains(" on ")).then_some(name)
}

/// Whether a spec URL names its spec and version: `…/name/v1.0`.
pub fn is_spec_url(url: &str) -> bool {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let version = segments.next().and_then(|v| v.strip_prefix('v'));
    let versioned = version.is_some_and(|v| {
        v.split_once('.')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
    });
    url.starts_with("http") && versioned && segments.next().is_some()
}

fn check(at: String, message: String) -> crate::CheckError {
    crate::CheckError::new(
        crate::CheckId::E014,
        at,
        message,
        "declare it with App::compose_directive(\"https://example.com/name/v1.0\", \"directive @name(…) on …\") and use it as #[model(directive = \"@name(…)\")]",
    )
}

/// Checks the declarations and every usage in the registry's models.
pub(crate) fn resolve(
    reg: &crate::Registry,
    declared: Vec<ComposeDirective>,
    errors: &mut Vec<crate::CheckError>,
) -> Vec<ComposedDirective> {
    let mut out: Vec<ComposedDirective> = Vec::new();
    for d in declared {
        let at = format!("compose_directive({})", d.url);
        let Some(name) = definition_name(&d.definition) else {
            errors.push(check(
                at,
                format!("`{}` is not one directive definition", d.definition),
            ));
            continue;
        };
        if !is_spec_url(&d.url) {
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
        out.push(ComposedDirective {
            name: name.to_owned(),
            definition: d.definition.trim().to_owned(),
            url: d.url,
        });
    }
    for (at, text) in reg.directive_usages() {
        match usage_name(text) {
            Ok(name) if out.iter().any(|c| c.name == name) => {}
            Ok(name) => errors.push(check(
                at,
                format!("@{name} is not a composed directive of this service"),
            )),
            Err(e) => errors.push(check(at, e)),
        }
    }
    out
}

impl crate::Registry {
    /// Every usage of a custom directive on a model or a field, with where
    /// it stands (`blog.Post`, `blog.Post.title`).
    pub fn directive_usages(&self) -> impl Iterator<Item = (String, &str)> {
        self.models().iter().flat_map(|m| {
            let on_model = m
                .federation
                .directives
                .iter()
                .map(move |d| (m.key.to_string(), *d));
            let on_fields = m.fields.iter().flat_map(move |f| {
                f.federation
                    .directives
                    .iter()
                    .map(move |d| (format!("{}.{}", m.key, f.name), *d))
            });
            on_model.chain(on_fields)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usages_and_definitions() {
        assert_eq!(
            usage_name(r#"@cacheControl(maxAge: 60, scope: "PUBLIC")"#),
            Ok("cacheControl")
        );
        assert_eq!(usage_name("@owner"), Ok("owner"));
        assert!(usage_name("cacheControl").is_err());
        assert!(usage_name("@a @b").is_err());
        assert!(usage_name("@a(x: $v)").is_err());
        assert!(usage_name("@a(x: \"open)").is_err());
        assert!(usage_name("@a(x: [1)").is_err());
        assert!(usage_name("@a(x: 1) @b(y: 2)").is_err());
        assert_eq!(usage_name(r#"@a(who: "x@y.z")"#), Ok("a"));
        assert_eq!(
            definition_name("directive @cacheControl(maxAge: Int) on OBJECT"),
            Some("cacheControl")
        );
        assert_eq!(definition_name("type A { a: Int }"), None);
        assert!(is_spec_url("https://example.com/cache/v1.0"));
        assert!(!is_spec_url("https://example.com/cache"));
        assert!(!is_spec_url("cache/v1.0"));
    }
}
