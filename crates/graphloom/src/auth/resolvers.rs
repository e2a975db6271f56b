//! The token lifecycle as GraphQL fields, on the model API: every read and
//! write goes through the query engine, acting as the system where the
//! auth app keeps its own books (refresh tokens, logins), so the model's
//! limits and constraints are the only ones.

use std::sync::Arc;

use async_graphql::{
    Value as Gql,
    dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use graphloom_auth::{
    password::Verified,
    token::{Issuer, Principal},
};
use graphloom_db::Exec;
use graphloom_graphql::{ResultExt, Runtime, context::scope_of, translate::plan_node};
use graphloom_meta::Id;
use graphloom_query::{
    Ctx, Error, ErrorCode, FieldCode, FieldError, Result, exec::fetch_unique, scope::Scope,
};
use sha2::{Digest, Sha256};

use super::{
    AuthSettings, Cookies, Group, Permission, RefreshToken, User,
    account::{Done, input_type},
    throttle::Throttle,
};
use crate::App;
use graphloom_server::{SessionCache, sessions::SESSION_COOKIE};

/// Runs argon2 on the blocking pool, as many at once as there are cores:
/// a hash is ~20 ms of CPU and 19 MiB, and on the async workers a burst of
/// logins stalled every other request (and unbounded, it would take one
/// blocking thread and 19 MiB per login in flight).
pub(super) async fn hashing<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _permit = permits.acquire().await.map_err(Error::internal)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Error::internal)
}

pub(super) fn unauthenticated(message: &str) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

/// The system's context over the request's engine: the auth app keeps
/// accounts and tokens as the system.
pub(super) fn system(rt: &Runtime) -> Ctx {
    Ctx::system(Arc::clone(&rt.engine))
}

/// A user by username (exactly) or email (in any case).
pub(super) async fn by_login(ctx: &Ctx, login: &str) -> Result<Option<User>> {
    User::objects(ctx)
        .filter(User::USERNAME.eq(login).or(User::EMAIL.iexact(login)))
        .one()
        .await
}

/// A user by id (a principal's `user_id`).
pub(super) async fn by_id(ctx: &Ctx, id: &str) -> Result<Option<User>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    User::objects(ctx).filter(User::ID.eq(id)).one().await
}

/// The codenames a user holds, directly and through groups, in one statement.
pub(super) async fn permissions_of(ctx: &Ctx, user: Id) -> Result<Vec<String>> {
    let direct = User::USER_PERMISSIONS.reverse().some(User::ID.eq(user));
    let through_groups = Group::PERMISSIONS
        .reverse()
        .some(User::GROUPS.reverse().some(User::ID.eq(user)));
    Ok(Permission::objects(ctx)
        .filter(direct.or(through_groups))
        .order_by(Permission::CODENAME.asc())
        .all()
        .await?
        .into_iter()
        .map(|p| p.codename)
        .collect())
}

pub(super) fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn issuer(rt: &Runtime) -> Result<&Arc<Issuer>> {
    rt.config.token_issuer.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::NotConfigured,
            "this service issues no tokens: set GRAPHLOOM_JWT_SECRET or GRAPHLOOM_JWT_PRIVATE_KEY_FILE",
        )
    })
}

/// What login, register and refresh return.
#[derive(Debug, Clone)]
struct Issued {
    access: String,
    refresh: String,
    expires_in: u64,
    principal: Principal,
    /// The tokens went into cookies (a cookie login): not in the body.
    cookie: bool,
}

