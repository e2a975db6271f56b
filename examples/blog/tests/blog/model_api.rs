//! The model API (`Post::objects(&ctx)`) through the public API: the same
//! rules, validators, presets and error codes as the generated GraphQL API,
//! bypassed only by the explicit system context; plans priced before SQL;
//! statement counts bounded by the plan.

use blog::{Comment, Post, PostStatus, Tag, User};
use graphloom::{
    prelude::*,
    query::{Conflicts, Ctx},
};
use graphloom_test::{TestClient, assert_num_queries, user};

/// 3 users; posts 1..=10 by users 1, 2, 3 in turn; 5 and 10 are drafts.
async fn client() -> TestClient {
    let service = blog::service();
    let c = TestClient::new(&service).await;
    blog::seed::seed(&service, c.db(), &crate::common::seed_args(3, 10, 40, 3))
        .await
        .unwrap();
    c
}

async fn as_user(c: &TestClient, id: i64) -> Ctx {
    c.as_user(user(id)).ctx().await
}

fn system(c: &TestClient) -> Ctx {
    c.system()
}

/// A post written as the system: its id.
async fn post(c: &TestClient, author: i64, slug: &str, status: PostStatus) -> i64 {
    Post::objects(&system(c))
        .create([
            Post::TITLE.set(format!("About {slug}")),
            Post::SLUG.set(slug),
            Post::BODY.set("Some words."),
            Post::AUTHOR.set(author),
            Post::STATUS.set(status),
        ])
        .await
        .unwrap()
        .id
        .0
}

#[tokio::test]
async fn rules_apply_to_a_user_and_only_the_system_bypasses_them() {
    let c = client().await;
    let mine = post(&c, 2, "mine", PostStatus::Draft).await;
    let theirs = post(&c, 3, "theirs", PostStatus::Draft).await;
    let sys = system(&c);
    let anon = c.anonymous().ctx().await;
    let drafts = || Post::STATUS.eq(PostStatus::Draft);
    let published = Post::objects(&sys)
        .filter(Post::STATUS.eq(PostStatus::Published))
        .count()
        .await
        .unwrap();
    assert_eq!(Post::objects(&anon).count().await.unwrap(), published);
    assert!(
        !Post::objects(&anon)
            .filter(drafts())
            .exists()
            .await
            .unwrap()
    );
    let ann = as_user(&c, 2).await;
    let seen: Vec<i64> = Post::objects(&ann)
        .filter(drafts())
        .all()
        .await
        .unwrap()
        .iter()
        .map(|p| p.id.0)
        .collect();
    let own = Post::objects(&sys)
        .filter(drafts() & Post::AUTHOR.eq(2))
        .keys()
        .await
        .unwrap();
    assert!(seen.contains(&mine) && !seen.contains(&theirs), "{seen:?}");
    assert_eq!(seen.len(), own.len(), "exactly ann's drafts");
    let err = Post::objects(&ann).get(theirs).await.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::NotFound,
        "another author's draft reads as missing"
    );
    let all_drafts = Post::objects(&sys).filter(drafts()).count().await.unwrap();
    assert!(all_drafts > i64::try_from(seen.len()).unwrap());
    // The same context, acting as the system on purpose.
    assert_eq!(
        Post::objects(&ann.as_system())
            .filter(drafts())
            .count()
            .await
            .unwrap(),
        all_drafts
    );
    // Comments are visible when their post is (a `Visible` row rule).
    let visible = Comment::objects(&anon).count().await.unwrap();
    let all = Comment::objects(&sys).count().await.unwrap();
    assert!(0 < visible && visible < all, "{visible} of {all}");
}

