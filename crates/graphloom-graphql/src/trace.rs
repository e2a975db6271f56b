//! Apollo's inline trace (`ftv1`): when a gateway sends
//! `apollo-federation-include-trace: ftv1`, the response carries
//! `extensions.ftv1`, a base64 protobuf [`Trace`] with every resolved
//! field's start and end (nanoseconds from the trace's start, once the
//! document is parsed) and the errors at their paths. The gateway folds it into its own trace (Apollo
//! Studio, Hive's usage reports). A traced request runs through the
//! resolvers, not the fast path, since the fast path has no fields to
//! time; gateways sample the requests they trace.
//!
//! The messages are the subset of Apollo's `reports.proto` an inline
//! trace uses, with its field numbers.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_graphql::{PathSegment, ServerError};
use base64::Engine as _;
use prost::Message as _;

/// The header a gateway asks for a trace with, and its one value.
pub const HEADER: &str = "apollo-federation-include-trace";
pub const FTV1: &str = "ftv1";

/// One operation's trace.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Trace {
    #[prost(message, optional, tag = "4")]
    pub start_time: Option<Timestamp>,
    #[prost(message, optional, tag = "3")]
    pub end_time: Option<Timestamp>,
    #[prost(uint64, tag = "11")]
    pub duration_ns: u64,
    #[prost(message, optional, tag = "14")]
    pub root: Option<Node>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// A field (by its response name) or a list item (by its index), with
/// what is under it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Node {
    #[prost(oneof = "NodeId", tags = "1, 2")]
    pub id: Option<NodeId>,
    #[prost(string, tag = "14")]
    pub original_field_name: String,
    #[prost(string, tag = "3")]
    pub r#type: String,
    #[prost(string, tag = "13")]
    pub parent_type: String,
    #[prost(uint64, tag = "8")]
    pub start_time: u64,
    #[prost(uint64, tag = "9")]
    pub end_time: u64,
    #[prost(message, repeated, tag = "11")]
    pub error: Vec<TraceError>,
    #[prost(message, repeated, tag = "12")]
    pub child: Vec<Node>,
}

#[derive(Clone, PartialEq, Eq, prost::Oneof)]
pub enum NodeId {
    #[prost(string, tag = "1")]
    ResponseName(String),
    #[prost(uint32, tag = "2")]
    Index(u32),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceError {
    #[prost(string, tag = "1")]
    pub message: String,
    #[prost(message, repeated, tag = "2")]
    pub location: Vec<Location>,
    /// The error as JSON (with its path and extensions).
    #[prost(string, tag = "4")]
    pub json: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    #[prost(uint32, tag = "1")]
    pub line: u32,
    #[prost(uint32, tag = "2")]
    pub column: u32,
}

impl Trace {
    /// The trace as `extensions.ftv1` carries it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.encode_to_vec())
    }

    /// A trace from `extensions.ftv1` (what a gateway, or a test, does).
    pub fn from_base64(text: &str) -> Result<Trace, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("ftv1 is not base64: {e}"))?;
        Trace::decode(bytes.as_slice()).map_err(|e| format!("ftv1 is not a Trace: {e}"))
    }
}

impl Node {
    /// The node at `path` below this one, if it was traced.
    pub fn at(&self, path: &[PathSegment]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        let id = node_id(first);
        self.child
            .iter()
            .find(|c| c.id.as_ref() == Some(&id))
            .and_then(|c| c.at(rest))
    }
}

fn node_id(seg: &PathSegment) -> NodeId {
    match seg {
        PathSegment::Field(name) => NodeId::ResponseName(name.clone()),
        PathSegment::Index(i) => NodeId::Index(u32::try_from(*i).unwrap_or(u32::MAX)),
    }
}

/// One resolved field, as the resolve hook saw it.
pub(crate) struct Resolved {
    pub path: Vec<PathSegment>,
    pub field_name: String,
    pub ty: String,
    pub parent_type: String,
    pub start: Duration,
    pub end: Duration,
}