/// Signs an access token and stores a new refresh token in `family`, the
/// session begun at `started` (a login: now).
async fn issue(
    rt: &Runtime,
    settings: &AuthSettings,
    user: &User,
    family: uuid::Uuid,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<Issued> {
    let ctx = system(rt);
    let perms = permissions_of(&ctx, user.id).await?;
    let issuer = issuer(rt)?;
    let user_id = user.id.0.to_string();
    let sid = family.to_string();
    let (access, _) = issuer
        .issue_in_session(
            &user_id,
            Some(&sid),
            perms.clone(),
            user.is_staff,
            user.is_superuser,
        )
        .map_err(Error::internal)?;
    let mut raw = uuid::Uuid::new_v4().as_bytes().to_vec();
    raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let refresh = URL_SAFE_NO_PAD.encode(raw);
    let idle = chrono::Utc::now()
        + chrono::Duration::from_std(settings.refresh_ttl).unwrap_or(chrono::Duration::days(14));
    // Never past the session's absolute end.
    let expires = match session_end(settings, started) {
        Some(end) => idle.min(end),
        None => idle,
    };
    RefreshToken::objects(&ctx)
        .create([
            RefreshToken::TOKEN_HASH.set(hash_token(&refresh)),
            RefreshToken::FAMILY.set(family),
            RefreshToken::USER.set(user.id),
            RefreshToken::EXPIRES_AT.set(expires),
            RefreshToken::STARTED_AT.set(started),
        ])
        .await?;
    Ok(Issued {
        access,
        refresh,
        expires_in: issuer.ttl,
        principal: Principal {
            user_id,
            perms,
            staff: user.is_staff,
            superuser: user.is_superuser,
            session: Some(sid),
        },
        cookie: false,
    })
}

/// When a session begun at `started` must end, if it has an absolute lifetime.
fn session_end(
    settings: &AuthSettings,
    started: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let max = chrono::Duration::from_std(settings.session_max_age?).ok()?;
    started.checked_add_signed(max)
}

/// Revokes every live refresh token of a family (a session) or a user.
pub(super) async fn revoke(ctx: &Ctx, whose: graphloom_query::Where<RefreshToken>) -> Result<u64> {
    RefreshToken::objects(ctx)
        .filter(whose)
        .filter(RefreshToken::REVOKED.eq(false))
        .update([RefreshToken::REVOKED.set(true)])
        .await
}

/// What `register`, `login` and `refreshToken` answer: the tokens, or the
/// input they refused.
#[derive(Debug, Clone)]
struct Authed {
    issued: Option<Issued>,
    errors: Vec<FieldError>,
}

fn payload_type() -> Object {
    let text = |name: &'static str, get: fn(&Issued) -> Gql| {
        Field::new(name, TypeRef::named(TypeRef::STRING), move |ctx| {
            FieldFuture::new(async move {
                let a = ctx.parent_value.try_downcast_ref::<Authed>()?;
                Ok(a.issued.as_ref().filter(|i| !i.cookie).map(get))
            })
        })
    };
    Object::new("AuthPayload")
        .description(
            "A fresh access token (short-lived), a single-use refresh token, and the user; \
             or, when `errors` say why not, none of them.",
        )
        .field(text("accessToken", |i| Gql::String(i.access.clone())))
        .field(text("refreshToken", |i| Gql::String(i.refresh.clone())))
        .field(Field::new(
            "expiresIn",
            TypeRef::named(TypeRef::INT),
            |ctx| {
                FieldFuture::new(async move {
                    let a = ctx.parent_value.try_downcast_ref::<Authed>()?;
                    Ok(a.issued.as_ref().map(|i| Gql::from(i.expires_in)))
                })
            },
        ))
        .field(Field::new(
            "errors",
            TypeRef::named_nn_list_nn("FieldError"),
            |ctx| {
                FieldFuture::new(async move {
                    let a = ctx.parent_value.try_downcast_ref::<Authed>()?;
                    Ok(Some(FieldValue::list(
                        a.errors.iter().cloned().map(FieldValue::owned_any),
                    )))
                })
            },
        ))
}

