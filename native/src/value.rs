//! JSON as the adapters read it: parsed by simd-json, then laid out in an arena (one per
//! payload), the strings borrowed from the parser's copy of the payload. Objects keep every member in document
//! order; `get` answers as a Python dict built by orjson does (the last of a repeated key).

use std::cell::RefCell;

use bumpalo::Bump;
use simd_json::{Buffers, Node, StaticNode};

pub type Members<'a> = &'a [(&'a str, V<'a>)];

#[derive(Clone, Copy)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i128), // an integer of up to 64 bits, as orjson reads it to a Python int
    Float(f64),
    Str(&'a str),
    Arr(&'a [V<'a>]),
    Obj(Members<'a>),
}

impl<'a> V<'a> {
    /// The member's value (the last of a repeated key), None when absent or not an object.
    pub fn get_member(self, key: &str) -> Option<V<'a>> {
        match self {
            V::Obj(members) => get(members, key),
            _ => None,
        }
    }

    pub fn as_str(self) -> Option<&'a str> {
        match self {
            V::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(self) -> bool {
        matches!(self, V::Null)
    }
}

pub fn get<'a>(members: Members<'a>, key: &str) -> Option<V<'a>> {
    members
        .iter()
        .rev()
        .find(|(name, _)| *name == key)
        .map(|(_, value)| *value)
}

/// Whether a key appears twice: iterating such an object in document order would not be the
/// iteration of Python's dict (one entry per key, at its first place, with its last value).
pub fn has_repeated_key(members: Members<'_>) -> bool {
    if members.len() <= 32 {
        members
            .iter()
            .enumerate()
            .any(|(i, (key, _))| members[..i].iter().any(|(k, _)| k == key))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(members.len());
        !members.iter().all(|(key, _)| seen.insert(*key))
    }
}

/// The deepest nesting taken on: deeper JSON is the Python adapter's, whose orjson nests up to
/// 1024 levels.
const MAX_DEPTH: usize = 128;

thread_local! {
    // simd-json's working buffers, reused from payload to payload
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// The payload parsed, or None where the parser refuses it or might read it otherwise than
/// orjson (orjson then has the last word: the Python adapter reads it). simd-json checks
/// UTF-8, escapes, control characters and numbers as orjson does, except two cases handed
/// back here: an unpaired high surrogate escape (simd-json accepts it) and nesting deeper
/// than MAX_DEPTH. Integers past 64 bits and numbers out of a double's range it refuses.
pub fn parse<'a>(data: &[u8], arena: &'a Bump) -> Option<V<'a>> {
    if may_have_unpaired_surrogate(data) {
        return None;
    }
    // simd-json unescapes strings in place: the values borrow from this copy
    let input = arena.alloc_slice_copy(data);
    let tape = BUFFERS
        .with(|buffers| match buffers.try_borrow_mut() {
            Ok(mut buffers) => simd_json::to_tape_with_buffers(input, &mut buffers),
            Err(_) => simd_json::to_tape(input), // a payload mapped while one is mapped
        })
        .ok()?;
    let mut at = 0;
    build(&tape.0, &mut at, arena, 0)
}

pub fn parse_str<'a>(text: &str, arena: &'a Bump) -> Option<V<'a>> {
    parse(text.as_bytes(), arena)
}

/// Whether a `\u` escape of a high surrogate is not followed by one of a low surrogate. A
/// superset: an escaped backslash before a `u` counts too (the payload is then Python's).
fn may_have_unpaired_surrogate(data: &[u8]) -> bool {
    let is_high = |hex: &[u8]| {
        matches!(hex[0], b'd' | b'D') && matches!(hex[1], b'8'..=b'9' | b'a'..=b'b' | b'A'..=b'B')
    };
    let is_low =
        |hex: &[u8]| matches!(hex[0], b'd' | b'D') && matches!(hex[1], b'c'..=b'f' | b'C'..=b'F');
    memchr::memmem::find_iter(data, b"\\u").any(|at| {
        let escape = &data[at + 2..];
        escape.len() >= 2
            && is_high(escape)
            && !(escape.len() >= 8 && escape[4..].starts_with(b"\\u") && is_low(&escape[6..]))
    })
}

/// The value starting at node `at` of a tape, as a V in the arena (None past MAX_DEPTH).
fn build<'a>(nodes: &[Node<'a>], at: &mut usize, arena: &'a Bump, depth: usize) -> Option<V<'a>> {
    let node = *nodes.get(*at)?;
    *at += 1;
    Some(match node {
        Node::String(text) => V::Str(text),
        Node::Static(StaticNode::Null) => V::Null,
        Node::Static(StaticNode::Bool(flag)) => V::Bool(flag),
        Node::Static(StaticNode::I64(int)) => V::Int(int as i128),
        Node::Static(StaticNode::U64(int)) => V::Int(int as i128),
        Node::Static(StaticNode::F64(float)) => V::Float(float),
        Node::Array { len, .. } => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let mut items = bumpalo::collections::Vec::with_capacity_in(len, arena);
            for _ in 0..len {
                items.push(build(nodes, at, arena, depth + 1)?);
            }
            V::Arr(items.into_bump_slice())
        }
        Node::Object { len, .. } => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let mut members = bumpalo::collections::Vec::with_capacity_in(len, arena);
            for _ in 0..len {
                let Node::String(key) = *nodes.get(*at)? else {
                    return None;
                };
                *at += 1;
                members.push((key, build(nodes, at, arena, depth + 1)?));
            }
            V::Obj(members.into_bump_slice())
        }
    })
}
