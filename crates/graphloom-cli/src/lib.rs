//! The project generator behind the `graphloom` command, for people starting
//! a graphloom project (Django's `startproject`, `startapp`), and for tools
//! that script it: [`new_project`] writes a workspace with one service, one
//! app, tests, a Dockerfile and a CI workflow; [`start_app`] adds an app to a
//! service and registers it; [`start_service`] adds another federated service.
//!
//! The templates live in `templates/` beside this crate and are embedded in
//! the binary; CI generates a project from them and runs its tests.

use std::path::{Path, PathBuf};

/// What can stop a command. Nothing is written when one of these is returned,
/// except for [`Error::Io`] (a disk error midway).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "`{0}` cannot be a name: use lowercase ASCII letters, digits and underscores, starting with a letter (at most 64)"
    )]
    BadName(String),
    #[error("`{0}` cannot be a name: it is a Rust keyword or a crate every project depends on")]
    Reserved(String),
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    #[error(
        "{0} is not a graphloom workspace (no Cargo.toml with a services/ folder); run this in the folder `graphloom new` made"
    )]
    NoWorkspace(PathBuf),
    #[error("the workspace has no service `{0}` (services: {1})")]
    NoService(String, String),
    #[error("the workspace has several services ({0}): name one with --service")]
    WhichService(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Where the generated project takes the graphloom crates from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A checkout of the graphloom repository (path dependencies).
    Path(PathBuf),
    /// A published version (registry dependencies).
    Version(String),
}

impl Source {
    /// The checkout this binary was built from, if it is still there;
    /// otherwise this binary's version from the registry.
    pub fn default_for_this_build() -> Source {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        if checkout.join("crates/graphloom/Cargo.toml").is_file() {
            Source::Path(checkout.canonicalize().unwrap_or(checkout))
        } else {
            Source::Version(env!("CARGO_PKG_VERSION").to_owned())
        }
    }

    fn dependencies(&self) -> String {
        match self {
            Source::Path(p) => {
                let p = p.display().to_string().replace('\\', "/");
                format!(
                    "graphloom = {{ path = \"{p}/crates/graphloom\" }}\n\
                     graphloom-test = {{ path = \"{p}/crates/graphloom-test\" }}"
                )
            }
            Source::Version(v) => format!("graphloom = \"{v}\"\ngraphloom-test = \"{v}\""),
        }
    }

    /// What the Dockerfile must say about this source: a checkout outside
    /// the project is outside Docker's build context, so the image cannot
    /// build until the dependency is one Docker can fetch.
    fn docker_note(&self) -> String {
        match self {
            Source::Path(p) => format!(
                "# graphloom comes from the checkout at {} (a path outside this\n\
                 # folder, which Docker cannot COPY): before building the image, depend on\n\
                 # a released graphloom or a git URL in Cargo.toml.\n",
                p.display()
            ),
            Source::Version(_) => String::new(),
        }
    }
}

/// A checked name of a project, service or app: a Rust identifier, a crate
/// name and a table prefix at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "test",
    "graphloom",
    "graphloom_test",
    "tokio",
    "serde",
    "anyhow",
    "serde_json",
    "auth",
    "migrations",
    "services",
    "target",
];

impl Name {
    pub fn parse(s: &str) -> Result<Name> {
        let ok = s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(Error::BadName(s.to_owned()));
        }
        if RESERVED.contains(&s) {
            return Err(Error::Reserved(s.to_owned()));
        }
        Ok(Name(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Fills `{{key}}` placeholders; other braces (GitHub's `${{ … }}`) stay.
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// Files to write, relative to a root, with their text.
type Files = Vec<(PathBuf, String)>;

macro_rules! template {
    ($($path:literal),+) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $($path),+))
    };
}

fn service_files(service: &Name, apps_chain: &str, first_app: &Name) -> Files {
    let vars = [
        ("service", service.as_str()),
        ("app", first_app.as_str()),
        ("apps", apps_chain),
    ];
    let root = PathBuf::from("services").join(service.as_str());
    vec![
        (
            root.join("Cargo.toml"),
            render(template!("service/Cargo.toml.tmpl"), &vars),
        ),
        (
            root.join("src/main.rs"),
            render(template!("service/src/main.rs.tmpl"), &vars),
        ),
        (
            root.join("src/lib.rs"),
            render(template!("service/src/lib.rs.tmpl"), &vars),
        ),
    ]
}

/// Which app template: the first service's starter (notes of the auth
/// app's users), another service's starter (items owned by a user it knows
/// by reference), or an app with no models yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppKind {
    Starter,
    Federated,
    Empty,
}