/// `AuthPayload.user`: the user as the new principal sees them, through the planner.
fn payload_user(rt: &Arc<Runtime>) -> Field {
    let rt = Arc::clone(rt);
    Field::new("user", TypeRef::named("User"), move |ctx| {
        let rt = Arc::clone(&rt);
        FieldFuture::new(async move {
            let Some(issued) = &ctx.parent_value.try_downcast_ref::<Authed>()?.issued else {
                return Ok(None);
            };
            let scope = Arc::new(
                Scope::new(
                    Arc::clone(rt.engine.registry_arc()),
                    Some(issued.principal.clone()),
                )
                .await,
            );
            user_node(&rt, &scope, &ctx, &issued.principal.user_id)
                .await
                .gql()
        })
    })
}

pub(super) async fn user_node(
    rt: &Arc<Runtime>,
    scope: &Arc<Scope>,
    ctx: &ResolverContext<'_>,
    id: &str,
) -> Result<Option<FieldValue<'static>>> {
    let m = rt.engine.model::<User>()?;
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let plan = plan_node(rt, scope, m, &ctx.ctx.field())?;
    let node = fetch_unique(
        &rt.engine,
        &mut Exec::pool(rt.engine.db()),
        scope,
        m,
        // The built-in user model: keyed by `id: Id`.
        m.ref_pk(),
        Id(id).into(),
        &plan,
    )
    .await?;
    Ok(node.map(|mut n| {
        n.scope = Some(Arc::clone(scope));
        FieldValue::owned_any(Arc::new(n))
    }))
}

/// A string field of the mutation's `input`.
fn arg(ctx: &ResolverContext<'_>, name: &str) -> Result<String> {
    ctx.args
        .get("input")
        .and_then(|i| i.object().ok())
        .and_then(|o| o.get(name).and_then(|v| v.string().ok().map(str::to_owned)))
        .ok_or_else(|| Error::bad_input(format!("`input.{name}` must be a string")))
}

pub(super) fn principal(ctx: &ResolverContext<'_>) -> Result<Principal> {
    ctx.data_opt::<Arc<graphloom_query::RequestContext>>()
        .and_then(|c| c.principal.clone())
        .ok_or_else(|| unauthenticated("log in first"))
}

pub(super) fn client(ctx: &ResolverContext<'_>) -> String {
    ctx.data_opt::<Arc<graphloom_query::RequestContext>>()
        .and_then(|c| c.client.clone())
        .unwrap_or_else(|| "unknown".into())
}

async fn login(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &AuthSettings,
    limiter: &Throttle,
    cookies: &Cookies,
) -> Result<Issued> {
    let login = arg(ctx, "login")?;
    let password = arg(ctx, "password")?;
    let in_cookie = ctx
        .args
        .get("input")
        .and_then(|i| i.object().ok())
        .and_then(|o| o.get("cookie").and_then(|v| v.boolean().ok()))
        .unwrap_or(false);
    if in_cookie && !cookies.enabled() {
        return Err(Error::new(
            ErrorCode::NotConfigured,
            "cookie sessions are off: serve with GRAPHLOOM_COOKIE_SESSIONS=1",
        ));
    }
    let user = authenticate(rt, settings, limiter, &login, password, &client(ctx)).await?;
    let now = chrono::Utc::now();
    let mut issued = issue(rt, settings, &user, uuid::Uuid::new_v4(), now).await?;
    if in_cookie {
        for c in cookie_session(settings, &issued.refresh, now) {
            ctx.ctx.append_http_header("set-cookie", c);
        }
        issued.cookie = true;
    }
    Ok(issued)
}