/// A trace being recorded: started with the request.
pub(crate) struct Recording {
    pub started: Instant,
    pub wall: SystemTime,
    pub fields: Vec<Resolved>,
    /// `_entities` items that failed, to put into the response (and so
    /// into the trace) before it is finished.
    pub misses: Option<Arc<crate::federation::Misses>>,
}

impl Recording {
    pub fn new(started: Instant, wall: SystemTime) -> Self {
        Recording {
            started,
            wall,
            fields: Vec::new(),
            misses: None,
        }
    }

    /// The trace of the finished request, with `errors` at their paths.
    pub fn finish(self, errors: &[ServerError]) -> Trace {
        let took = self.started.elapsed();
        let mut root = Node::default();
        for f in self.fields {
            let node = node_at(&mut root, &f.path);
            node.original_field_name = f.field_name;
            node.r#type = f.ty;
            node.parent_type = f.parent_type;
            node.start_time = nanos(f.start);
            node.end_time = nanos(f.end);
        }
        for e in errors {
            let path = &e.path;
            node_at(&mut root, path).error.push(TraceError {
                message: e.message.clone(),
                location: e
                    .locations
                    .iter()
                    .map(|l| Location {
                        line: u32::try_from(l.line).unwrap_or(u32::MAX),
                        column: u32::try_from(l.column).unwrap_or(u32::MAX),
                    })
                    .collect(),
                json: serde_json::to_string(e).unwrap_or_default(),
            });
        }
        Trace {
            start_time: Some(timestamp(self.wall)),
            end_time: Some(timestamp(self.wall + took)),
            duration_ns: nanos(took),
            root: Some(root),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn timestamp(t: SystemTime) -> Timestamp {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// The node at `path`, made (with the ones above it) if not there yet.
fn node_at<'a>(root: &'a mut Node, path: &[PathSegment]) -> &'a mut Node {
    let mut at = root;
    for seg in path {
        let id = node_id(seg);
        let i = match at.child.iter().position(|c| c.id.as_ref() == Some(&id)) {
            Some(i) => i,
            None => {
                at.child.push(Node {
                    id: Some(id),
                    ..Node::default()
                });
                at.child.len() - 1
            }
        };
        at = &mut at.child[i];
    }
    at
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fields_nest_by_path_and_errors_land_where_they_happened() {
        let t0 = Instant::now();
        let mut r = Recording::new(t0, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let f = |n: &str| PathSegment::Field(n.to_owned());
        for (path, name, ty, parent) in [
            (vec![f("posts")], "posts", "PostConnection!", "Query"),
            (
                vec![f("posts"), f("nodes")],
                "nodes",
                "[Post!]!",
                "PostConnection",
            ),
            (
                vec![f("posts"), f("nodes"), PathSegment::Index(1), f("t")],
                "title",
                "String!",
                "Post",
            ),
        ] {
            r.fields.push(Resolved {
                path,
                field_name: name.into(),
                ty: ty.into(),
                parent_type: parent.into(),
                start: Duration::from_micros(5),
                end: Duration::from_micros(9),
            });
        }
        let mut e = ServerError::new("nope", None);
        e.path = vec![f("posts"), f("nodes"), PathSegment::Index(1), f("t")];
        let trace = Trace::from_base64(&r.finish(&[e]).to_base64()).unwrap();
        assert_eq!(trace.start_time.as_ref().unwrap().seconds, 1_700_000_000);
        let root = trace.root.unwrap();
        let title = root
            .at(&[f("posts"), f("nodes"), PathSegment::Index(1), f("t")])
            .unwrap();
        assert_eq!(
            (
                title.original_field_name.as_str(),
                title.r#type.as_str(),
                title.parent_type.as_str()
            ),
            ("title", "String!", "Post")
        );
        assert_eq!((title.start_time, title.end_time), (5_000, 9_000));
        assert_eq!(title.error[0].message, "nope");
        // The list item is a node of its own, by index.
        let item = root
            .at(&[f("posts"), f("nodes"), PathSegment::Index(1)])
            .unwrap();
        assert_eq!(item.id, Some(NodeId::Index(1)));
        assert!(Trace::from_base64("not base64!").is_err());
    }
}