#[tokio::test]
async fn writes_follow_the_rules_like_the_generated_mutations() {
    let c = client().await;
    let theirs = post(&c, 3, "theirs", PostStatus::Published).await;
    let anon = c.anonymous().ctx().await;
    let new_post = |author: i64, slug: &str| {
        vec![
            Post::TITLE.set("Hello"),
            Post::SLUG.set(slug),
            Post::BODY.set("Some words."),
            Post::AUTHOR.set(author),
        ]
    };
    let err = Post::objects(&anon)
        .create(new_post(2, "a"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    let ann = as_user(&c, 2).await;
    let err = Post::objects(&ann)
        .create(new_post(3, "b"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "writing as someone else");
    let made = Post::objects(&ann).create(new_post(2, "c")).await.unwrap();
    assert_eq!(
        (made.author.key.clone(), made.status),
        (Value::I64(2), PostStatus::Draft)
    );
    // Bulk writes touch only the rows the update rule allows: ann's.
    let n = Post::objects(&ann)
        .update([Post::TITLE.set("Renamed")])
        .await
        .unwrap();
    let sys = system(&c);
    let own = Post::objects(&sys)
        .filter(Post::AUTHOR.eq(2))
        .count()
        .await
        .unwrap();
    assert_eq!(n, u64::try_from(own).unwrap());
    let others_renamed = Post::objects(&sys)
        .filter(Post::TITLE.eq("Renamed") & Post::AUTHOR.neq(2))
        .exists()
        .await
        .unwrap();
    assert!(!others_renamed, "nobody else's post changed");
    let err = Post::objects(&anon)
        .update([Post::TITLE.set("x")])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    // Deleting: only one's own; tags are staff's.
    let gone = Post::objects(&ann)
        .filter(Post::ID.is_in([theirs, made.id.0]))
        .delete()
        .await
        .unwrap();
    assert_eq!(gone, 1, "ann's own post went, the other stayed");
    assert!(Post::objects(&sys).get(theirs).await.is_ok());
    let err = Tag::objects(&ann).delete().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn validators_auto_now_and_constraints_answer_with_field_codes() {
    let c = client().await;
    let sys = system(&c);
    let before = Post::objects(&sys).get(1).await.unwrap();
    // validate_post: a title cannot be blank.
    let err = Post::objects(&sys)
        .filter(Post::ID.eq(1))
        .update([Post::TITLE.set("   ")])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadUserInput);
    assert_eq!(
        (err.fields[0].field.clone(), err.fields[0].code),
        (vec!["title".to_owned()], FieldCode::Validation)
    );
    // The same check on a row already in hand, without reading it again.
    let err = assert_num_queries!(
        0,
        Post::objects(&sys).update_row(&before, [Post::TITLE.set("")])
    )
    .unwrap_err();
    assert_eq!(err.fields[0].code, FieldCode::Validation);
    let n = assert_num_queries!(
        1,
        Post::objects(&sys).update_row(&before, [Post::TITLE.set("Fresh")])
    )
    .unwrap();
    assert_eq!(n, 1);
    let after = Post::objects(&sys).get(1).await.unwrap();
    assert_eq!(after.title, "Fresh");
    assert!(after.updated_at > before.updated_at, "auto_now moved");
    // max_length comes from the model, unique from the database.
    let err = Tag::objects(&sys)
        .create([Tag::NAME.set("x".repeat(51))])
        .await
        .unwrap_err();
    assert_eq!(err.fields[0].code, FieldCode::MaxLength);
    let err = Tag::objects(&sys)
        .create([Tag::NAME.set("tag1")])
        .await
        .unwrap_err();
    assert_eq!(
        (err.fields[0].field.clone(), err.fields[0].code),
        (vec!["name".to_owned()], FieldCode::Unique)
    );
    // A user who commented is protected.
    let err = User::objects(&sys)
        .filter(User::ID.eq(1))
        .delete()
        .await
        .unwrap_err();
    assert_eq!(err.fields[0].code, FieldCode::Protected);
    assert_eq!(
        Tag::objects(&sys)
            .create_many(
                [[Tag::NAME.set("tag1")], [Tag::NAME.set("fresh")]],
                Conflicts::Ignore
            )
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn typed_filters_orders_and_relations_in_bounded_statements() {
    let c = client().await;
    let sys = system(&c);
    let everything: Vec<Post> = Post::objects(&sys).all().await.unwrap();
    let by = |author: i64| -> Vec<i64> {
        let mut ids: Vec<i64> = everything
            .iter()
            .filter(|p| p.author.key == Value::I64(author))
            .map(|p| p.id.0)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    };
    let by_user2 = Post::AUTHOR.is(User::USERNAME.eq("user2"));
    let posts: Vec<Post> = assert_num_queries!(
        1,
        Post::objects(&sys)
            .filter(by_user2.clone())
            .order_by(Post::CREATED_AT.desc())
            .all()
    )
    .unwrap();
    assert_eq!(
        posts.iter().map(|p| p.id.0).collect::<Vec<_>>(),
        by(2),
        "newest first"
    );
    // Users who wrote a draft, through the reverse of Post.author.
    let writers = User::objects(&sys)
        .filter(
            Post::AUTHOR
                .reverse()
                .some(Post::STATUS.eq(PostStatus::Draft)),
        )
        .keys()
        .await
        .unwrap();
    let mut expected: Vec<Value> = everything
        .iter()
        .filter(|p| p.status == PostStatus::Draft)
        .map(|p| p.author.key.clone())
        .collect();
    expected.sort_by_key(Value::key_string);
    expected.dedup();
    assert_eq!(writers, expected);
    // Ordering across a relation (username descending, then the key in the
    // same direction), a window, and the keys only.
    let ordered: Vec<Value> = [3, 2, 1].into_iter().flat_map(by).map(Value::I64).collect();
    let keys = Post::objects(&sys)
        .order_by(Post::AUTHOR.then(User::USERNAME.desc()))
        .offset(1)
        .first(2)
        .keys()
        .await
        .unwrap();
    assert_eq!(keys, ordered[1..3]);
    // Many-to-many keys load in one more statement, whatever the rows.
    let query = Post::objects(&sys).prefetch(Post::TAGS);
    assert_eq!(query.cost().unwrap().statements, 2);
    let tagged = assert_num_queries!(2, query.all()).unwrap();
    assert!(tagged.iter().any(|p| !p.tags.keys.is_empty()));
    let tag_posts = Post::objects(&sys)
        .filter(Post::TAGS.some(Tag::NAME.eq("tag1")))
        .count()
        .await
        .unwrap();
    let with_tag1 = tagged
        .iter()
        .filter(|p| p.tags.keys.contains(&Value::I64(1)))
        .count();
    assert_eq!(tag_posts, i64::try_from(with_tag1).unwrap());
    // Text operators, NULL checks, negation, and the count of a window.
    assert!(
        Post::objects(&sys)
            .filter(Post::TITLE.icontains("POST 1"))
            .exists()
            .await
            .unwrap()
    );
    assert_eq!(
        Post::objects(&sys)
            .filter(Post::METADATA.is_null(true))
            .count()
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        Post::objects(&sys).exclude(by_user2).count().await.unwrap(),
        i64::try_from(10 - by(2).len()).unwrap()
    );
    assert_eq!(
        Post::objects(&sys)
            .offset(8)
            .first(5)
            .count()
            .await
            .unwrap(),
        2
    );
    let rows = Tag::objects(&sys)
        .order_by(Tag::NAME.asc())
        .rows()
        .await
        .unwrap();
    assert_eq!(rows[0].str("name"), "tag1");
    assert!(Tag::objects(&sys).one().await.unwrap().is_some());
}

#[tokio::test]
async fn filters_on_fields_a_user_may_not_read_are_refused() {
    let c = client().await;
    // `email` is its owner's and staff's to read (the auth app's field rule).
    let ann = as_user(&c, 2).await;
    let err = User::objects(&ann)
        .filter(User::EMAIL.eq("user1@example.com"))
        .count()
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert_eq!(
        User::objects(&system(&c))
            .filter(User::EMAIL.iexact("USER1@example.com"))
            .count()
            .await
            .unwrap(),
        1
    );
}

mod notes {
    use graphloom::prelude::*;

    /// `owner` defaults to the requester; `writer` is always the requester.
    #[derive(Model, Debug)]
    #[model(app = "notes")]
    pub struct Note {
        pub id: Id,
        #[field(max_length = 50)]
        pub text: String,
        #[field(default = current_user)]
        pub owner: ForeignKey<blog::User>,
        #[field(preset = current_user, related_name = "writtenNotes")]
        pub writer: ForeignKey<blog::User>,
    }

    pub fn service() -> Service {
        Service::new("notes").app(graphloom::auth::app()).app(
            App::new("notes").model::<Note>().permissions::<Note>(
                ModelRules::new()
                    .create(Rule::Authenticated)
                    .update(Rule::Owner("writer")),
            ),
        )
    }
}

#[tokio::test]
async fn request_presets_fill_and_force_the_author() {
    use notes::Note;
    let c = TestClient::new(&notes::service()).await;
    let sys = system(&c);
    for name in ["ann", "bob"] {
        User::objects(&sys)
            .create([
                User::USERNAME.set(name),
                User::EMAIL.set(format!("{name}@example.com")),
            ])
            .await
            .unwrap();
    }
    let sdl = c.api().sdl();
    let input = sdl
        .split("input CreateNoteInput {")
        .nth(1)
        .and_then(|s| s.split('}').next())
        .unwrap();
    assert!(
        input.contains("ownerId: ID") && !input.contains("writerId"),
        "{input}"
    );
    let before_owner = input.split("ownerId").next().unwrap_or_default();
    assert!(
        before_owner.trim_end().ends_with("text: String"),
        "ownerId has no `Required.`: the login fills it: {input}"
    );
    // Through GraphQL: no ids given, both are the requester's.
    let ann = c.as_user(user(1));
    let d = ann
        .query(r#"mutation { createNote(input: { text: "hi" }) { note { ownerId writerId } errors { code } } }"#)
        .await;
    assert_eq!(
        d["createNote"]["note"],
        serde_json::json!({ "ownerId": "1", "writerId": "1" })
    );
    // A default gives way to an explicit value; a forced preset does not.
    let d = ann
        .query(r#"mutation { createNote(input: { text: "for bob", ownerId: "2" }) { note { id ownerId writerId } } }"#)
        .await;
    assert_eq!(d["createNote"]["note"]["ownerId"], "2");
    assert_eq!(d["createNote"]["note"]["writerId"], "1");
    // Anonymous: nobody to fill the forced preset with.
    let errors = c
        .errors(r#"mutation { createNote(input: { text: "x" }) { errors { code } } }"#)
        .await;
    assert_eq!(graphloom_test::codes(&errors), ["UNAUTHENTICATED"]);
    // Through the model API the same, and the forced field never changes.
    let bob = as_user(&c, 2).await;
    let note = Note::objects(&bob)
        .create([Note::TEXT.set("mine")])
        .await
        .unwrap();
    assert_eq!(
        (note.owner.key.clone(), note.writer.key.clone()),
        (Value::I64(2), Value::I64(2))
    );
    let err = Note::objects(&bob)
        .filter(Note::ID.eq(note.id))
        .update([Note::WRITER.set(1)])
        .await
        .unwrap_err();
    assert_eq!(err.fields[0].code, FieldCode::Invalid);
    // The system fills presets itself: it acts for nobody.
    let err = Note::objects(&sys)
        .create([Note::TEXT.set("system")])
        .await
        .unwrap_err();
    assert_eq!(err.fields[0].code, FieldCode::Required);
    let made = Note::objects(&sys)
        .create([
            Note::TEXT.set("system"),
            Note::OWNER.set(1),
            Note::WRITER.set(2),
        ])
        .await
        .unwrap();
    assert_eq!(made.writer.key, Value::I64(2));
}

#[tokio::test]
async fn check_runs_every_check_serve_runs() {
    // A rule naming a field the model lacks: the registry refuses it, so
    // `check` does, with `serve`'s error.
    let bad = Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app().permissions::<Post>(ModelRules::new().rows(Rule::Owner("writer"))));
    let err = bad.check().await.unwrap_err().to_string();
    assert!(
        err.contains("graphloom.E011") && err.contains("writer"),
        "{err}"
    );
    assert!(bad.registry().is_err(), "the registry holds the rules");
    assert!(blog::service().check().await.is_ok());
    // A composed directive whose arguments only a GraphQL parser refuses.
    #[derive(Model)]
    #[model(app = "odd", directive = "@cache(seconds: 5 5)")]
    pub struct Odd {
        pub id: Id,
        pub name: String,
    }
    let odd = Service::new("odd").app(App::new("odd").model::<Odd>().compose_directive(
        "https://example.com/cache/v1.0",
        "directive @cache(seconds: Int) on OBJECT",
    ));
    let err = odd.check().await.unwrap_err().to_string();
    assert!(err.contains("graphloom.E014"), "{err}");
}
