#![doc = include_str!("../docs/guide.md")]

pub mod changes;
pub mod cursor;
mod engine;
mod error;
pub mod exec;
pub mod filter;
mod objects;
pub mod plan;
pub mod scope;
pub mod sql;
mod typed;
pub mod write;

pub use engine::{ComputedField, ComputedFn, Ctx, Engine, RequestContext, Row};
pub use error::{Error, ErrorCode, FieldCode, FieldError, Result};
pub use graphloom_meta::{Op, Quantifier};
pub use objects::{Conflicts, QuerySet};
pub use typed::{Assign, Column, Order, Reverse, Text, ToOne, Where};
