//! The federation `@link` of the subgraph SDL: which version of the spec
//! it links, which directives it imports, and what a schema needs of the
//! version it links.

use crate::runtime::Runtime;

/// The version of the Apollo Federation spec a subgraph's SDL links
/// (`@link(url: "https://specs.apollo.dev/federation/v2.x")`): v2.0 to
/// v2.9. The default, [`FederationVersion::LATEST`], is the newest that both
/// composers in CI accept (@apollo/composition 2.14 and
/// @theguild/federation-composition 0.27, which stops at v2.9). An older one
/// is for gateways and tools that stop earlier: the link imports only the
/// directives that version defines, demand-control directives are left out
/// below v2.9, and [`Api::build`](crate::Api::build) refuses a schema that
/// needs a directive the version lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FederationVersion {
    minor: u8,
}

/// The federation directives, each with the first v2 minor version that
/// defines it.
const DIRECTIVES: &[(&str, u8)] = &[
    ("@key", 0),
    ("@tag", 0),
    ("@shareable", 0),
    ("@inaccessible", 0),
    ("@override", 0),
    ("@external", 0),
    ("@provides", 0),
    ("@requires", 0),
    ("@composeDirective", 1),
    ("@interfaceObject", 3),
    ("@authenticated", 5),
    ("@requiresScopes", 5),
    ("@policy", 6),
    ("@context", 8),
    ("@fromContext", 8),
    ("@cost", 9),
    ("@listSize", 9),
];

/// `@override(label:)`, progressive override, came with v2.7.
const OVERRIDE_LABEL: u8 = 7;

impl FederationVersion {
    pub const V2_0: FederationVersion = FederationVersion { minor: 0 };
    pub const V2_1: FederationVersion = FederationVersion { minor: 1 };
    pub const V2_2: FederationVersion = FederationVersion { minor: 2 };
    pub const V2_3: FederationVersion = FederationVersion { minor: 3 };
    pub const V2_4: FederationVersion = FederationVersion { minor: 4 };
    pub const V2_5: FederationVersion = FederationVersion { minor: 5 };
    pub const V2_6: FederationVersion = FederationVersion { minor: 6 };
    pub const V2_7: FederationVersion = FederationVersion { minor: 7 };
    pub const V2_8: FederationVersion = FederationVersion { minor: 8 };
    pub const V2_9: FederationVersion = FederationVersion { minor: 9 };
    pub const LATEST: FederationVersion = Self::V2_9;

    /// `v2.<minor>`, for minor 0 to 9.
    pub fn v2(minor: u8) -> Option<FederationVersion> {
        (minor <= Self::LATEST.minor).then_some(FederationVersion { minor })
    }

    /// Whether this version defines `directive` (`"@cost"`).
    pub fn defines(self, directive: &str) -> bool {
        DIRECTIVES
            .iter()
            .any(|&(d, since)| d == directive && since <= self.minor)
    }

    /// The `import: [...]` list of the link: every directive the version
    /// defines.
    fn imports(self) -> String {
        let names: Vec<String> = DIRECTIVES
            .iter()
            .filter(|&&(_, since)| since <= self.minor)
            .map(|(d, _)| format!("\"{d}\""))
            .collect();
        format!("[{}]", names.join(", "))
    }
}

impl Default for FederationVersion {
    fn default() -> Self {
        Self::LATEST
    }
}

impl std::fmt::Display for FederationVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v2.{}", self.minor)
    }
}

impl std::str::FromStr for FederationVersion {
    type Err = String;

    /// `2.7` or `v2.7`.
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .trim_start_matches('v')
            .strip_prefix("2.")
            .and_then(|m| m.parse::<u8>().ok())
            .and_then(FederationVersion::v2)
            .ok_or_else(|| {
                format!("`{s}` is not a federation version graphloom links; expected 2.0 to 2.9")
            })
    }
}

