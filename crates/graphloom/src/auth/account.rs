//! The account flows that go through the user's mailbox: password reset,
//! address verification and change. Each mutation takes `input:` and
//! returns `ok` and `errors { field message code }` for refused input, as
//! the generated mutations do; request errors are for what is not the
//! user's input (a rate limit, a missing login).
//!
//! Tokens are single-use, expiring, and stored as hashes
//! ([`AccountToken`]). `requestPasswordReset` answers the same whether the
//! address has an account or not, and as fast: the lookup and the email
//! happen after the answer.

use std::sync::Arc;

use async_graphql::{
    Value as Gql,
    dynamic::{
        Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, TypeRef,
    },
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use graphloom_auth::password::Verified;
use graphloom_graphql::{ResultExt, Runtime};
use graphloom_meta::Id;
use graphloom_query::{Ctx, Error, ErrorCode, FieldCode, FieldError, Result};
use graphloom_server::SessionCache;

use super::{
    AccountToken, AuthSettings, Cookies, RefreshToken, TokenPurpose, User,
    resolvers::{by_id, client, hash_token, hashing, principal, revoke, set_password, system},
    throttle::Throttle,
};
use crate::{App, mail::Template};

/// What an account mutation answers.
#[derive(Debug, Clone, Default)]
pub(super) struct Done {
    ok: bool,
    errors: Vec<FieldError>,
}

impl Done {
    pub(super) fn ok() -> Self {
        Done {
            ok: true,
            errors: Vec::new(),
        }
    }

    pub(super) fn refused(field: &str, message: &str, code: FieldCode) -> Self {
        Done::failed(vec![FieldError::new(field, message, code)])
    }

    pub(super) fn failed(errors: Vec<FieldError>) -> Self {
        Done { ok: false, errors }
    }
}

/// A string field of the mutation's `input`.
fn input(ctx: &ResolverContext<'_>, name: &str) -> Result<String> {
    ctx.args
        .get("input")
        .and_then(|i| i.object().ok())
        .and_then(|o| o.get(name).and_then(|v| v.string().ok().map(str::to_owned)))
        .ok_or_else(|| Error::bad_input(format!("`input.{name}` must be a string")))
}

/// A new random token (256 bits, URL-safe) and the row that keeps its hash.
async fn new_token(
    ctx: &Ctx,
    user: Id,
    purpose: TokenPurpose,
    email: &str,
    ttl: std::time::Duration,
) -> Result<String> {
    let mut raw = uuid::Uuid::new_v4().as_bytes().to_vec();
    raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let token = URL_SAFE_NO_PAD.encode(raw);
    let expires =
        chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    AccountToken::objects(ctx)
        .create([
            AccountToken::TOKEN_HASH.set(hash_token(&token)),
            AccountToken::USER.set(user),
            AccountToken::PURPOSE.set(purpose.as_str()),
            AccountToken::EMAIL.set(email),
            AccountToken::EXPIRES_AT.set(expires),
        ])
        .await?;
    Ok(token)
}

/// The unused, unexpired token `raw` for one of `purposes`.
async fn live_token(
    ctx: &Ctx,
    raw: &str,
    purposes: &[TokenPurpose],
) -> Result<Option<AccountToken>> {
    let row = AccountToken::objects(ctx)
        .filter(AccountToken::TOKEN_HASH.eq(hash_token(raw)))
        .filter(AccountToken::USED_AT.is_null(true))
        .one()
        .await?;
    Ok(row.filter(|t| {
        t.expires_at > chrono::Utc::now() && purposes.iter().any(|p| p.as_str() == t.purpose)
    }))
}

/// Uses the token once: false when a concurrent request used it first.
async fn spend(ctx: &Ctx, token: &AccountToken) -> Result<bool> {
    let n = AccountToken::objects(ctx)
        .filter(AccountToken::ID.eq(token.id))
        .filter(AccountToken::USED_AT.is_null(true))
        .update([AccountToken::USED_AT.set(chrono::Utc::now())])
        .await?;
    Ok(n == 1)
}

/// Spends every unused token of `user` for `purpose` (a password change
/// kills the reset links mailed before it).
pub(super) async fn spend_tokens(ctx: &Ctx, user: Id, purpose: TokenPurpose) -> Result<()> {
    AccountToken::objects(ctx)
        .filter(AccountToken::USER.eq(user))
        .filter(AccountToken::PURPOSE.eq(purpose.as_str()))
        .filter(AccountToken::USED_AT.is_null(true))
        .update([AccountToken::USED_AT.set(chrono::Utc::now())])
        .await
        .map(drop)
}

const BAD_LINK: &str = "This link is invalid, used or expired; ask for a new one.";

/// Mails `template` to `to` with a link carrying a new token.
async fn mail_link(
    ctx: &Ctx,
    settings: &AuthSettings,
    user: &User,
    purpose: TokenPurpose,
    to: &str,
) -> Result<()> {
    let (template, url, ttl): (&Template, &str, _) = match purpose {
        TokenPurpose::Reset => (
            &settings.emails.password_reset,
            &settings.reset_url,
            settings.reset_ttl,
        ),
        TokenPurpose::Verify => (
            &settings.emails.verify_email,
            &settings.verify_url,
            settings.verify_ttl,
        ),
        TokenPurpose::Email => (
            &settings.emails.change_email,
            &settings.verify_url,
            settings.verify_ttl,
        ),
    };
    let token = new_token(ctx, user.id, purpose, to, ttl).await?;
    let link = url.replace("{token}", &token);
    let email = template.render(
        to,
        &[
            ("username", &user.username),
            ("link", &link),
            ("token", &token),
        ],
    );
    settings
        .mailer
        .send(email)
        .await
        .map_err(|e| Error::new(ErrorCode::ServiceUnavailable, e.to_string()))
}

/// Runs `work` after the answer; its failure is logged (no one waits).
fn after_answer(what: &'static str, work: impl Future<Output = Result<()>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(e) = work.await {
            tracing::warn!("{what}: {e}");
        }
    });
}