fn app_files(service_root: &Path, service: &Name, app: &Name, kind: AppKind) -> Files {
    let vars = [("service", service.as_str()), ("app", app.as_str())];
    let dir = service_root.join("src").join(app.as_str());
    // An app with a model: its module, migrations and the service's tests.
    macro_rules! with_model {
        ($dir:literal) => {
            vec![
                (
                    dir.join("mod.rs"),
                    render(template!($dir, "/mod.rs.tmpl"), &vars),
                ),
                (
                    dir.join("migrations/mod.rs"),
                    render(template!($dir, "/migrations/mod.rs.tmpl"), &vars),
                ),
                (
                    dir.join("migrations/0001_initial.json"),
                    render(template!($dir, "/migrations/0001_initial.json.tmpl"), &vars),
                ),
                (
                    service_root.join("tests/api.rs"),
                    render(template!($dir, "/api.rs.tmpl"), &vars),
                ),
            ]
        };
    }
    match kind {
        AppKind::Starter => with_model!("starter"),
        AppKind::Federated => with_model!("federated"),
        AppKind::Empty => vec![
            (
                dir.join("mod.rs"),
                render(template!("app/mod.rs.tmpl"), &vars),
            ),
            (
                dir.join("migrations/mod.rs"),
                render(template!("app/migrations/mod.rs.tmpl"), &vars),
            ),
        ],
    }
}

/// Formats the Rust files among `paths` with rustfmt when it is installed,
/// so a project stays `cargo fmt --check` clean whatever its names' lengths.
/// Without rustfmt the files are left as written (valid, if not formatted).
fn format_rust(root: &Path, paths: &[PathBuf]) {
    let rust: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| root.join(p))
        .collect();
    if rust.is_empty() {
        return;
    }
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&rust)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Writes `files` under `root`, refusing to overwrite anything: every path
/// is checked before the first is written.
fn write_all(root: &Path, files: &Files) -> Result<Vec<PathBuf>> {
    for (rel, _) in files {
        let path = root.join(rel);
        if path.exists() {
            return Err(Error::Exists(path));
        }
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        written.push(rel.clone());
    }
    format_rust(root, &written);
    Ok(written)
}

/// The workspace's own files: where each goes, and its template.
const PROJECT_FILES: [(&str, &str); 10] = [
    ("Cargo.toml", template!("project/Cargo.toml.tmpl")),
    (
        ".cargo/config.toml",
        template!("project/cargo-config.toml.tmpl"),
    ),
    ("README.md", template!("project/README.md.tmpl")),
    (".env.example", template!("project/env.example.tmpl")),
    (".gitignore", template!("project/gitignore.tmpl")),
    (".dockerignore", template!("project/dockerignore.tmpl")),
    ("Dockerfile", template!("project/Dockerfile.tmpl")),
    (
        ".github/workflows/ci.yml",
        template!("project/.github/workflows/ci.yml.tmpl"),
    ),
    // The composers `schema --supergraph` and `assert_composes` run.
    (
        "composition/package.json",
        template!("project/composition/package.json.tmpl"),
    ),
    (
        "composition/package-lock.json",
        template!("project/composition/package-lock.json.tmpl"),
    ),
];

/// What [`new_project`] needs.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The workspace folder to create (must not exist).
    pub dir: PathBuf,
    /// The first service, named after the project by default.
    pub service: Name,
    /// The first app, with a starter model.
    pub app: Name,
    pub source: Source,
}

