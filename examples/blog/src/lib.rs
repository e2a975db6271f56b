//! The graphloom example blog: posts, comments and tags written by the auth
//! app's users, with permissions (published posts are public, drafts are their
//! author's and staff's, only authors change their posts, comments need a
//! login), a custom query, a custom mutation and a computed field.

mod migrations;
pub mod seed;

pub use graphloom::auth::User;
use graphloom::{
    db::sea_query::{Alias, Expr, ExprTrait, Order, Query},
    meta::{Value, ValueType},
    prelude::*,
};
use serde::Deserialize;

/// Where a post is in its life.
#[derive(ModelEnum)]
pub enum PostStatus {
    Draft,
    Published,
    Archived,
}

/// An article.
#[derive(Model)]
#[model(app = "blog", validate = validate_post)]
pub struct Post {
    pub id: Id,
    #[field(max_length = 200)]
    pub title: String,
    /// The post's address; unique.
    #[field(max_length = 220, unique)]
    pub slug: String,
    pub body: String,
    #[field(default = "draft")]
    pub status: PostStatus,
    #[field(on_delete = cascade)]
    pub author: ForeignKey<User>,
    pub tags: ManyToMany<Tag>,
    #[field(max_digits = 3, decimal_places = 1, default = Decimal::new(0, 0))]
    pub rating: Decimal,
    pub metadata: Option<serde_json::Value>,
    #[field(auto_now_add, index)]
    pub created_at: DateTime<Utc>,
    #[field(auto_now)]
    pub updated_at: DateTime<Utc>,
}

/// A published post needs a body; titles cannot be blank.
pub fn validate_post(row: ValidationInput<'_>) -> Result<(), Vec<ValidationError>> {
    let mut errors = Vec::new();
    if let Some(Value::String(t)) = row.get("title")
        && t.trim().is_empty()
    {
        errors.push(ValidationError::new("title", "The title cannot be blank."));
    }
    let published = matches!(row.get("status"), Some(Value::String(s)) if s == "published");
    let empty_body = matches!(row.get("body"), Some(Value::String(b)) if b.trim().is_empty());
    if published && empty_body {
        errors.push(ValidationError::new(
            "body",
            "A published post needs a body.",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A reader's comment on a post.
#[derive(Model)]
#[model(app = "blog")]
pub struct Comment {
    pub id: Id,
    #[field(on_delete = cascade)]
    pub post: ForeignKey<Post>,
    /// Users who commented cannot be deleted (PROTECT).
    #[field(on_delete = protect)]
    pub author: ForeignKey<User>,
    pub body: String,
    #[field(auto_now_add)]
    pub created_at: DateTime<Utc>,
}

/// A label for posts.
#[derive(Model)]
#[model(app = "blog")]
pub struct Tag {
    pub id: Id,
    #[field(max_length = 50, unique)]
    pub name: String,
}

#[derive(Deserialize)]
struct SearchArgs {
    term: String,
    limit: Option<i32>,
}

#[derive(Deserialize)]
struct PublishArgs {
    ids: Vec<String>,
}

/// Posts whose title or body contains `term`, newest first.
async fn search_posts(ctx: Ctx, args: SearchArgs) -> Result<Vec<Value>, Error> {
    let post = ctx.model::<Post>()?;
    let limit = u64::try_from(args.limit.unwrap_or(20).clamp(1, 100)).unwrap_or(20);
    let pattern = format!(
        "%{}%",
        graphloom::graphql::sql::escape_like(&args.term.to_lowercase())
    );
    let like = |col: &str| {
        graphloom::db::sea_query::Func::lower(Expr::col(Alias::new(col)))
            .like(graphloom::db::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
    };
    let mut q = Query::select();
    q.column(Alias::new("id"))
        .from(Alias::new(&post.table))
        .and_where(like("title").or(like("body")))
        .order_by(Alias::new("created_at"), Order::Desc)
        .order_by(Alias::new("id"), Order::Desc)
        .limit(limit);
    let rows = ctx.db().fetch(&q, &[ValueType::I64]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect())
}

/// Publishes those of the given posts the caller may change, in one statement,
/// and returns them.
async fn publish_posts(ctx: Ctx, args: PublishArgs) -> Result<Vec<Value>, Error> {
    let principal = ctx
        .principal()
        .cloned()
        .ok_or_else(|| Error::coded("log in first", "UNAUTHENTICATED"))?;
    let post = ctx.model::<Post>()?;
    let ids: Vec<i64> = args
        .ids
        .iter()
        .map(|s| s.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| Error::coded("every id must be a post id", "BAD_USER_INPUT"))?;
    let mut q = Query::update();
    q.table(Alias::new(&post.table))
        .value(Alias::new("status"), "published")
        .value(
            Alias::new("updated_at"),
            graphloom::db::to_sea(&Value::DateTime(Utc::now()), ctx.db().dialect()),
        )
        .and_where(Expr::col(Alias::new("id")).is_in(ids.clone()));
    if !(principal.staff || principal.superuser) {
        let me = principal.user_id.parse::<i64>().unwrap_or(-1);
        q.and_where(Expr::col(Alias::new("author_id")).eq(me));
    }
    ctx.db().execute(&q).await?;
    Ok(ids.into_iter().map(Value::I64).collect())
}

/// The blog app: models, their permissions and custom fields.
pub fn app() -> App {
    let staff = || Rule::Staff;
    App::new("blog")
        .migrations(migrations::DIR, migrations::FILES)
        .model::<Post>()
        .model::<Comment>()
        .model::<Tag>()
        .permissions::<Post>(
            ModelRules::new()
                // Published posts are public; drafts are their author's and staff's.
                .rows(
                    Rule::Equals("status", Value::String("published".into()))
                        .or(Rule::Owner("author"))
                        .or(staff()),
                )
                // Write as yourself; only the author (or an editor, or staff) changes a post.
                .create(Rule::Owner("author").or(staff()))
                .update(
                    Rule::Owner("author")
                        .or(Rule::perm("blog.change_post"))
                        .or(staff()),
                )
                .delete(Rule::Owner("author").or(staff())),
        )
        .permissions::<Comment>(
            ModelRules::new()
                // A comment is visible when its post is; commenting needs a login.
                .rows(Rule::Visible("post"))
                .create(Rule::Authenticated.and(Rule::Owner("author").or(staff())))
                .update(Rule::Owner("author").or(staff()))
                .delete(Rule::Owner("author").or(staff())),
        )
        .permissions::<Tag>(
            ModelRules::new()
                .create(staff())
                .update(staff())
                .delete(staff()),
        )
        .query(
            CustomField::new("searchPosts")
                .description(
                    "Posts whose title or body contains `term` (case-insensitive), newest first.",
                )
                .arg::<String>("term")
                .arg::<Option<i32>>("limit")
                .resolve_models::<Post, _, _, _>(search_posts),
        )
        .mutation(
            CustomField::new("publishPosts")
                .description("Publishes posts and returns them.")
                .arg::<Vec<String>>("ids")
                .resolve_models::<Post, _, _, _>(publish_posts),
        )
        .computed(
            ComputedField::new::<Post, i32, _, _>(
                "readingMinutes",
                &["body"],
                |_ctx, row: Row| async move {
                    // About 200 words a minute, at least one.
                    let words = row.str("body").split_whitespace().count();
                    Ok(i32::try_from(words.div_ceil(200).max(1)).unwrap_or(i32::MAX))
                },
            )
            .description("Estimated minutes to read the body."),
        )
}

/// The blog service: the auth app and the blog app.
pub fn service() -> Service {
    Service::new("blog").app(graphloom::auth::app()).app(app())
}
