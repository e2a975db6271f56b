//! The token lifecycle as GraphQL fields, and the SQL behind them.

use std::sync::Arc;

use async_graphql::{
    Value as Gql,
    dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use graphloom_auth::{
    password::Verified,
    token::{Issuer, Principal},
};
use graphloom_db::{
    DbErrorKind, Dialect, bind,
    sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query, UnionType, UpdateStatement},
};
use graphloom_graphql::{
    Error, Runtime, exec::fetch_unique, permissions::Scope, plan::plan_node, scope_of, sql::col,
};
use graphloom_meta::{JoinTable, Model, ModelKey, ModelMeta, RelationKind, Value, ValueType};
use sha2::{Digest, Sha256};

use super::{AuthSettings, Limiter, Permission, RefreshToken, User};
use crate::App;

type Res<T> = Result<T, async_graphql::Error>;

fn model<M: Model>(rt: &Runtime) -> Result<&ModelMeta, Error> {
    rt.registry
        .by_key(ModelKey::of::<M>())
        .ok_or_else(|| Error::internal("the auth app's models are not registered"))
}

fn column(m: &ModelMeta, field: &str) -> Result<String, Error> {
    m.field(field)
        .map(|(_, f)| f.column.clone())
        .ok_or_else(|| Error::internal(format!("{} has no field {field}", m.key)))
}

fn join<'a>(rt: &'a Runtime, m: &ModelMeta, relation: &str) -> Result<&'a JoinTable, Error> {
    match m.relation(relation).map(|(_, r)| &r.kind) {
        Some(RelationKind::ManyToMany { join, .. }) => Ok(rt.registry.join(*join)),
        _ => Err(Error::internal(format!(
            "{} has no many-to-many `{relation}`",
            m.key
        ))),
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::coded(message, "UNAUTHENTICATED")
}

/// The stored facts of a user that logging in needs.
struct Account {
    id: Value,
    username: String,
    email: String,
    password: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
}

async fn find_account(rt: &Runtime, by: &str, value: &str) -> Result<Option<Account>, Error> {
    let m = model::<User>(rt)?;
    let cols = [
        "id",
        "username",
        "email",
        "password",
        "is_active",
        "is_staff",
        "is_superuser",
    ];
    let mut q = Query::select();
    q.from_as(Alias::new(&m.table), Alias::new("u"));
    for c in cols {
        q.expr(col("u", &column(m, c)?));
    }
    match by {
        "login" => {
            // A username exactly, or an email in any case.
            q.and_where(
                col("u", &column(m, "username")?)
                    .eq(value)
                    .or(Func::lower(col("u", &column(m, "email")?)).eq(value.to_lowercase())),
            );
        }
        _ => {
            let id = value
                .parse::<i64>()
                .map_err(|_| unauthenticated("unknown user"))?;
            q.and_where(col("u", &column(m, "id")?).eq(id));
        }
    }
    let types = [
        ValueType::I64,
        ValueType::String,
        ValueType::String,
        ValueType::String,
        ValueType::Bool,
        ValueType::Bool,
        ValueType::Bool,
    ];
    let rows = rt.db.fetch(&q, &types).await?;
    Ok(rows.into_iter().next().map(|r| {
        let text = |v: &Value| v.key_string();
        let flag = |v: &Value| matches!(v, Value::Bool(true));
        Account {
            id: r[0].clone(),
            username: text(&r[1]),
            email: text(&r[2]),
            password: text(&r[3]),
            is_active: flag(&r[4]),
            is_staff: flag(&r[5]),
            is_superuser: flag(&r[6]),
        }
    }))
}

/// The first column of every row, as text.
async fn first_column(
    rt: &Runtime,
    q: &graphloom_db::sea_query::SelectStatement,
) -> Result<Vec<String>, Error> {
    Ok(rt
        .db
        .fetch(q, &[ValueType::String])
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().map(|v| v.key_string()))
        .collect())
}