/// Writes a new workspace: one service (the auth app and a starter app with
/// a model, its migration and a custom query), its tests, README,
/// `.env.example`, Dockerfile and CI workflow. With a checkout as the
/// source, its `Cargo.lock` is copied so the project starts on the
/// dependency versions graphloom's own CI tested. Returns the files written.
pub fn new_project(p: &NewProject) -> Result<Vec<PathBuf>> {
    if p.dir.exists() {
        return Err(Error::Exists(p.dir.clone()));
    }
    let project = p
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.service.to_string());
    let deps = p.source.dependencies();
    let docker_note = p.source.docker_note();
    let vars = [
        ("project", project.as_str()),
        ("service", p.service.as_str()),
        ("app", p.app.as_str()),
        ("graphloom_deps", deps.as_str()),
        ("docker_note", docker_note.as_str()),
    ];
    let mut files: Files = PROJECT_FILES
        .iter()
        .map(|(path, text)| (PathBuf::from(path), render(text, &vars)))
        .collect();
    // Django's startproject comes with auth and the admin; so does this.
    let chain = format!(
        "\n        .app(graphloom::auth::app())\n        .app(graphloom::admin::app())\n        .app({}::app())",
        p.app
    );
    files.extend(service_files(&p.service, &chain, &p.app));
    let service_root = PathBuf::from("services").join(p.service.as_str());
    files.extend(app_files(
        &service_root,
        &p.service,
        &p.app,
        AppKind::Starter,
    ));
    if let Source::Path(checkout) = &p.source
        && let Ok(lock) = std::fs::read_to_string(checkout.join("Cargo.lock"))
    {
        files.push(("Cargo.lock".into(), lock));
    }
    write_all(&p.dir, &files)
}

/// The services of a workspace, by folder name.
fn services(workspace: &Path) -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(workspace.join("Cargo.toml"))
        .map_err(|_| Error::NoWorkspace(workspace.to_owned()))?;
    let dir = workspace.join("services");
    if !manifest.contains("[workspace]") || !dir.is_dir() {
        return Err(Error::NoWorkspace(workspace.to_owned()));
    }
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The result of [`start_app`]: files written, and whether `src/lib.rs`
/// was edited to register the app (if not, `manual` says what to add).
#[derive(Debug)]
pub struct Started {
    pub written: Vec<PathBuf>,
    pub manual: Option<String>,
}

/// Adds an app with no models and an empty migrations folder to a service
/// of the workspace at `workspace` (the only one, or `service`), and
/// registers it in the service's `src/lib.rs`.
pub fn start_app(workspace: &Path, service: Option<&str>, app: &Name) -> Result<Started> {
    let all = services(workspace)?;
    let service = match (service, all.as_slice()) {
        (Some(s), _) if all.iter().any(|a| a == s) => Name::parse(s)?,
        (Some(s), _) => return Err(Error::NoService(s.to_owned(), all.join(", "))),
        (None, [only]) => Name::parse(only)?,
        (None, _) => return Err(Error::WhichService(all.join(", "))),
    };
    let root = PathBuf::from("services").join(service.as_str());
    let app_dir = workspace.join(&root).join("src").join(app.as_str());
    if app_dir.exists() {
        return Err(Error::Exists(app_dir));
    }
    let lib_path = workspace.join(&root).join("src/lib.rs");
    let lib = std::fs::read_to_string(&lib_path).map_err(|source| Error::Io {
        path: lib_path.clone(),
        source,
    })?;
    let written = write_all(workspace, &app_files(&root, &service, app, AppKind::Empty))?;
    let manual = match register(&lib, app.as_str()) {
        Some(edited) => {
            std::fs::write(&lib_path, edited).map_err(|source| Error::Io {
                path: lib_path.clone(),
                source,
            })?;
            format_rust(workspace, &[root.join("src/lib.rs")]);
            None
        }
        None => Some(format!(
            "add `pub mod {app};` to {} and `.app({app}::app())` to the service",
            lib_path.display()
        )),
    };
    Ok(Started { written, manual })
}

