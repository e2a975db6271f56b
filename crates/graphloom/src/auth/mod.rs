//! The auth app: users, groups and permissions as ordinary models, and the
//! token lifecycle as GraphQL fields: `register`, `login`, `refreshToken` (one
//! use per refresh token; reusing a spent one revokes its whole family),
//! `logout`, `revokeAllSessions`, `me`, `changePassword`. Access tokens
//! carry their session (`sid`): a logout, a revocation, a password change
//! or a deactivation refuses them on the next request (see [`DbSessions`]).
//!
//! Add it to a service with `.app(graphloom::auth::app())`. Tokens are signed
//! with the keys `serve` loads (`GRAPHLOOM_JWT_SECRET` or
//! `GRAPHLOOM_JWT_PRIVATE_KEY_FILE`); other services verify them with the JWKS.

mod account;
mod cookies;
mod migrations;
pub(crate) mod resolvers;
mod sessions;
pub(crate) mod throttle;

pub use cookies::{Cookies, DbCookies};
pub use sessions::{DbSessions, RemoteSessions};
pub use throttle::Throttling;

use std::{sync::Arc, time::Duration};

pub use graphloom_auth::{
    password::{Hasher, Policy},
    token::Principal,
};

use crate::{
    App, Model,
    mail::{Mailer, Template},
    meta::{ForeignKey, Id, ManyToMany, ModelRules, Rule, ValidationError, ValidationInput, Value},
};

/// A person who can log in. Accounts are made by `register` and
/// `createsuperuser`; superusers change (groups, permissions, flags) and delete them.
#[derive(Model)]
#[model(app = "auth", create = false, validate = validate_user)]
pub struct User {
    pub id: Id,
    /// Unique login name.
    #[field(max_length = 150, unique)]
    pub username: String,
    #[field(max_length = 254, unique)]
    pub email: String,
    /// An argon2id hash; never exposed.
    #[field(hidden, default = "")]
    pub password: String,
    #[field(default = true)]
    pub is_active: bool,
    #[field(default = false)]
    pub is_staff: bool,
    #[field(default = false)]
    pub is_superuser: bool,
    /// Whether the user proved they read mail at `email` (by following a
    /// link this app mailed there).
    #[field(default = false)]
    pub email_verified: bool,
    #[field(auto_now_add)]
    pub date_joined: chrono::DateTime<chrono::Utc>,
    pub last_login: Option<chrono::DateTime<chrono::Utc>>,
    #[field(related_name = "users")]
    pub groups: ManyToMany<Group>,
    #[field(related_name = "users")]
    pub user_permissions: ManyToMany<Permission>,
}

