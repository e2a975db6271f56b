//! The graphloom example blog: posts, comments and tags written by the auth
//! app's users, with permissions (published posts are public, drafts are their
//! author's and staff's, only authors change their posts, comments need a
//! login), a custom query, a custom mutation and a computed field.

mod migrations;
pub mod seed;

use graphloom::admin::ModelAdmin;
pub use graphloom::auth::User;
use graphloom::prelude::*;
use graphloom::server::{Call, Endpoint};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a post is in its life.
#[derive(ModelEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostStatus {
    Draft,
    Published,
    Archived,
}

/// An article.
#[derive(Model, Debug)]
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
    /// The writer; the logged-in user unless given (only staff may give another).
    #[field(on_delete = cascade, default = current_user)]
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
#[derive(Model, Debug)]
#[model(app = "blog")]
pub struct Comment {
    pub id: Id,
    #[field(on_delete = cascade)]
    pub post: ForeignKey<Post>,
    /// Users who commented cannot be deleted (PROTECT).
    #[field(on_delete = protect, default = current_user)]
    pub author: ForeignKey<User>,
    pub body: String,
    #[field(auto_now_add)]
    pub created_at: DateTime<Utc>,
}

/// A label for posts.
#[derive(Model, Debug)]
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

/// Posts whose title or body contains `term` (case-insensitive), newest
/// first, among those the caller may see.
async fn search_posts(ctx: Ctx, args: SearchArgs) -> Result<Vec<Value>, Error> {
    let limit = u64::try_from(args.limit.unwrap_or(20).clamp(1, 100)).unwrap_or(20);
    Post::objects(&ctx)
        .filter(Post::TITLE.icontains(&args.term) | Post::BODY.icontains(&args.term))
        .order_by(Post::CREATED_AT.desc())
        .order_by(Post::ID.desc())
        .first(limit)
        .keys()
        .await
}

/// Publishes those of the given posts the caller may change (the update
/// rule decides, and each must pass `validate_post`), and returns them.
async fn publish_posts(ctx: Ctx, args: PublishArgs) -> Result<Vec<Value>, Error> {
    let ids: Vec<i64> = args
        .ids
        .iter()
        .map(|s| s.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| Error::bad_input("every id must be a post id"))?;
    Post::objects(&ctx)
        .filter(Post::ID.is_in(ids.iter().copied()))
        .update([Post::STATUS.set(PostStatus::Published)])
        .await?;
    Ok(ids.into_iter().map(Value::I64).collect())
}

/// `POST /api/posts/publish`'s body.
#[derive(Deserialize, JsonSchema)]
pub struct PublishRequest {
    /// The posts to publish.
    pub ids: Vec<String>,
}

/// What `POST /api/posts/publish` did.
#[derive(Serialize, JsonSchema)]
pub struct Published {
    /// The posts now published.
    pub ids: Vec<String>,
}

/// `GET /api/stats`: what the caller can see of the blog.
#[derive(Serialize, JsonSchema)]
pub struct BlogStats {
    pub posts: i64,
    pub comments: i64,
    pub tags: i64,
}

/// Counts under the caller's rules: a stranger's counts leave out drafts
/// and their comments.
async fn stats(call: Call) -> Result<BlogStats, Error> {
    let ctx = &call.ctx;
    Ok(BlogStats {
        posts: Post::objects(ctx).count().await?,
        comments: Comment::objects(ctx).count().await?,
        tags: Tag::objects(ctx).count().await?,
    })
}

/// The REST twin of `publishPosts`: answers with the posts now published
/// that the caller sees (those they could not change stay as they were).
async fn publish(call: Call, body: PublishRequest) -> Result<Published, Error> {
    let ids = publish_posts(call.ctx.clone(), PublishArgs { ids: body.ids }).await?;
    let now = Post::objects(&call.ctx)
        .filter(Post::ID.is_in(ids.iter().filter_map(|v| match v {
            Value::I64(id) => Some(*id),
            _ => None,
        })))
        .filter(Post::STATUS.eq(PostStatus::Published))
        .order_by(Post::ID.asc())
        .keys()
        .await?;
    Ok(Published {
        ids: now.iter().map(Value::key_string).collect(),
    })
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
        .admin::<Post>(
            ModelAdmin::new()
                .list_display(&["id", "title", "status", "author", "created_at"])
                .search_fields(&["title", "body"])
                .list_filter(&["status", "author", "created_at"]),
        )
        .admin::<Comment>(
            ModelAdmin::new()
                .list_display(&["id", "post", "author", "body", "created_at"])
                .search_fields(&["body"])
                .list_filter(&["post"]),
        )
        .endpoint(
            Endpoint::get("/api/stats", stats)
                .summary("Counts of posts, comments and tags the caller can see"),
        )
        .endpoint(
            Endpoint::post("/api/posts/publish", publish)
                .summary("Publish posts")
                .description(
                    "Publishes those of the posts the caller may change, as `publishPosts` does.",
                ),
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
    Service::new("blog")
        .version(env!("CARGO_PKG_VERSION"))
        .app(graphloom::auth::app())
        .app(graphloom::admin::app())
        .app(app())
}