/// Sends a verification link to a user's address, after the answer.
pub(super) fn send_verification(rt: &Runtime, settings: Arc<AuthSettings>, user: User) {
    let ctx = system(rt);
    after_answer("sending the verification email", async move {
        let to = user.email.clone();
        mail_link(&ctx, &settings, &user, TokenPurpose::Verify, &to).await
    });
}

async fn request_password_reset(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &Arc<AuthSettings>,
    limiter: &Throttle,
) -> Result<Done> {
    let email = input(ctx, "email")?.trim().to_owned();
    if !email.contains('@') || email.len() > 254 {
        return Ok(Done::refused(
            "email",
            "That is not an email address.",
            FieldCode::Invalid,
        ));
    }
    // Every request counts, for the address and for the client, whether
    // the address has an account or not.
    let policy = &settings.reset_throttling;
    let key = format!("reset\u{1f}{}", email.to_lowercase());
    let attempt = limiter
        .start(&rt.engine, policy, &key, &client(ctx))
        .await
        .map_err(|refusal| refusal.into_error("password_reset", "reset requests"))?;
    attempt.fail(policy);
    let (sys, settings) = (system(rt), Arc::clone(settings));
    after_answer("sending a password reset", async move {
        let user = User::objects(&sys)
            .filter(User::EMAIL.iexact(&email))
            .filter(User::IS_ACTIVE.eq(true))
            .one()
            .await?;
        match user {
            Some(user) => {
                let to = user.email.clone();
                mail_link(&sys, &settings, &user, TokenPurpose::Reset, &to).await
            }
            None => Ok(()),
        }
    });
    Ok(Done::ok())
}

async fn reset_password(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &AuthSettings,
    sessions: &SessionCache,
    cookies: &Cookies,
) -> Result<Done> {
    let (token, password) = (input(ctx, "token")?, input(ctx, "newPassword")?);
    let sys = system(rt);
    let Some(row) = live_token(&sys, &token, &[TokenPurpose::Reset]).await? else {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    };
    let Some(user) = by_id(&sys, &row.user.key.key_string())
        .await?
        .filter(|u| u.is_active)
    else {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    };
    // A weak password leaves the link usable for a better one.
    let problems = settings
        .policy
        .check(&password, &user.username, &user.email);
    if !problems.is_empty() {
        return Ok(Done::refused(
            "newPassword",
            &problems.join(" "),
            FieldCode::Validation,
        ));
    }
    if !spend(&sys, &row).await? {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    }
    set_password(&sys, settings, &user, &password).await?;
    // Reading the mail proved the address; every session ends.
    User::objects(&sys)
        .update_row(&user, [User::EMAIL_VERIFIED.set(true)])
        .await?;
    revoke(&sys, RefreshToken::USER.eq(user.id)).await?;
    sessions.forget_user(&user.id.0.to_string());
    cookies.forget();
    Ok(Done::ok())
}