/// Why the linked version cannot carry this API's subgraph SDL: each
/// directive the schema prints (or a setting asks for) that the version
/// does not define, with what needs it and the version that would.
pub(crate) fn version_problems(rt: &Runtime) -> Vec<String> {
    let since = |directive: &str| {
        DIRECTIVES
            .iter()
            .find(|(d, _)| *d == directive)
            .map_or(0, |&(_, minor)| minor)
    };
    let reg = rt.registry();
    let mut needs: Vec<(&str, u8, String)> = Vec::new();
    for m in reg.models() {
        if m.federation.interface_object {
            let why = format!("{} is an interface object", m.graphql_name);
            needs.push(("@interfaceObject", since("@interfaceObject"), why));
        }
        if m.federation.context.is_some() {
            let why = format!("{} is a context", m.graphql_name);
            needs.push(("@context", since("@context"), why));
        }
        for c in m
            .computed
            .iter()
            .filter(|c| c.args.iter().any(|a| a.from_context.is_some()))
        {
            let why = format!(
                "{}.{} reads an argument from a context",
                m.graphql_name, c.name
            );
            needs.push(("@fromContext", since("@fromContext"), why));
        }
        let labelled = m
            .fields
            .iter()
            .filter(|f| f.federation.override_label.is_some())
            .map(|f| f.graphql_name.as_str())
            .chain(
                m.computed
                    .iter()
                    .filter(|c| c.federation.override_label.is_some())
                    .map(|c| c.name.as_str()),
            );
        for field in labelled {
            let why = format!("{}.{field} has an override label", m.graphql_name);
            needs.push(("@override(label:)", OVERRIDE_LABEL, why));
        }
    }
    if !reg.composed_directives().is_empty() {
        let why = "the service composes directives".to_owned();
        needs.push(("@composeDirective", since("@composeDirective"), why));
    }
    if rt.config.auth_directives {
        let why = "auth directives are on (GRAPHLOOM_AUTH_DIRECTIVES)".to_owned();
        needs.push(("@authenticated", since("@authenticated"), why));
        let policy = crate::directives::auth_directive_texts(rt)
            .into_iter()
            .find(|t| t.starts_with(" @policy("));
        if let Some(text) = policy {
            let why = format!("a permission rule names a policy:{text}");
            needs.push(("@policy", since("@policy"), why));
        }
    }
    let version = rt.config.federation();
    needs
        .into_iter()
        .filter(|(_, minor, _)| version.minor < *minor)
        .map(|(directive, minor, why)| {
            format!(
                "federation {version} does not define {directive} ({why}); link v2.{minor} or later (GRAPHLOOM_FEDERATION_VERSION)"
            )
        })
        .collect()
}

/// async-graphql 7 prints a fixed `@link` to federation v2.5 whose imports
/// leave out `@authenticated`; this puts the link to `version`, with the
/// directives it defines imported, in its place. Used on both
/// `schema --federation` and `_service { sdl }`, so they stay equal; a
/// snapshot test fails if async-graphql's text changes.
pub(crate) fn upgrade_link(sdl: &str, version: FederationVersion) -> String {
    const URL: &str = "\"https://specs.apollo.dev/federation/v2.5\"";
    let Some(at) = sdl.find(URL) else {
        return sdl.to_owned();
    };
    let (head, rest) = sdl.split_at(at);
    let rest = &rest[URL.len()..];
    // The `import: [...]` list that follows the URL.
    let (Some(open), Some(close)) = (rest.find("import: ["), rest.find(']')) else {
        return sdl.to_owned();
    };
    format!(
        "{head}\"https://specs.apollo.dev/federation/{version}\"{}import: {}{}",
        &rest[..open],
        version.imports(),
        &rest[close + 1..]
    )
}

#[cfg(test)]
mod tests {
    use super::{FederationVersion, upgrade_link};

    #[test]
    fn the_link_is_upgraded_in_place() {
        let sdl = "type A { a: Int }\nextend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.5\",\n\timport: [\"@key\"]\n)\n";
        let up = upgrade_link(sdl, FederationVersion::LATEST);
        assert!(up.starts_with("type A { a: Int }\nextend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.9\",\n\timport: [\"@key\", "));
        assert!(
            up.ends_with("\"@context\", \"@fromContext\", \"@cost\", \"@listSize\"]\n)\n"),
            "{up}"
        );
        // Anything else is left alone.
        assert_eq!(
            upgrade_link("type A { a: Int }", FederationVersion::LATEST),
            "type A { a: Int }"
        );
        // An older version imports only what it defines.
        let v27 = "v2.7".parse::<FederationVersion>().unwrap();
        let up = upgrade_link(sdl, v27);
        assert!(
            up.contains("federation/v2.7\",\n\timport: [\"@key\", ")
                && up.ends_with("\"@authenticated\", \"@requiresScopes\", \"@policy\"]\n)\n"),
            "{up}"
        );
    }

    #[test]
    fn versions_read_as_2_x_and_stop_at_the_latest() {
        assert_eq!("2.3".parse(), Ok(FederationVersion::v2(3).unwrap()));
        assert_eq!(FederationVersion::v2(0).unwrap().to_string(), "v2.0");
        for bad in ["2.10", "3.0", "v2", "2.x", ""] {
            let err = bad.parse::<FederationVersion>().unwrap_err();
            assert!(err.contains("expected 2.0 to 2.9"), "{bad}: {err}");
        }
        let v = FederationVersion::v2(4).unwrap();
        assert!(v.defines("@interfaceObject") && !v.defines("@authenticated"));
        assert!(FederationVersion::LATEST.defines("@listSize"));
    }
}