/// `lib` with `pub mod app;` after its last top-level `mod` line and
/// `.app(app::app())` after the last `.app(…)` call; `None` when either
/// place cannot be found, so the caller asks the user instead of guessing.
fn register(lib: &str, app: &str) -> Option<String> {
    let lines: Vec<&str> = lib.lines().collect();
    let last_mod = lines
        .iter()
        .rposition(|l| l.starts_with("pub mod ") || l.starts_with("mod "))?;
    let last_app = lines.iter().rposition(|l| l.contains(".app("))?;
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 2);
    for (i, line) in lines.iter().enumerate() {
        if i == last_app {
            // Right after the call's closing parenthesis.
            let start = line.rfind(".app(")? + ".app".len();
            let mut depth = 0usize;
            let mut end = None;
            for (j, c) in line[start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(start + j + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let (head, tail) = line.split_at(end?);
            if line.trim_start().starts_with(".app(") {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push(head.to_owned());
                out.push(format!("{indent}.app({app}::app()){tail}"));
            } else {
                out.push(format!("{head}.app({app}::app()){tail}"));
            }
        } else {
            out.push((*line).to_owned());
        }
        if i == last_mod {
            out.push(format!("pub mod {app};"));
        }
    }
    let mut s = out.join("\n");
    if lib.ends_with('\n') {
        s.push('\n');
    }
    Some(s)
}

/// Adds another service to the workspace: its own binary and database, one
/// app (named after the service) with a starter model owned by a user it
/// knows by reference (a federation entity of the first service), verifying the tokens the first service issues (the
/// same `GRAPHLOOM_JWT_SECRET`, or `GRAPHLOOM_JWKS_URL`).
pub fn start_service(workspace: &Path, service: &Name) -> Result<Vec<PathBuf>> {
    services(workspace)?;
    let root = PathBuf::from("services").join(service.as_str());
    if workspace.join(&root).exists() {
        return Err(Error::Exists(workspace.join(&root)));
    }
    let chain = format!("\n        .app({service}::app())");
    let mut files = service_files(service, &chain, service);
    files.extend(app_files(&root, service, service, AppKind::Federated));
    write_all(workspace, &files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A project in a temporary folder (kept while the first value lives),
    /// with a `notes` starter app, taking graphloom from the registry.
    fn project(folder: &str, service: &str) -> (tempfile::TempDir, NewProject) {
        let dir = tempfile::tempdir().unwrap();
        let p = NewProject {
            dir: dir.path().join(folder),
            service: Name::parse(service).unwrap(),
            app: Name::parse("notes").unwrap(),
            source: Source::Version("0.1.0".into()),
        };
        (dir, p)
    }

    #[test]
    fn names_are_identifiers_and_not_reserved() {
        for ok in ["mysite", "shop", "a1", "my_site"] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "My", "my-site", "a b", "é", &"a".repeat(65)] {
            assert!(matches!(Name::parse(bad), Err(Error::BadName(_))), "{bad}");
        }
        for reserved in ["fn", "core", "graphloom", "auth", "test"] {
            assert!(
                matches!(Name::parse(reserved), Err(Error::Reserved(_))),
                "{reserved}"
            );
        }
    }

    #[test]
    fn a_dockerfile_over_a_local_checkout_says_it_cannot_build_as_is() {
        let (_dir, mut p) = project("mysite", "mysite");
        p.source = Source::Path(PathBuf::from("/src/graphloom"));
        new_project(&p).unwrap();
        let text = std::fs::read_to_string(p.dir.join("Dockerfile")).unwrap();
        assert!(text.contains("checkout at /src/graphloom"), "{text}");
        assert!(text.contains("\nARG SERVICE=mysite\n"), "{text}");
        let (_dir, p) = project("other", "other");
        new_project(&p).unwrap();
        let text = std::fs::read_to_string(p.dir.join("Dockerfile")).unwrap();
        assert!(!text.contains("checkout"), "{text}");
    }

    #[test]
    fn render_fills_known_placeholders_only() {
        let s = render(
            "{{service}} ${{ github.ref }} {{unknown}}",
            &[("service", "shop")],
        );
        assert_eq!(s, "shop ${{ github.ref }} {{unknown}}");
    }

    #[test]
    fn every_template_placeholder_is_filled() {
        let (_dir, p) = project("mysite", "mysite");
        let written = new_project(&p).unwrap();
        start_app(&p.dir, None, &Name::parse("shop").unwrap()).unwrap();
        start_service(&p.dir, &Name::parse("billing").unwrap()).unwrap();
        assert!(written.contains(&PathBuf::from("services/mysite/tests/api.rs")));
        let mut stack = vec![p.dir.clone()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for key in [
                    "{{service}}",
                    "{{app}}",
                    "{{apps}}",
                    "{{project}}",
                    "{{graphloom_deps}}",
                    "{{docker_note}}",
                ] {
                    assert!(!text.contains(key), "{} keeps {key}", path.display());
                }
            }
        }
        assert!(files >= 20, "{files} files");
    }

    #[test]
    fn nothing_is_overwritten() {
        let (_dir, p) = project("mysite", "mysite");
        new_project(&p).unwrap();
        assert!(matches!(new_project(&p), Err(Error::Exists(_))));
        let notes = Name::parse("notes").unwrap();
        assert!(matches!(
            start_app(&p.dir, None, &notes),
            Err(Error::Exists(_))
        ));
        let mysite = Name::parse("mysite").unwrap();
        assert!(matches!(
            start_service(&p.dir, &mysite),
            Err(Error::Exists(_))
        ));
        let lib = std::fs::read_to_string(p.dir.join("services/mysite/src/lib.rs")).unwrap();
        assert_eq!(
            lib.matches(".app(").count(),
            3,
            "auth, admin, the app: {lib}"
        );
    }

    #[test]
    fn apps_go_to_the_named_service_only() {
        let (_dir, p) = project("w", "first");
        new_project(&p).unwrap();
        start_service(&p.dir, &Name::parse("second").unwrap()).unwrap();
        let shop = Name::parse("shop").unwrap();
        assert!(matches!(
            start_app(&p.dir, None, &shop),
            Err(Error::WhichService(s)) if s == "first, second"
        ));
        assert!(matches!(
            start_app(&p.dir, Some("third"), &shop),
            Err(Error::NoService(..))
        ));
        let started = start_app(&p.dir, Some("second"), &shop).unwrap();
        assert!(started.manual.is_none());
        assert!(p.dir.join("services/second/src/shop/mod.rs").is_file());
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(matches!(
            start_app(elsewhere.path(), None, &shop),
            Err(Error::NoWorkspace(_))
        ));
    }

    #[test]
    fn registration_edits_the_service_or_says_what_to_add() {
        let lib = "pub mod notes;\n\nuse graphloom::Service;\n\npub fn service() -> Service {\n    Service::new(\"s\")\n        .app(graphloom::auth::app())\n        .app(notes::app())\n}\n";
        let edited = register(lib, "shop").unwrap();
        assert_eq!(
            edited,
            "pub mod notes;\npub mod shop;\n\nuse graphloom::Service;\n\npub fn service() -> Service {\n    Service::new(\"s\")\n        .app(graphloom::auth::app())\n        .app(notes::app())\n        .app(shop::app())\n}\n"
        );
        let with_semicolon =
            "mod a;\nfn s() {\n    let s = S::new()\n        .app(a::app());\n    s\n}\n";
        assert_eq!(
            register(with_semicolon, "b").unwrap(),
            "mod a;\npub mod b;\nfn s() {\n    let s = S::new()\n        .app(a::app())\n        .app(b::app());\n    s\n}\n"
        );
        assert_eq!(
            register(
                "mod a;\nfn s() -> S {\n    S::new(\"s\").app(a::app())\n}\n",
                "b"
            )
            .unwrap(),
            "mod a;\npub mod b;\nfn s() -> S {\n    S::new(\"s\").app(a::app()).app(b::app())\n}\n"
        );
        assert_eq!(register("fn service() {}\n", "b"), None);
    }
}