async fn request_email_verification(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &Arc<AuthSettings>,
) -> Result<Done> {
    let p = principal(ctx)?;
    let sys = system(rt);
    let user = by_id(&sys, &p.user_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "unknown user"))?;
    if !user.email_verified {
        send_verification(rt, Arc::clone(settings), user);
    }
    Ok(Done::ok())
}

async fn verify_email(rt: &Runtime, ctx: &ResolverContext<'_>) -> Result<Done> {
    let token = input(ctx, "token")?;
    let sys = system(rt);
    let purposes = [TokenPurpose::Verify, TokenPurpose::Email];
    let Some(row) = live_token(&sys, &token, &purposes).await? else {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    };
    let Some(user) = by_id(&sys, &row.user.key.key_string()).await? else {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    };
    // A link for the address the account had before a change is stale.
    if row.purpose == TokenPurpose::Verify.as_str() && !row.email.eq_ignore_ascii_case(&user.email)
    {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    }
    if !spend(&sys, &row).await? {
        return Ok(Done::refused("token", BAD_LINK, FieldCode::Invalid));
    }
    let changes = if row.purpose == TokenPurpose::Email.as_str() {
        vec![
            User::EMAIL.set(row.email.clone()),
            User::EMAIL_VERIFIED.set(true),
        ]
    } else {
        vec![User::EMAIL_VERIFIED.set(true)]
    };
    match User::objects(&sys).update_row(&user, changes).await {
        Ok(_) => Ok(Done::ok()),
        Err(e) if e.fields.iter().any(|f| f.code == FieldCode::Unique) => Ok(Done::refused(
            "token",
            "Another account has this address now.",
            FieldCode::Unique,
        )),
        Err(e) => Err(e),
    }
}

async fn change_email(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    settings: &Arc<AuthSettings>,
) -> Result<Done> {
    let p = principal(ctx)?;
    let (new_email, password) = (input(ctx, "newEmail")?, input(ctx, "password")?);
    let new_email = new_email.trim().to_owned();
    if !new_email.contains('@') || new_email.len() > 254 {
        return Ok(Done::refused(
            "newEmail",
            "That is not an email address.",
            FieldCode::Invalid,
        ));
    }
    let sys = system(rt);
    let user = by_id(&sys, &p.user_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "unknown user"))?;
    let (hasher, stored) = (settings.hasher.clone(), user.password.clone());
    if matches!(
        hashing(move || hasher.verify(&password, &stored)).await?,
        Verified::No
    ) {
        return Ok(Done::refused(
            "password",
            "The password is wrong.",
            FieldCode::Invalid,
        ));
    }
    // Whether another account has the address is not said here (that
    // would tell strangers who has an account); confirming refuses it.
    let settings = Arc::clone(settings);
    after_answer("sending an address confirmation", async move {
        mail_link(&sys, &settings, &user, TokenPurpose::Email, &new_email).await
    });
    Ok(Done::ok())
}

/// What `updateMe` answers: the user (as they see themself) or why not.
#[derive(Debug, Clone)]
struct Me {
    user_id: String,
    errors: Vec<FieldError>,
}