/// A username has a visible character; an email has an `@`.
pub fn validate_user(row: ValidationInput<'_>) -> Result<(), Vec<ValidationError>> {
    let text = |name: &str| match row.get(name) {
        Some(Value::String(s)) => s.trim(),
        _ => "",
    };
    let mut errors = Vec::new();
    if text("username").is_empty() {
        errors.push(ValidationError::new(
            "username",
            "A username needs at least one character.",
        ));
    }
    if !text("email").contains('@') {
        errors.push(ValidationError::new(
            "email",
            "That is not an email address.",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A named set of permissions, managed by superusers.
#[derive(Model)]
#[model(app = "auth")]
pub struct Group {
    pub id: Id,
    #[field(max_length = 150, unique)]
    pub name: String,
    #[field(related_name = "groups")]
    pub permissions: ManyToMany<Permission>,
}

/// A permission such as `blog.change_post`; four per model are created by `migrate`.
#[derive(Model)]
#[model(app = "auth", create = false, update = false, delete = false)]
pub struct Permission {
    pub id: Id,
    #[field(max_length = 150, unique)]
    pub codename: String,
    #[field(max_length = 255)]
    pub name: String,
}

/// A refresh token: stored as a hash, single-use, grouped in a family per login.
/// A table only: it is not part of the GraphQL API.
#[derive(Model)]
#[model(app = "auth", graphql = false)]
pub struct RefreshToken {
    pub id: Id,
    #[field(max_length = 64, unique, hidden, default = "")]
    pub token_hash: String,
    #[field(index)]
    pub family: uuid::Uuid,
    #[field(on_delete = cascade, related_name = "refreshTokens")]
    pub user: ForeignKey<User>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[field(default = false)]
    pub revoked: bool,
    /// When the session (the login) began, carried from token to token:
    /// `AuthSettings::session_max_age` counts from it. Empty for sessions
    /// begun before graphloom kept it (their token's own `created_at`).
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    #[field(auto_now_add)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A single-use token mailed to a user: a password reset, an address
/// verification, or the confirmation of a new address. Stored as a hash;
/// it dies when used, when it expires, and (a reset) when the password
/// changes. A table only: it is not part of the GraphQL API.
#[derive(Model)]
#[model(app = "auth", graphql = false)]
pub struct AccountToken {
    pub id: Id,
    #[field(max_length = 64, unique, hidden, default = "")]
    pub token_hash: String,
    #[field(on_delete = cascade, related_name = "accountTokens")]
    pub user: ForeignKey<User>,
    /// `reset`, `verify` or `email` (see [`TokenPurpose`]).
    #[field(max_length = 16)]
    pub purpose: String,
    /// The address a `verify` or `email` token is for.
    #[field(max_length = 254, default = "")]
    pub email: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[field(auto_now_add)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What an [`AccountToken`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// `resetPassword`.
    Reset,
    /// `verifyEmail` of the current address.
    Verify,
    /// `verifyEmail` of a new address (`changeEmail`).
    Email,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Reset => "reset",
            TokenPurpose::Verify => "verify",
            TokenPurpose::Email => "email",
        }
    }
}

/// The messages the auth app sends; each a [`Template`] with `{{username}}`,
/// `{{link}}` (the URL setting with the token in it) and `{{token}}`.
#[derive(Debug, Clone)]
pub struct Emails {
    pub password_reset: Template,
    pub verify_email: Template,
    pub change_email: Template,
}

impl Default for Emails {
    fn default() -> Self {
        Emails {
            password_reset: Template::new(
                "Reset your password",
                "Hello {{username}},\n\nSomeone asked to reset the password of your account. \
                 To choose a new one, open\n\n  {{link}}\n\nThe link works once, within the hour. \
                 If you did not ask, ignore this message: nothing changes.\n",
            ),
            verify_email: Template::new(
                "Confirm your email address",
                "Hello {{username}},\n\nTo confirm that this address is yours, open\n\n  {{link}}\n",
            ),
            change_email: Template::new(
                "Confirm your new email address",
                "Hello {{username}},\n\nTo make this your account's address, open\n\n  {{link}}\n\n\
                 If you did not ask for it, ignore this message.\n",
            ),
        }
    }
}

/// One failed-login counter, shared by every instance of a service on
/// PostgreSQL (see [`Throttling`]): the key is a hash of what it counts
/// (an account, an address, or the two), so logins of any length fit.
/// A table only: it is not part of the GraphQL API.
#[derive(Model)]
#[model(app = "auth", graphql = false)]
pub struct LoginThrottle {
    pub id: Id,
    #[field(max_length = 64, unique)]
    pub key: String,
    /// Attempts counted (each when it starts), since the counter was last
    /// idle for a whole window.
    pub failures: i32,
    pub last_at: chrono::DateTime<chrono::Utc>,
    /// No attempt on this counter before this time.
    pub until_at: chrono::DateTime<chrono::Utc>,
}

/// How the auth app behaves.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Offer the `register` mutation.
    pub register: bool,
    pub hasher: Hasher,
    pub policy: Policy,
    /// The idle timeout: a session whose refresh token goes unused this
    /// long ends (each refresh starts the time again).
    pub refresh_ttl: Duration,
    /// The absolute lifetime of a session: however often it is refreshed,
    /// it ends this long after the login (`None`: never).
    pub session_max_age: Option<Duration>,
    /// Progressive delays after failed logins (see [`Throttling`]).
    pub throttling: Throttling,
    /// Who may list users and look them up from the root (`users`,
    /// `user(id:)`). A post's author stays readable wherever the post is.
    pub list_users: Rule,
    /// Sends the account emails (`GRAPHLOOM_EMAIL_URL` points it at a
    /// backend when serving; the console by default).
    pub mailer: Mailer,
    pub emails: Emails,
    /// The link a reset email carries; `{token}` is replaced. Your
    /// frontend's page, which calls `resetPassword`.
    pub reset_url: String,
    /// The link a verification email carries (`verifyEmail`).
    pub verify_url: String,
    /// How long a reset link works.
    pub reset_ttl: Duration,
    /// How long a verification link works.
    pub verify_ttl: Duration,
    /// How often one address, or one client, may ask for reset emails.
    pub reset_throttling: Throttling,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            register: true,
            hasher: Hasher::default(),
            policy: Policy::default(),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            session_max_age: Some(Duration::from_secs(30 * 24 * 3600)),
            throttling: Throttling::default(),
            list_users: Rule::Authenticated,
            mailer: Mailer::console(),
            emails: Emails::default(),
            reset_url: "http://127.0.0.1:3000/reset-password?token={token}".into(),
            verify_url: "http://127.0.0.1:3000/verify-email?token={token}".into(),
            reset_ttl: Duration::from_secs(3600),
            verify_ttl: Duration::from_secs(3 * 24 * 3600),
            reset_throttling: Throttling {
                pair_free: 3,
                account_free: 5,
                address_free: 30,
                first_delay: Duration::from_secs(10),
                window: Duration::from_secs(3600),
                ..Throttling::default()
            },
        }
    }
}

/// The auth app with default settings.
pub fn app() -> App {
    app_with(AuthSettings::default())
}

/// The auth app: models, their rules, and the token fields.
pub fn app_with(settings: AuthSettings) -> App {
    let settings = Arc::new(settings);
    let limiter = Arc::new(throttle::Throttle::default());
    let app = App::new("auth")
        .migrations(migrations::DIR, migrations::FILES)
        .model::<User>()
        .model::<Group>()
        .model::<Permission>()
        .model::<RefreshToken>()
        .model::<LoginThrottle>()
        .model::<AccountToken>()
        // Everything about a user but the username is theirs and staff's
        // to see (and to filter on); the rest is staff business.
        .permissions::<User>({
            let own = || Rule::Owner("id").or(Rule::Staff);
            ModelRules::new()
                .list(settings.list_users.clone())
                .update(Rule::Superuser)
                .delete(Rule::Superuser)
                .field("email", own())
                .field("is_active", own())
                .field("is_staff", own())
                .field("is_superuser", own())
                .field("email_verified", own())
                .field("date_joined", own())
                .field("last_login", own())
        })
        .permissions::<Group>(
            ModelRules::new()
                .view(Rule::Staff)
                .create(Rule::Superuser)
                .update(Rule::Superuser)
                .delete(Rule::Superuser),
        )
        .permissions::<Permission>(ModelRules::new().view(Rule::Staff));
    // The serve command sets the TTL; until then (tests), five seconds.
    let sessions = Arc::new(graphloom_server::SessionCache::new(Duration::from_secs(5)));
    let cookies = Arc::new(Cookies::default());
    let app = resolvers::fields(
        app,
        Arc::clone(&settings),
        Arc::clone(&limiter),
        Arc::clone(&sessions),
        Arc::clone(&cookies),
    );
    let mut app = account::fields(
        app,
        Arc::clone(&settings),
        Arc::clone(&sessions),
        Arc::clone(&cookies),
    );
    app.auth = Some(settings);
    app.sessions = Some(sessions);
    app.cookies = Some(cookies);
    app.limiter = Some(limiter);
    app
}

/// Creates the four default permissions of every model (`blog.add_post`,
/// `blog.change_post`, `blog.delete_post`, `blog.view_post`) that are
/// missing, in one statement.
pub async fn ensure_permissions(ctx: &crate::query::Ctx) -> crate::query::Result<()> {
    if ctx.model::<Permission>().is_err() {
        return Ok(());
    }
    let mut rows = Vec::new();
    for m in ctx.registry().models() {
        for (action, verb) in [
            ("add", "Can add"),
            ("change", "Can change"),
            ("delete", "Can delete"),
            ("view", "Can view"),
        ] {
            rows.push([
                Permission::CODENAME.set(crate::meta::model_permission(m.key, action)),
                Permission::NAME.set(format!("{verb} {}", m.key.name.to_lowercase())),
            ]);
        }
    }
    Permission::objects(ctx)
        .create_many(rows, crate::query::Conflicts::Ignore)
        .await
        .map(drop)
}

/// `createsuperuser` and `changepassword`, for the CLI.
pub(crate) use resolvers::{change_password, create_superuser};