/// The active user a login and password name, checked under the login
/// throttle (a refusal counts against it), with `last_login` stamped and
/// the hash upgraded when the hasher's parameters changed. A wrong login,
/// a wrong password and an inactive account get the same error.
pub(crate) async fn authenticate(
    rt: &Runtime,
    settings: &AuthSettings,
    limiter: &Throttle,
    login: &str,
    password: String,
    client: &str,
) -> Result<User> {
    let policy = &settings.throttling;
    // The place is taken before anything is awaited: concurrent guesses
    // count against each other.
    let attempt = limiter
        .start(&rt.engine, policy, login, client)
        .await
        .map_err(|refusal| refusal.into_error("login", "failed logins"))?;
    let sys = system(rt);
    let checked = async {
        let user = by_login(&sys, login).await?;
        // One verify for every login, known user or not, so timing tells nothing.
        let stored = user.as_ref().map(|u| u.password.clone());
        let hasher = settings.hasher.clone();
        let verified = hashing(move || match stored {
            Some(stored) => hasher.verify(&password, &stored),
            None => hasher.verify_nobody(&password),
        })
        .await?;
        Ok::<_, Error>((user, verified))
    };
    // An error here drops the attempt: it frees its place, counting nothing.
    let (user, verified) = checked.await?;
    let (user, rehash) = match (user, verified) {
        (Some(user), Verified::Yes { rehash }) if user.is_active => (user, rehash),
        // Unknown, wrong password or inactive: one answer for all three.
        _ => {
            attempt.fail(policy);
            return Err(unauthenticated("invalid login or password"));
        }
    };
    attempt.succeed(&rt.engine, policy).await?;
    let mut changes = vec![User::LAST_LOGIN.set(chrono::Utc::now())];
    if let Some(h) = rehash {
        changes.push(User::PASSWORD.set(h));
    }
    User::objects(&sys).update_row(&user, changes).await?;
    Ok(user)
}

/// A new session for `user` kept in cookies: its `Set-Cookie` values (the
/// refresh token, HttpOnly, and a CSRF token for the page to send back).
pub(crate) async fn cookie_login(
    rt: &Runtime,
    settings: &AuthSettings,
    user: &User,
) -> Result<[String; 2]> {
    let now = chrono::Utc::now();
    let issued = issue(rt, settings, user, uuid::Uuid::new_v4(), now).await?;
    Ok(cookie_session(settings, &issued.refresh, now))
}