async fn update_me(rt: &Runtime, ctx: &ResolverContext<'_>) -> Result<Me> {
    let p = principal(ctx)?;
    let sys = system(rt);
    let user = by_id(&sys, &p.user_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "unknown user"))?;
    let input = ctx.args.get("input").and_then(|i| i.object().ok());
    let mut changes = Vec::new();
    if let Some(v) = input.as_ref().and_then(|i| i.get("username")) {
        match v.string() {
            Ok(name) => changes.push(User::USERNAME.set(name.trim())),
            Err(_) => {
                let e = FieldError::new(
                    "username",
                    "A username cannot be null.",
                    FieldCode::Required,
                );
                return Ok(Me {
                    user_id: p.user_id,
                    errors: vec![e],
                });
            }
        }
    }
    let errors = match User::objects(&sys).update_row(&user, changes).await {
        Ok(_) => Vec::new(),
        // The model's limits and validation, as for any write.
        Err(e) if !e.fields.is_empty() => e.fields,
        Err(e) => return Err(e),
    };
    Ok(Me {
        user_id: p.user_id,
        errors,
    })
}

fn update_me_field(app: App) -> App {
    let app = app
        .raw_type(Arc::new(|_| {
            InputObject::new("UpdateMeInput")
                .description(
                    "What users may change about themselves. The address changes \
                     through `changeEmail`, the password through `changePassword`; \
                     staff flags, groups and permissions are for superusers.",
                )
                .field(InputValue::new("username", TypeRef::named(TypeRef::STRING)))
                .into()
        }))
        .raw_type(Arc::new(|rt| {
            let rt = Arc::clone(rt);
            Object::new("UpdateMePayload")
                .field(Field::new("user", TypeRef::named("User"), move |ctx| {
                    let rt = Arc::clone(&rt);
                    FieldFuture::new(async move {
                        let me = ctx.parent_value.try_downcast_ref::<Me>()?;
                        let scope = graphloom_graphql::context::scope_of(&ctx).gql()?;
                        super::resolvers::user_node(&rt, &scope, &ctx, &me.user_id)
                            .await
                            .gql()
                    })
                }))
                .field(Field::new(
                    "errors",
                    TypeRef::named_nn_list_nn("FieldError"),
                    |ctx| {
                        FieldFuture::new(async move {
                            let me = ctx.parent_value.try_downcast_ref::<Me>()?;
                            Ok(Some(FieldValue::list(
                                me.errors.iter().cloned().map(FieldValue::owned_any),
                            )))
                        })
                    },
                ))
                .into()
        }));
    app.raw_mutation(
        "updateMe",
        Arc::new(|rt| {
            let rt = Arc::clone(rt);
            Field::new(
                "updateMe",
                TypeRef::named_nn("UpdateMePayload"),
                move |ctx| {
                    let rt = Arc::clone(&rt);
                    FieldFuture::new(async move {
                        let me = update_me(&rt, &ctx).await.gql()?;
                        Ok(Some(FieldValue::owned_any(me)))
                    })
                },
            )
            .argument(InputValue::new("input", TypeRef::named_nn("UpdateMeInput")))
            .description("Changes the logged-in user's own fields.")
        }),
    )
}

/// `{Name}Payload`: `ok` and `errors`.
fn payload_type(name: &str, description: &str) -> Object {
    Object::new(name)
        .description(description)
        .field(
            Field::new("ok", TypeRef::named_nn(TypeRef::BOOLEAN), |ctx| {
                FieldFuture::new(async move {
                    Ok(Some(Gql::Boolean(
                        ctx.parent_value.try_downcast_ref::<Done>()?.ok,
                    )))
                })
            })
            .description("Whether it was done (false when `errors` say why not)."),
        )
        .field(Field::new(
            "errors",
            TypeRef::named_nn_list_nn("FieldError"),
            |ctx| {
                FieldFuture::new(async move {
                    let done = ctx.parent_value.try_downcast_ref::<Done>()?;
                    Ok(Some(FieldValue::list(
                        done.errors.iter().cloned().map(FieldValue::owned_any),
                    )))
                })
            },
        ))
}

/// `{Name}Input` with these string fields (and descriptions, when not
/// empty), required unless the name ends in `?`.
pub(super) fn input_type(name: &str, fields: &[(&str, &str)]) -> InputObject {
    fields.iter().fold(InputObject::new(name), |o, (f, d)| {
        let field = match f.strip_suffix('?') {
            Some(optional) => InputValue::new(optional, TypeRef::named(TypeRef::STRING)),
            None => InputValue::new(*f, TypeRef::named_nn(TypeRef::STRING)),
        };
        o.field(if d.is_empty() {
            field
        } else {
            field.description(*d)
        })
    })
}