/// The codenames a user holds, directly and through groups.
async fn permissions_of(rt: &Runtime, user_id: &Value) -> Result<Vec<String>, Error> {
    let users = model::<User>(rt)?;
    let perms = model::<Permission>(rt)?;
    let group = rt
        .registry
        .by_key(ModelKey::of::<super::Group>())
        .ok_or_else(|| Error::internal("auth.Group is not registered"))?;
    let direct = join(rt, users, "userPermissions")?;
    let groups = join(rt, users, "groups")?;
    let group_perms = join(rt, group, "permissions")?;
    let codename = column(perms, "codename")?;
    let id = column(perms, "id")?;
    let user = || Expr::val(bind(user_id, ValueType::I64, rt.db.dialect()));
    let mut q = Query::select();
    q.expr(col("p", &codename))
        .from_as(Alias::new(&perms.table), Alias::new("p"))
        .join_as(
            JoinType::InnerJoin,
            Alias::new(&direct.table),
            Alias::new("j"),
            col("j", &direct.target_column).equals((Alias::new("p"), Alias::new(&id))),
        )
        .and_where(col("j", &direct.owner_column).eq(user()));
    let mut through_groups = Query::select();
    through_groups
        .expr(col("p", &codename))
        .from_as(Alias::new(&perms.table), Alias::new("p"))
        .join_as(
            JoinType::InnerJoin,
            Alias::new(&group_perms.table),
            Alias::new("gp"),
            col("gp", &group_perms.target_column).equals((Alias::new("p"), Alias::new(&id))),
        )
        .join_as(
            JoinType::InnerJoin,
            Alias::new(&groups.table),
            Alias::new("ug"),
            col("ug", &groups.target_column)
                .equals((Alias::new("gp"), Alias::new(&group_perms.owner_column))),
        )
        .and_where(col("ug", &groups.owner_column).eq(user()));
    // Direct and through groups, in one statement; UNION drops duplicates.
    q.union(UnionType::Distinct, through_groups);
    let mut out = first_column(rt, &q).await?;
    out.sort();
    Ok(out)
}

/// `UPDATE <m's table> SET <field> = <value> WHERE id = <id>`; the caller may
/// add values and conditions.
fn update_by_id(
    m: &ModelMeta,
    id: &Value,
    field: &str,
    value: Expr,
    d: Dialect,
) -> Result<UpdateStatement, Error> {
    let mut q = Query::update();
    q.table(Alias::new(&m.table))
        .value(Alias::new(column(m, field)?), value)
        .and_where(Expr::col(Alias::new(column(m, "id")?)).eq(Expr::val(bind(
            id,
            ValueType::I64,
            d,
        ))));
    Ok(q)
}

fn now(d: Dialect) -> Expr {
    Expr::val(bind(
        &Value::DateTime(chrono::Utc::now()),
        ValueType::DateTime,
        d,
    ))
}

fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn issuer(rt: &Runtime) -> Result<&Arc<Issuer>, Error> {
    rt.config.token_issuer.as_ref().ok_or_else(|| {
        Error::coded(
            "this service issues no tokens: set GRAPHLOOM_JWT_SECRET or GRAPHLOOM_JWT_PRIVATE_KEY_FILE",
            "NOT_CONFIGURED",
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
}

/// Signs an access token and stores a new refresh token in `family`.
async fn issue(
    rt: &Runtime,
    settings: &AuthSettings,
    account: &Account,
    family: uuid::Uuid,
) -> Result<Issued, Error> {
    let perms = permissions_of(rt, &account.id).await?;
    let issuer = issuer(rt)?;
    let (access, _) = issuer
        .issue(
            &account.id.key_string(),
            perms.clone(),
            account.is_staff,
            account.is_superuser,
        )
        .map_err(Error::internal)?;
    let mut raw = uuid::Uuid::new_v4().as_bytes().to_vec();
    raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let refresh = URL_SAFE_NO_PAD.encode(raw);
    let m = model::<RefreshToken>(rt)?;
    let d = rt.db.dialect();
    let now = chrono::Utc::now();
    let expires = now
        + chrono::Duration::from_std(settings.refresh_ttl).unwrap_or(chrono::Duration::days(14));
    let mut ins = Query::insert();
    ins.into_table(Alias::new(&m.table))
        .columns(
            [
                "token_hash",
                "family",
                "user",
                "expires_at",
                "revoked",
                "created_at",
            ]
            .iter()
            .map(|f| column(m, f).map(Alias::new))
            .collect::<Result<Vec<_>, _>>()?,
        )
        .values([
            Expr::val(bind(
                &Value::String(hash_token(&refresh)),
                ValueType::String,
                d,
            )),
            Expr::val(bind(&Value::Uuid(family), ValueType::Uuid, d)),
            Expr::val(bind(&account.id, ValueType::I64, d)),
            Expr::val(bind(&Value::DateTime(expires), ValueType::DateTime, d)),
            Expr::val(bind(&Value::Bool(false), ValueType::Bool, d)),
            Expr::val(bind(&Value::DateTime(now), ValueType::DateTime, d)),
        ])
        .map_err(Error::internal)?;
    rt.db.execute(&ins).await?;
    Ok(Issued {
        access,
        refresh,
        expires_in: issuer.ttl,
        principal: Principal {
            user_id: account.id.key_string(),
            perms,
            staff: account.is_staff,
            superuser: account.is_superuser,
        },
    })
}

async fn revoke_where(
    rt: &Runtime,
    field: &str,
    value: Value,
    ty: ValueType,
) -> Result<u64, Error> {
    let m = model::<RefreshToken>(rt)?;
    let d = rt.db.dialect();
    let mut q = Query::update();
    q.table(Alias::new(&m.table))
        .value(
            Alias::new(column(m, "revoked")?),
            Expr::val(bind(&Value::Bool(true), ValueType::Bool, d)),
        )
        .and_where(Expr::col(Alias::new(column(m, field)?)).eq(Expr::val(bind(&value, ty, d))))
        .and_where(
            Expr::col(Alias::new(column(m, "revoked")?)).eq(Expr::val(bind(
                &Value::Bool(false),
                ValueType::Bool,
                d,
            ))),
        );
    Ok(rt.db.execute(&q).await?)
}

fn payload_type() -> Object {
    let text = |name: &'static str, get: fn(&Issued) -> Gql| {
        Field::new(name, TypeRef::named_nn(TypeRef::STRING), move |ctx| {
            FieldFuture::new(async move {
                Ok(Some(get(ctx.parent_value.try_downcast_ref::<Issued>()?)))
            })
        })
    };
    Object::new("AuthPayload")
        .description(
            "A fresh access token (short-lived), a single-use refresh token, and the user.",
        )
        .field(text("accessToken", |i| Gql::String(i.access.clone())))
        .field(text("refreshToken", |i| Gql::String(i.refresh.clone())))
        .field(Field::new(
            "expiresIn",
            TypeRef::named_nn(TypeRef::INT),
            |ctx| {
                FieldFuture::new(async move {
                    let i = ctx.parent_value.try_downcast_ref::<Issued>()?;
                    Ok(Some(Gql::from(i.expires_in)))
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
            let issued = ctx.parent_value.try_downcast_ref::<Issued>()?;
            let scope = Arc::new(
                Scope::new(
                    Arc::clone(&rt.registry),
                    Arc::clone(&rt.permissions),
                    Some(issued.principal.clone()),
                )
                .await,
            );
            user_node(&rt, &scope, &ctx, &issued.principal.user_id).await
        })
    })
}

async fn user_node(
    rt: &Arc<Runtime>,
    scope: &Arc<Scope>,
    ctx: &ResolverContext<'_>,
    id: &str,
) -> Res<Option<FieldValue<'static>>> {
    let m = model::<User>(rt)?;
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let plan = plan_node(rt, scope, m, &ctx.ctx.field())?;
    let node = fetch_unique(rt, scope, m, m.pk, Value::I64(id), &plan).await?;
    Ok(node.map(|mut n| {
        n.scope = Some(Arc::clone(scope));
        FieldValue::owned_any(Arc::new(n))
    }))
}

fn arg(ctx: &ResolverContext<'_>, name: &str) -> Res<String> {
    Ok(ctx.args.try_get(name)?.string()?.to_owned())
}

fn principal(ctx: &ResolverContext<'_>) -> Result<Principal, Error> {
    ctx.data_opt::<Arc<graphloom_graphql::RequestContext>>()
        .and_then(|c| c.principal.clone())
        .ok_or_else(|| unauthenticated("log in first"))
}

fn client(ctx: &ResolverContext<'_>) -> String {
    ctx.data_opt::<Arc<graphloom_graphql::RequestContext>>()
        .and_then(|c| c.client.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// Adds the token fields and types to the auth app.
pub(super) fn fields(app: App, settings: Arc<AuthSettings>, limiter: Arc<Limiter>) -> App {
    let mut app = app
        .raw_type(Arc::new(|rt| payload_type().field(payload_user(rt)).into()))
        .raw_query(Arc::new(|rt| {
            let rt = Arc::clone(rt);
            Field::new("me", TypeRef::named("User"), move |ctx| {
                let rt = Arc::clone(&rt);
                FieldFuture::new(async move {
                    let Ok(p) = principal(&ctx) else {
                        return Ok(None);
                    };
                    let scope = scope_of(&ctx)?;
                    user_node(&rt, &scope, &ctx, &p.user_id).await
                })
            })
            .description("The logged-in user, or null.")
        }));
    let (s, l) = (Arc::clone(&settings), Arc::clone(&limiter));
    app = app.raw_mutation(Arc::new(move |rt| {
        let (rt, settings, limiter) = (Arc::clone(rt), Arc::clone(&s), Arc::clone(&l));
        Field::new("login", TypeRef::named_nn("AuthPayload"), move |ctx| {
            let (rt, settings, limiter) =
                (Arc::clone(&rt), Arc::clone(&settings), Arc::clone(&limiter));
            FieldFuture::new(async move {
                let login = arg(&ctx, "login")?;
                let password = arg(&ctx, "password")?;
                let account_key = format!("account:{}", login.to_lowercase());
                let address_key = format!("address:{}", client(&ctx));
                let w = settings.attempt_window;
                if limiter.blocked(&account_key, settings.account_attempts, w)
                    || limiter.blocked(&address_key, settings.address_attempts, w)
                {
                    return Err(Error::coded(
                        "too many failed logins; try again later",
                        "RATE_LIMITED",
                    )
                    .into());
                }
                let account = find_account(&rt, "login", &login).await?;
                // Verify against a hash even for unknown users, so timing tells nothing.
                let stored = account.as_ref().map_or_else(
                    || settings.hasher.hash("timing-equaliser").unwrap_or_default(),
                    |a| a.password.clone(),
                );
                let verified = settings.hasher.verify(&password, &stored);
                let (Some(account), Verified::Yes { rehash }) = (account, verified) else {
                    limiter.fail(&account_key);
                    limiter.fail(&address_key);
                    return Err(unauthenticated("invalid login or password").into());
                };
                if !account.is_active {
                    limiter.fail(&account_key);
                    limiter.fail(&address_key);
                    return Err(unauthenticated("invalid login or password").into());
                }
                limiter.clear(&account_key);
                let m = model::<User>(&rt)?;
                let d = rt.db.dialect();
                let mut q = update_by_id(m, &account.id, "last_login", now(d), d)?;
                if let Some(h) = rehash {
                    q.value(
                        Alias::new(column(m, "password")?),
                        Expr::val(bind(&Value::String(h), ValueType::String, d)),
                    );
                }
                rt.db.execute(&q).await?;
                let issued = issue(&rt, &settings, &account, uuid::Uuid::new_v4()).await?;
                Ok(Some(FieldValue::owned_any(issued)))
            })
        })
        .argument(
            InputValue::new("login", TypeRef::named_nn(TypeRef::STRING))
                .description("A username or an email."),
        )
        .argument(InputValue::new(
            "password",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .description("Logs in; a wrong login and a wrong password get the same error.")
    }));
    let s = Arc::clone(&settings);
    app = app.raw_mutation(Arc::new(move |rt| {
        let (rt, settings) = (Arc::clone(rt), Arc::clone(&s));
        Field::new(
            "refreshToken",
            TypeRef::named_nn("AuthPayload"),
            move |ctx| {
                let (rt, settings) = (Arc::clone(&rt), Arc::clone(&settings));
                FieldFuture::new(async move {
                    let token = arg(&ctx, "refreshToken")?;
                    let m = model::<RefreshToken>(&rt)?;
                    let d = rt.db.dialect();
                    let mut q = Query::select();
                    for f in ["id", "family", "user", "expires_at", "used_at", "revoked"] {
                        q.expr(Expr::col(Alias::new(column(m, f)?)));
                    }
                    q.from(Alias::new(&m.table)).and_where(
                        Expr::col(Alias::new(column(m, "token_hash")?)).eq(Expr::val(bind(
                            &Value::String(hash_token(&token)),
                            ValueType::String,
                            d,
                        ))),
                    );
                    let rows = rt
                        .db
                        .fetch(
                            &q,
                            &[
                                ValueType::I64,
                                ValueType::Uuid,
                                ValueType::I64,
                                ValueType::DateTime,
                                ValueType::DateTime,
                                ValueType::Bool,
                            ],
                        )
                        .await?;
                    let Some(row) = rows.into_iter().next() else {
                        return Err(unauthenticated("invalid refresh token").into());
                    };
                    let (family, user_id) = (row[1].clone(), row[2].key_string());
                    let spent = !row[4].is_null() || matches!(row[5], Value::Bool(true));
                    if spent {
                        // A spent token came back: someone holds a copy. End the whole session.
                        revoke_where(&rt, "family", family, ValueType::Uuid).await?;
                        return Err(unauthenticated(
                            "this refresh token was already used; the session is revoked",
                        )
                        .into());
                    }
                    if matches!(row[3], Value::DateTime(t) if t < chrono::Utc::now()) {
                        return Err(unauthenticated("the refresh token has expired").into());
                    }
                    // Use it exactly once, even against a concurrent refresh.
                    let mut used = update_by_id(m, &row[0], "used_at", now(d), d)?;
                    used.and_where(Expr::col(Alias::new(column(m, "used_at")?)).is_null());
                    if rt.db.execute(&used).await? != 1 {
                        revoke_where(&rt, "family", family, ValueType::Uuid).await?;
                        return Err(unauthenticated(
                            "this refresh token was already used; the session is revoked",
                        )
                        .into());
                    }
                    let Some(account) = find_account(&rt, "id", &user_id)
                        .await?
                        .filter(|a| a.is_active)
                    else {
                        return Err(unauthenticated("invalid refresh token").into());
                    };
                    let Value::Uuid(family) = family else {
                        return Err(Error::internal("a refresh token without a family").into());
                    };
                    Ok(Some(FieldValue::owned_any(
                        issue(&rt, &settings, &account, family).await?,
                    )))
                })
            },
        )
        .argument(InputValue::new(
            "refreshToken",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .description("Trades a refresh token for new tokens. Each refresh token works once.")
    }));
    app = app.raw_mutation(Arc::new(|rt| {
        let rt = Arc::clone(rt);
        Field::new("logout", TypeRef::named_nn(TypeRef::BOOLEAN), move |ctx| {
            let rt = Arc::clone(&rt);
            FieldFuture::new(async move {
                let token = arg(&ctx, "refreshToken")?;
                let m = model::<RefreshToken>(&rt)?;
                let mut q = Query::select();
                q.expr(Expr::col(Alias::new(column(m, "family")?)))
                    .from(Alias::new(&m.table))
                    .and_where(
                        Expr::col(Alias::new(column(m, "token_hash")?)).eq(Expr::val(bind(
                            &Value::String(hash_token(&token)),
                            ValueType::String,
                            rt.db.dialect(),
                        ))),
                    );
                let rows = rt.db.fetch(&q, &[ValueType::Uuid]).await?;
                let Some(family) = rows.into_iter().next().and_then(|r| r.into_iter().next())
                else {
                    return Ok(Some(Gql::Boolean(false)));
                };
                revoke_where(&rt, "family", family, ValueType::Uuid).await?;
                Ok(Some(Gql::Boolean(true)))
            })
        })
        .argument(InputValue::new(
            "refreshToken",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .description("Ends the session the refresh token belongs to.")
    }));
    app = app.raw_mutation(Arc::new(|rt| {
        let rt = Arc::clone(rt);
        Field::new(
            "revokeAllSessions",
            TypeRef::named_nn(TypeRef::INT),
            move |ctx| {
                let rt = Arc::clone(&rt);
                FieldFuture::new(async move {
                    let p = principal(&ctx)?;
                    let id = p
                        .user_id
                        .parse::<i64>()
                        .map_err(|_| unauthenticated("unknown user"))?;
                    let n = revoke_where(&rt, "user", Value::I64(id), ValueType::I64).await?;
                    Ok(Some(Gql::from(n)))
                })
            },
        )
        .description("Revokes every refresh token of the logged-in user; returns how many.")
    }));
    let s = Arc::clone(&settings);
    app = app.raw_mutation(Arc::new(move |rt| {
        let (rt, settings) = (Arc::clone(rt), Arc::clone(&s));
        Field::new(
            "changePassword",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            move |ctx| {
                let (rt, settings) = (Arc::clone(&rt), Arc::clone(&settings));
                FieldFuture::new(async move {
                    let p = principal(&ctx)?;
                    let old = arg(&ctx, "oldPassword")?;
                    let new = arg(&ctx, "newPassword")?;
                    let account = find_account(&rt, "id", &p.user_id)
                        .await?
                        .ok_or_else(|| unauthenticated("unknown user"))?;
                    if matches!(
                        settings.hasher.verify(&old, &account.password),
                        Verified::No
                    ) {
                        return Err(
                            Error::coded("the old password is wrong", "BAD_USER_INPUT").into()
                        );
                    }
                    let problems = settings
                        .policy
                        .check(&new, &account.username, &account.email);
                    if !problems.is_empty() {
                        return Err(Error::coded(problems.join(" "), "BAD_USER_INPUT").into());
                    }
                    set_password(&rt, &settings, &account.id, &new).await?;
                    // Other sessions may hold the old password: end them.
                    revoke_where(&rt, "user", account.id.clone(), ValueType::I64).await?;
                    Ok(Some(Gql::Boolean(true)))
                })
            },
        )
        .argument(InputValue::new(
            "oldPassword",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .argument(InputValue::new(
            "newPassword",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .description("Changes the logged-in user's password and ends their sessions.")
    }));
    if settings.register {
        let s = Arc::clone(&settings);
        app = app.raw_mutation(Arc::new(move |rt| {
            let (rt, settings) = (Arc::clone(rt), Arc::clone(&s));
            Field::new("register", TypeRef::named_nn("AuthPayload"), move |ctx| {
                let (rt, settings) = (Arc::clone(&rt), Arc::clone(&settings));
                FieldFuture::new(async move {
                    let (username, email, password) = (
                        arg(&ctx, "username")?,
                        arg(&ctx, "email")?,
                        arg(&ctx, "password")?,
                    );
                    let account =
                        create_user(&rt, &settings, &username, &email, &password, false).await?;
                    Ok(Some(FieldValue::owned_any(
                        issue(&rt, &settings, &account, uuid::Uuid::new_v4()).await?,
                    )))
                })
            })
            .argument(InputValue::new(
                "username",
                TypeRef::named_nn(TypeRef::STRING),
            ))
            .argument(InputValue::new("email", TypeRef::named_nn(TypeRef::STRING)))
            .argument(InputValue::new(
                "password",
                TypeRef::named_nn(TypeRef::STRING),
            ))
            .description("Creates an account and logs it in.")
        }));
    }
    app
}

async fn set_password(
    rt: &Runtime,
    settings: &AuthSettings,
    id: &Value,
    password: &str,
) -> Result<(), Error> {
    let m = model::<User>(rt)?;
    let hash = settings.hasher.hash(password).map_err(Error::internal)?;
    let d = rt.db.dialect();
    let hash = Expr::val(bind(&Value::String(hash), ValueType::String, d));
    rt.db
        .execute(&update_by_id(m, id, "password", hash, d)?)
        .await?;
    Ok(())
}

/// Creates a user after the password policy; `superuser` also makes them staff.
async fn create_user(
    rt: &Runtime,
    settings: &AuthSettings,
    username: &str,
    email: &str,
    password: &str,
    superuser: bool,
) -> Result<Account, Error> {
    let username = username.trim();
    if username.is_empty() || username.chars().count() > 150 {
        return Err(Error::coded(
            "a username has 1 to 150 characters",
            "BAD_USER_INPUT",
        ));
    }
    if !email.contains('@') || email.chars().count() > 254 {
        return Err(Error::coded(
            "that is not an email address",
            "BAD_USER_INPUT",
        ));
    }
    let problems = settings.policy.check(password, username, email);
    if !problems.is_empty() {
        return Err(Error::coded(problems.join(" "), "BAD_USER_INPUT"));
    }
    let m = model::<User>(rt)?;
    let hash = settings.hasher.hash(password).map_err(Error::internal)?;
    let d = rt.db.dialect();
    let mut ins = Query::insert();
    let cols = [
        "username",
        "email",
        "password",
        "is_active",
        "is_staff",
        "is_superuser",
        "date_joined",
    ];
    ins.into_table(Alias::new(&m.table))
        .columns(
            cols.iter()
                .map(|c| column(m, c).map(Alias::new))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .values([
            Expr::val(bind(&Value::String(username.into()), ValueType::String, d)),
            Expr::val(bind(
                &Value::String(email.trim().into()),
                ValueType::String,
                d,
            )),
            Expr::val(bind(&Value::String(hash.clone()), ValueType::String, d)),
            Expr::val(bind(&Value::Bool(true), ValueType::Bool, d)),
            Expr::val(bind(&Value::Bool(superuser), ValueType::Bool, d)),
            Expr::val(bind(&Value::Bool(superuser), ValueType::Bool, d)),
            now(d),
        ])
        .map_err(Error::internal)?
        .returning_col(Alias::new(column(m, "id")?));
    let id = match rt.db.fetch(&ins, &[ValueType::I64]).await {
        Ok(rows) => rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| Error::internal("INSERT returned no id"))?,
        Err(e) if e.kind() == DbErrorKind::UniqueViolation => {
            return Err(Error::coded(
                "that username or email is taken",
                "BAD_USER_INPUT",
            ));
        }
        Err(e) => return Err(Error::internal(e)),
    };
    Ok(Account {
        id,
        username: username.into(),
        email: email.into(),
        password: hash,
        is_active: true,
        is_staff: superuser,
        is_superuser: superuser,
    })
}

/// `createsuperuser`: a superuser, checked by the password policy.
pub(crate) async fn create_superuser(
    rt: &Runtime,
    settings: &AuthSettings,
    username: &str,
    email: &str,
    password: &str,
) -> Result<(), Error> {
    create_user(rt, settings, username, email, password, true)
        .await
        .map(drop)
}

/// `changepassword`: sets a user's password by username and ends their sessions.
pub(crate) async fn change_password(
    rt: &Runtime,
    settings: &AuthSettings,
    username: &str,
    password: &str,
) -> Result<(), Error> {
    let account = find_account(rt, "login", username)
        .await?
        .ok_or_else(|| Error::coded(format!("no user `{username}`"), "NOT_FOUND"))?;
    let problems = settings
        .policy
        .check(password, &account.username, &account.email);
    if !problems.is_empty() {
        return Err(Error::coded(problems.join(" "), "BAD_USER_INPUT"));
    }
    set_password(rt, settings, &account.id, password).await?;
    revoke_where(rt, "user", account.id, ValueType::I64)
        .await
        .map(drop)
}