/// The cookies of a session begun at `now`: it lasts as its refresh token
/// does; the CSRF token is random.
fn cookie_session(
    settings: &AuthSettings,
    refresh: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> [String; 2] {
    let max_age = session_end(settings, now)
        .and_then(|end| (end - now).to_std().ok())
        .map_or(settings.refresh_ttl, |left| left.min(settings.refresh_ttl));
    let csrf = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    Cookies::set(refresh, &csrf, max_age)
}

async fn refresh(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &AuthSettings,
) -> Result<Issued> {
    let token = arg(ctx, "refreshToken")?;
    let sys = system(rt);
    let Some(row) = RefreshToken::objects(&sys)
        .filter(RefreshToken::TOKEN_HASH.eq(hash_token(&token)))
        .one()
        .await?
    else {
        return Err(unauthenticated("invalid refresh token"));
    };
    let reused = || unauthenticated("this refresh token was already used; the session is revoked");
    if row.used_at.is_some() || row.revoked {
        // A spent token came back: someone holds a copy. End the whole session.
        revoke(&sys, RefreshToken::FAMILY.eq(row.family)).await?;
        return Err(reused());
    }
    let now = chrono::Utc::now();
    let started = row.started_at.unwrap_or(row.created_at);
    if session_end(settings, started).is_some_and(|end| end <= now) {
        revoke(&sys, RefreshToken::FAMILY.eq(row.family)).await?;
        return Err(unauthenticated(
            "the session reached its maximum age; log in again",
        ));
    }
    if row.expires_at < now {
        return Err(unauthenticated("the refresh token has expired"));
    }
    // Use it exactly once, even against a concurrent refresh.
    let used = RefreshToken::objects(&sys)
        .filter(RefreshToken::ID.eq(row.id))
        .filter(RefreshToken::USED_AT.is_null(true))
        .update([RefreshToken::USED_AT.set(chrono::Utc::now())])
        .await?;
    if used != 1 {
        revoke(&sys, RefreshToken::FAMILY.eq(row.family)).await?;
        return Err(reused());
    }
    let user_id = row.user.key.key_string();
    let Some(user) = by_id(&sys, &user_id).await?.filter(|u| u.is_active) else {
        return Err(unauthenticated("invalid refresh token"));
    };
    issue(rt, settings, &user, row.family, started).await
}

async fn logout(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    sessions: &SessionCache,
    cookies: &Cookies,
) -> Result<bool> {
    // The token given, or the session cookie's (which scripts cannot read).
    let token = match arg(ctx, "refreshToken") {
        Ok(t) => t,
        Err(_) => {
            let jar = ctx
                .data_opt::<Arc<graphloom_query::RequestContext>>()
                .and_then(|c| c.headers.get("cookie").cloned())
                .unwrap_or_default();
            let Some(t) = graphloom_server::sessions::cookie(&jar, SESSION_COOKIE)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
            else {
                return Err(Error::refused(vec![FieldError::new(
                    "refreshToken",
                    "Give the refresh token, or send the session cookie.",
                    FieldCode::Required,
                )]));
            };
            for c in Cookies::clear() {
                ctx.ctx.append_http_header("set-cookie", c);
            }
            t
        }
    };
    end_session(&system(rt), sessions, cookies, &token).await
}

/// Ends the session of a refresh token (its whole family); whether there
/// was one.
pub(crate) async fn end_session(
    sys: &Ctx,
    sessions: &SessionCache,
    cookies: &Cookies,
    token: &str,
) -> Result<bool> {
    cookies.forget();
    let Some(row) = RefreshToken::objects(sys)
        .filter(RefreshToken::TOKEN_HASH.eq(hash_token(token)))
        .one()
        .await?
    else {
        return Ok(false);
    };
    revoke(sys, RefreshToken::FAMILY.eq(row.family)).await?;
    // This instance refuses the session's access tokens at once; the
    // others when their answer is older than the cache's TTL.
    sessions.forget_user(&row.user.key.key_string());
    Ok(true)
}

async fn revoke_all(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    sessions: &SessionCache,
) -> Result<u64> {
    let p = principal(ctx)?;
    let id = p
        .user_id
        .parse::<i64>()
        .map_err(|_| unauthenticated("unknown user"))?;
    let revoked = revoke(&system(rt), RefreshToken::USER.eq(id)).await?;
    sessions.forget_user(&p.user_id);
    Ok(revoked)
}

async fn change_own_password(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &AuthSettings,
    sessions: &SessionCache,
) -> Result<bool> {
    let p = principal(ctx)?;
    let old = arg(ctx, "oldPassword")?;
    let new = arg(ctx, "newPassword")?;
    let sys = system(rt);
    let user = by_id(&sys, &p.user_id)
        .await?
        .ok_or_else(|| unauthenticated("unknown user"))?;
    let (hasher, stored) = (settings.hasher.clone(), user.password.clone());
    let verified = hashing(move || hasher.verify(&old, &stored)).await?;
    if matches!(verified, Verified::No) {
        return Err(Error::refused(vec![FieldError::new(
            "oldPassword",
            "The old password is wrong.",
            FieldCode::Invalid,
        )]));
    }
    let problems = settings.policy.check(&new, &user.username, &user.email);
    if !problems.is_empty() {
        return Err(Error::refused(vec![FieldError::new(
            "newPassword",
            problems.join(" "),
            FieldCode::Validation,
        )]));
    }
    set_password(&sys, settings, &user, &new).await?;
    // Other sessions may hold the old password: end them; the one that
    // changed it goes on (Django's update_session_auth_hash).
    let mut others = RefreshToken::USER.eq(user.id);
    if let Some(current) = p
        .session
        .as_deref()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
    {
        others = others & !RefreshToken::FAMILY.eq(current);
    }
    revoke(&sys, others).await?;
    sessions.forget_user(&p.user_id);
    Ok(true)
}

async fn register(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &Arc<AuthSettings>,
) -> Result<Issued> {
    let (username, email, password) = (
        arg(ctx, "username")?,
        arg(ctx, "email")?,
        arg(ctx, "password")?,
    );
    let user = create_user(&system(rt), settings, &username, &email, &password, false).await?;
    let issued = issue(
        rt,
        settings,
        &user,
        uuid::Uuid::new_v4(),
        chrono::Utc::now(),
    )
    .await?;
    // The new address gets its confirmation link.
    super::account::send_verification(rt, Arc::clone(settings), user);
    Ok(issued)
}

async fn me(rt: &Arc<Runtime>, ctx: &ResolverContext<'_>) -> Result<Option<FieldValue<'static>>> {
    let Ok(p) = principal(ctx) else {
        return Ok(None);
    };
    // The request's own rules: the user, seen by themself.
    let scope = scope_of(ctx)?;
    user_node(rt, &scope, ctx, &p.user_id).await
}

/// A raw mutation returning `AuthPayload`.
fn payload_mutation<F>(
    name: &'static str,
    description: &'static str,
    run: F,
) -> crate::graphql::FieldFactory
where
    F: for<'a> Fn(
            &'a Runtime,
            &'a ResolverContext<'a>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Issued>> + Send + 'a>,
        > + Send
        + Sync
        + 'static,
{
    let run = Arc::new(run);
    Arc::new(move |rt| {
        let (rt, run) = (Arc::clone(rt), Arc::clone(&run));
        Field::new(name, TypeRef::named_nn("AuthPayload"), move |ctx| {
            let (rt, run) = (Arc::clone(&rt), Arc::clone(&run));
            FieldFuture::new(async move {
                let authed = match run(&rt, &ctx).await {
                    Ok(issued) => Authed {
                        issued: Some(issued),
                        errors: Vec::new(),
                    },
                    Err(e) => Authed {
                        issued: None,
                        errors: refusal(e).gql()?,
                    },
                };
                Ok(Some(FieldValue::owned_any(authed)))
            })
        })
        .description(description)
    })
}

/// An expected refusal as payload errors: the fields the input got wrong,
/// or the whole input (`field: []`, `INVALID`) for a login or a refresh
/// token that does not work. Anything else (a rate limit, a missing key)
/// stays a request error.
fn refusal(e: Error) -> Result<Vec<FieldError>> {
    if !e.fields.is_empty() {
        return Ok(e.fields);
    }
    match e.code {
        ErrorCode::Unauthenticated => Ok(vec![FieldError {
            field: Vec::new(),
            message: e.message,
            code: FieldCode::Invalid,
        }]),
        _ => Err(e),
    }
}

fn input_arg(type_name: &str) -> InputValue {
    InputValue::new("input", TypeRef::named_nn(type_name))
}

/// Adds the token fields and types to the auth app.
pub(super) fn fields(
    app: App,
    settings: Arc<AuthSettings>,
    limiter: Arc<Throttle>,
    sessions: Arc<SessionCache>,
    cookies: Arc<Cookies>,
) -> App {
    let mut app = app
        .raw_type(Arc::new(|rt| payload_type().field(payload_user(rt)).into()))
        .raw_query(
            "me",
            Arc::new(|rt| {
                let rt = Arc::clone(rt);
                Field::new("me", TypeRef::named("User"), move |ctx| {
                    let rt = Arc::clone(&rt);
                    FieldFuture::new(async move { me(&rt, &ctx).await.gql() })
                })
                .description("The logged-in user, or null.")
            }),
        );
    let (s, l, k) = (
        Arc::clone(&settings),
        Arc::clone(&limiter),
        Arc::clone(&cookies),
    );
    let login_field = payload_mutation(
        "login",
        "Logs in; a wrong login and a wrong password get the same error.",
        move |rt, ctx| {
            let (s, l, k) = (Arc::clone(&s), Arc::clone(&l), Arc::clone(&k));
            Box::pin(async move { login(rt, ctx, &s, &l, &k).await })
        },
    );
    app = app
        .raw_type(Arc::new(|_| {
            input_type(
                "LoginInput",
                &[("login", "A username or an email."), ("password", "")],
            )
            .field(
                InputValue::new("cookie", TypeRef::named(TypeRef::BOOLEAN)).description(
                    "Keep the session in an HttpOnly cookie (with a CSRF token \
                     cookie) instead of returning the tokens; cookie sessions \
                     must be on.",
                ),
            )
            .into()
        }))
        .raw_mutation(
            "login",
            Arc::new(move |rt| login_field(rt).argument(input_arg("LoginInput"))),
        );
    let s = Arc::clone(&settings);
    let refresh_field = payload_mutation(
        "refreshToken",
        "Trades a refresh token for new tokens. Each refresh token works once.",
        move |rt, ctx| {
            let s = Arc::clone(&s);
            Box::pin(async move { refresh(rt, ctx, &s).await })
        },
    );
    app = app
        .raw_type(Arc::new(|_| {
            input_type(
                "RefreshTokenInput",
                &[("refreshToken", "The refresh token; it works once.")],
            )
            .into()
        }))
        .raw_mutation(
            "refreshToken",
            Arc::new(move |rt| refresh_field(rt).argument(input_arg("RefreshTokenInput"))),
        );
    let (cache, k2) = (Arc::clone(&sessions), Arc::clone(&cookies));
    app = super::account::mutation(
        app,
        "logout",
        "Ends the session the refresh token belongs to, or the session cookie's.",
        &[(
            "refreshToken?",
            "The session's refresh token; without it, the session cookie's.",
        )],
        Arc::new(move |rt, ctx| {
            let (cache, k) = (Arc::clone(&cache), Arc::clone(&k2));
            Box::pin(async move {
                Ok(if logout(rt, ctx, &cache, &k).await? {
                    Done::ok()
                } else {
                    Done::refused(
                        "refreshToken",
                        "This refresh token is unknown.",
                        FieldCode::Invalid,
                    )
                })
            })
        }),
    );
    let (cache, k) = (Arc::clone(&sessions), Arc::clone(&cookies));
    app = app.raw_mutation(
        "revokeAllSessions",
        Arc::new(move |rt| {
            let (rt, cache, k) = (Arc::clone(rt), Arc::clone(&cache), Arc::clone(&k));
            Field::new(
                "revokeAllSessions",
                TypeRef::named_nn(TypeRef::INT),
                move |ctx| {
                    let (rt, cache, k) = (Arc::clone(&rt), Arc::clone(&cache), Arc::clone(&k));
                    FieldFuture::new(async move {
                        let n = revoke_all(&rt, &ctx, &cache).await.gql()?;
                        // This instance's cookie answers go too.
                        k.forget();
                        Ok(Some(Gql::from(n)))
                    })
                },
            )
            .description("Revokes every refresh token of the logged-in user; returns how many.")
        }),
    );
    let (s, cache, k) = (
        Arc::clone(&settings),
        Arc::clone(&sessions),
        Arc::clone(&cookies),
    );
    app = super::account::mutation(
        app,
        "changePassword",
        "Changes the logged-in user's password and ends their other sessions.",
        &[
            ("oldPassword", "The current password."),
            (
                "newPassword",
                "The new password, checked by the password policy.",
            ),
        ],
        Arc::new(move |rt, ctx| {
            let (s, cache, k) = (Arc::clone(&s), Arc::clone(&cache), Arc::clone(&k));
            Box::pin(async move {
                match change_own_password(rt, ctx, &s, &cache).await {
                    Ok(_) => {
                        k.forget();
                        Ok(Done::ok())
                    }
                    Err(e) if !e.fields.is_empty() => Ok(Done::failed(e.fields)),
                    Err(e) => Err(e),
                }
            })
        }),
    );
    if settings.register {
        let s = Arc::clone(&settings);
        let register_field = payload_mutation(
            "register",
            "Creates an account and logs it in.",
            move |rt, ctx| {
                let s = Arc::clone(&s);
                Box::pin(async move { register(rt, ctx, &s).await })
            },
        );
        app = app
            .raw_type(Arc::new(|_| {
                input_type(
                    "RegisterInput",
                    &[
                        ("username", "Unique login name."),
                        ("email", ""),
                        ("password", "Checked by the password policy."),
                    ],
                )
                .into()
            }))
            .raw_mutation(
                "register",
                Arc::new(move |rt| register_field(rt).argument(input_arg("RegisterInput"))),
            );
    }
    app
}

pub(super) async fn set_password(
    ctx: &Ctx,
    settings: &AuthSettings,
    user: &User,
    password: &str,
) -> Result<()> {
    let (hasher, password) = (settings.hasher.clone(), password.to_owned());
    let hash = hashing(move || hasher.hash(&password))
        .await?
        .map_err(Error::internal)?;
    User::objects(ctx)
        .update_row(user, [User::PASSWORD.set(hash)])
        .await?;
    // A reset link mailed before the change no longer works.
    super::account::spend_tokens(ctx, user.id, super::TokenPurpose::Reset).await
}

/// Creates a user after the password policy; `superuser` also makes them
/// staff. The model's limits (`max_length`, unique) and its validation
/// hook refuse the rest.
async fn create_user(
    ctx: &Ctx,
    settings: &AuthSettings,
    username: &str,
    email: &str,
    password: &str,
    superuser: bool,
) -> Result<User> {
    let (username, email) = (username.trim(), email.trim());
    let problems = settings.policy.check(password, username, email);
    if !problems.is_empty() {
        return Err(Error::refused(vec![FieldError::new(
            "password",
            problems.join(" "),
            FieldCode::Validation,
        )]));
    }
    let (hasher, password) = (settings.hasher.clone(), password.to_owned());
    let hash = hashing(move || hasher.hash(&password))
        .await?
        .map_err(Error::internal)?;
    User::objects(ctx)
        .create([
            User::USERNAME.set(username),
            User::EMAIL.set(email),
            User::PASSWORD.set(hash),
            User::IS_STAFF.set(superuser),
            User::IS_SUPERUSER.set(superuser),
        ])
        .await
        .map_err(|e| {
            // One refusal of the whole input for a taken username or email:
            // which one is not for strangers to learn.
            if e.fields.iter().any(|f| f.code == FieldCode::Unique) {
                Error::refused(vec![FieldError {
                    field: Vec::new(),
                    message: "That username or email is taken.".into(),
                    code: FieldCode::Unique,
                }])
            } else {
                e
            }
        })
}

/// `createsuperuser`: a superuser, checked by the password policy.
pub(crate) async fn create_superuser(
    ctx: &Ctx,
    settings: &AuthSettings,
    username: &str,
    email: &str,
    password: &str,
) -> Result<()> {
    create_user(ctx, settings, username, email, password, true)
        .await
        .map(drop)
}

/// `changepassword`: sets a user's password by username and ends their sessions.
pub(crate) async fn change_password(
    ctx: &Ctx,
    settings: &AuthSettings,
    username: &str,
    password: &str,
) -> Result<()> {
    let user = by_login(ctx, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user `{username}`")))?;
    let problems = settings.policy.check(password, &user.username, &user.email);
    if !problems.is_empty() {
        return Err(Error::bad_input(problems.join(" ")));
    }
    set_password(ctx, settings, &user, password).await?;
    revoke(ctx, RefreshToken::USER.eq(user.id)).await.map(drop)
}