pub(super) type Run = dyn for<'a> Fn(
        &'a Runtime,
        &'a ResolverContext<'a>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Done>> + Send + 'a>>
    + Send
    + Sync;

/// Adds one mutation `name(input: {Name}Input!): {Name}Payload!` (no
/// input when `fields` is empty) and its types.
pub(super) fn mutation(
    app: App,
    name: &'static str,
    description: &'static str,
    fields: &'static [(&'static str, &'static str)],
    run: Arc<Run>,
) -> App {
    let type_name = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
    let payload = format!("{type_name}Payload");
    let input_name = format!("{type_name}Input");
    let mut app = {
        let payload = payload.clone();
        app.raw_type(Arc::new(move |_| {
            payload_type(
                &payload,
                "What the mutation did, or which input it refused.",
            )
            .into()
        }))
    };
    if !fields.is_empty() {
        let input_name = input_name.clone();
        app = app.raw_type(Arc::new(move |_| input_type(&input_name, fields).into()));
    }
    app.raw_mutation(
        name,
        Arc::new(move |rt| {
            let (rt, run) = (Arc::clone(rt), Arc::clone(&run));
            let field = Field::new(name, TypeRef::named_nn(&payload), move |ctx| {
                let (rt, run) = (Arc::clone(&rt), Arc::clone(&run));
                FieldFuture::new(async move {
                    let done = run(&rt, &ctx).await.gql()?;
                    Ok(Some(FieldValue::owned_any(done)))
                })
            })
            .description(description);
            if fields.is_empty() {
                field
            } else {
                field.argument(InputValue::new("input", TypeRef::named_nn(&input_name)))
            }
        }),
    )
}

/// Adds the mailbox flows to the auth app.
pub(super) fn fields(
    app: App,
    settings: Arc<AuthSettings>,
    sessions: Arc<SessionCache>,
    cookies: Arc<Cookies>,
) -> App {
    let limiter = Arc::new(Throttle::default());
    let s = Arc::clone(&settings);
    let app = mutation(
        app,
        "requestPasswordReset",
        "Mails a password reset link to the address, if an active account has it. \
         The answer is the same either way.",
        &[("email", "The account's email address.")],
        Arc::new(move |rt, ctx| {
            let (s, l) = (Arc::clone(&s), Arc::clone(&limiter));
            Box::pin(async move { request_password_reset(rt, ctx, &s, &l).await })
        }),
    );
    let (s, c, k) = (
        Arc::clone(&settings),
        Arc::clone(&sessions),
        Arc::clone(&cookies),
    );
    let app = mutation(
        app,
        "resetPassword",
        "Sets a new password with the token of a reset link (once), and ends every session.",
        &[
            ("token", "The token of the reset link."),
            (
                "newPassword",
                "The new password, checked by the password policy.",
            ),
        ],
        Arc::new(move |rt, ctx| {
            let (s, c, k) = (Arc::clone(&s), Arc::clone(&c), Arc::clone(&k));
            Box::pin(async move { reset_password(rt, ctx, &s, &c, &k).await })
        }),
    );
    let s = Arc::clone(&settings);
    let app = mutation(
        app,
        "requestEmailVerification",
        "Mails a link that confirms the logged-in user's address (nothing when it is confirmed).",
        &[],
        Arc::new(move |rt, ctx| {
            let s = Arc::clone(&s);
            Box::pin(async move { request_email_verification(rt, ctx, &s).await })
        }),
    );
    let app = mutation(
        app,
        "verifyEmail",
        "Confirms an address with the token of a verification or address-change link (once).",
        &[("token", "The token of the link.")],
        Arc::new(|rt, ctx| Box::pin(verify_email(rt, ctx))),
    );
    let app = update_me_field(app);
    let s = Arc::clone(&settings);
    mutation(
        app,
        "changeEmail",
        "Mails a confirmation link to a new address; the address changes when it is followed.",
        &[
            ("newEmail", "The new address."),
            ("password", "The current password."),
        ],
        Arc::new(move |rt, ctx| {
            let s = Arc::clone(&s);
            Box::pin(async move { change_email(rt, ctx, &s).await })
        }),
    )
}
