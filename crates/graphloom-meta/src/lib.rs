//! Model declarations and the resolved metadata registry of graphloom.
//!
//! For crates that build on graphloom's models: the derive macro emits
//! [`ModelDecl`]s, [`Registry::resolve`] turns them into [`ModelMeta`] once, with
//! start-up checks (`graphloom.E001` …), and every consumer (database, migrations,
//! GraphQL, planner) reads the registry. No SQL, GraphQL or HTTP lives here.
//!
//! | check | meaning |
//! |---|---|
//! | `graphloom.E001` | a relation to a model that is not registered |
//! | `graphloom.E002` | a model registered twice |
//! | `graphloom.E003` | clashing GraphQL type, root field or field names |
//! | `graphloom.E004` | clashing table names |
//! | `graphloom.E005` | no primary key, or more than one |
//! | `graphloom.E006` | an option that does not fit the field's type |
//! | `graphloom.E007` | clashing column names |
//! | `graphloom.E008` | an unsupported field declaration |
//! | `graphloom.E009` | a reverse accessor that clashes with another field |

mod decl;
pub mod naming;
mod registry;
mod value;

pub use decl::*;
pub use registry::*;
pub use value::Value;