#[cfg(test)]
mod dockerfile {
    #![allow(clippy::unwrap_used)]

    /// What a reviewer checks in the generated Dockerfile; CI has no Docker
    /// daemon to build it (and no registry to pull base images from).
    #[test]
    fn the_dockerfile_builds_in_one_stage_and_runs_small_and_unprivileged_in_another() {
        let text = super::render(
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/project/Dockerfile.tmpl"
            )),
            &[("service", "mysite")],
        );
        let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
        assert_eq!(froms.len(), 2, "{froms:?}");
        assert!(froms[0].ends_with(" AS build"), "{}", froms[0]);
        assert!(froms[1].contains("distroless/cc"), "{}", froms[1]);
        let runtime = text.split(froms[1]).nth(1).unwrap();
        let user = runtime
            .lines()
            .find_map(|l| l.strip_prefix("USER "))
            .expect("the runtime stage sets USER");
        assert!(
            !user.starts_with("root") && !user.starts_with('0'),
            "{user}"
        );
        assert!(runtime.contains("COPY --from=build /service /service"));
        assert!(text.contains("cargo build --release --locked"));
        assert!(!text.contains("ADD http"), "no remote ADD");
        let instructions: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        for secret in ["GRAPHLOOM_JWT_SECRET", "PASSWORD", "DATABASE_URL=postgres"] {
            assert!(
                !instructions.contains(secret),
                "no secret baked in: {secret}"
            );
        }
        assert!(runtime.contains("GRAPHLOOM_ADDR=0.0.0.0:8000") && runtime.contains("EXPOSE 8000"));
    }
}
