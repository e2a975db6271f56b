//! `@context` and `@fromContext` (federation v2.8): placements on a shelf
//! read the shelf's name through the gateway. A service of its own, kept
//! out of the supergraph Apollo Gateway serves (it refuses contexts); it
//! runs under Apollo Router (`scripts/federation-e2e.sh routers`).

pub mod migrations;

use graphloom::prelude::*;
use serde::Deserialize;

/// A shelf; what is placed on it may read its name.
#[derive(Model)]
#[model(app = "shelves", plural = "shelves", context = "shelf")]
pub struct Shelf {
    pub id: Id,
    #[field(max_length = 40)]
    pub name: String,
}

/// Something on a shelf, reached only through its shelf (no root fields,
/// no mutations of its own), as a context requires.
#[derive(Model)]
#[model(
    app = "shelves",
    lookup = false,
    list = false,
    create = false,
    update = false,
    delete = false,
    subscribe = false,
    rest = false
)]
pub struct Placement {
    pub id: Id,
    #[field(related_list, related_name = "placements")]
    pub shelf: ForeignKey<Shelf>,
    #[field(max_length = 40)]
    pub label: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitleArgs {
    shelf_name: Option<String>,
    upper: bool,
}

/// `Placement.title(shelfName:, upper:)`: the label, after the name of the
/// shelf it is on when the gateway passes it from the `shelf` context.
pub fn title() -> ComputedField {
    ComputedField::with_args::<Placement, String, _, _, _>(
        "title",
        &["label"],
        |_ctx, row: Row, a: TitleArgs| async move {
            let title = match a.shelf_name {
                Some(shelf) => format!("{shelf}: {}", row.str("label")),
                None => row.str("label").to_owned(),
            };
            Ok(if a.upper { title.to_uppercase() } else { title })
        },
    )
    .arg_from_context::<Option<String>>("shelfName", "$shelf { name }")
    .arg_default("upper", false)
}

/// The service with `title` as the placement's computed field (tests give
/// it mistaken ones).
pub fn service_with(title: ComputedField) -> Service {
    Service::new("shelves").app(
        App::new("shelves")
            .migrations(migrations::DIR, migrations::FILES)
            .model::<Shelf>()
            .model::<Placement>()
            .computed(title),
    )
}

/// The shelves service.
pub fn service() -> Service {
    service_with(title())
}
