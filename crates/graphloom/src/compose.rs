//! Supergraph composition: whether a set of subgraph schemas composes into
//! one graph, decided by the composers the gateways themselves use (Apollo's
//! `@apollo/composition` and The Guild's `@theguild/federation-composition`).
//!
//! There is no Rust composer that agrees with them, so this runs them in
//! Node.js: `schema --supergraph` checks a service against the other
//! subgraphs with it, and the test kit's `assert_composes` does the same in
//! `cargo test`. The composers are npm packages installed in a folder of the
//! project (`graphloom new` writes `composition/package.json`; install it
//! with `npm ci --prefix composition`).

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// The environment variable naming the folder whose `node_modules` holds
/// the composers (default: `composition`, relative to the working folder).
pub const COMPOSER_DIR_ENV: &str = "GRAPHLOOM_COMPOSER_DIR";

const SCRIPT: &str = include_str!("compose.cjs");

/// One subgraph to compose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subgraph {
    /// Its name in the supergraph (`join__Graph`), unique.
    pub name: String,
    /// Where a gateway would reach it.
    pub url: String,
    /// Its subgraph SDL, as `_service { sdl }` returns it.
    pub sdl: String,
}

impl Subgraph {
    /// A subgraph with a placeholder URL (composition does not call it).
    pub fn new(name: impl Into<String>, sdl: impl Into<String>) -> Self {
        let name = name.into();
        Subgraph {
            url: format!("http://{name}.invalid/graphql"),
            name,
            sdl: sdl.into(),
        }
    }
}

/// What one composer made of the subgraphs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Composition {
    /// The package and its version: `@apollo/composition 2.14.4`.
    pub composer: String,
    /// Why the subgraphs do not compose; empty when they do.
    pub errors: Vec<String>,
    /// Advice on a composition that succeeded (inconsistent descriptions,
    /// fields resolvable in fewer subgraphs than their type, …).
    pub hints: Vec<String>,
    /// The supergraph SDL, when they compose.
    pub supergraph: Option<String>,
}

impl Composition {
    pub fn composes(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Why composition could not be decided (not: why it failed, which is
/// [`Composition::errors`]).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("two subgraphs are named `{0}`")]
    DuplicateName(String),
    #[error("composing needs Node.js (`node` on the PATH): {0}")]
    Node(#[source] std::io::Error),
    #[error(
        "no composer is installed in {dir}: it needs @apollo/composition or \
         @theguild/federation-composition, with graphql, in its node_modules \
         (`npm ci --prefix {dir}`; another folder with --composer-dir or {COMPOSER_DIR_ENV})"
    )]
    NoComposer { dir: String },
    #[error("the composer failed: {0}")]
    Failed(String),
    #[error("the composer's answer is not what graphloom expects: {0}")]
    Output(#[source] serde_json::Error),
}

/// The composer folder: `dir` if given, else [`COMPOSER_DIR_ENV`], else the
/// nearest `composition` folder with a `node_modules` in the working folder
/// or above it (tests run in a service's folder, the project's is higher
/// up), else `composition`.
pub fn composer_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_owned();
    }
    if let Some(d) = std::env::var_os(COMPOSER_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            cwd.ancestors()
                .map(|a| a.join("composition"))
                .find(|c| c.join("node_modules").is_dir())
        })
        .unwrap_or_else(|| PathBuf::from("composition"))
}

/// Composes `subgraphs` with every composer installed in `dir` (one
/// [`Composition`] each, Apollo's first).
pub fn compose(subgraphs: &[Subgraph], dir: &Path) -> Result<Vec<Composition>, ComposeError> {
    let mut names = std::collections::HashSet::new();
    if let Some(dup) = subgraphs.iter().find(|s| !names.insert(&s.name)) {
        return Err(ComposeError::DuplicateName(dup.name.clone()));
    }
    let shown = dir.display().to_string();
    // Node resolves the packages from an absolute folder.
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let input = serde_json::to_vec(
        &subgraphs
            .iter()
            .map(|s| serde_json::json!({ "name": s.name, "url": s.url, "sdl": s.sdl }))
            .collect::<Vec<_>>(),
    )
    .map_err(ComposeError::Output)?;
    let mut child = Command::new("node")
        .arg("-e")
        .arg(SCRIPT)
        .env(COMPOSER_DIR_ENV, &abs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ComposeError::Node)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A composer that exits early closes the pipe; its stderr says why.
        let _ = stdin.write_all(&input);
    }
    let out = child.wait_with_output().map_err(ComposeError::Node)?;
    if !out.status.success() {
        return Err(ComposeError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    let reports: Vec<Composition> =
        serde_json::from_slice(&out.stdout).map_err(ComposeError::Output)?;
    if reports.is_empty() {
        return Err(ComposeError::NoComposer { dir: shown });
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_unique() {
        let s = Subgraph::new("a", "type Query { a: Int }");
        let err = compose(&[s.clone(), s], Path::new(".")).unwrap_err();
        assert!(matches!(err, ComposeError::DuplicateName(n) if n == "a"));
    }

    #[test]
    fn a_folder_without_composers_says_how_to_install_them() {
        let s = Subgraph::new("a", "type Query { a: Int }");
        let dir = std::env::temp_dir().join("graphloom-no-composers-here");
        match compose(&[s], &dir) {
            Err(e @ ComposeError::NoComposer { .. }) => {
                assert!(e.to_string().contains("npm ci --prefix"), "{e}");
            }
            // A machine without Node.js gets that said instead.
            Err(e @ ComposeError::Node(_)) => assert!(e.to_string().contains("Node.js"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_folder_comes_from_the_argument_before_the_default() {
        assert_eq!(composer_dir(Some(Path::new("x/y"))), PathBuf::from("x/y"));
    }
}
