//! JSON as the adapters read it: parsed by serde_json into an arena (one per payload), strings
//! borrowed from the payload where they have no escapes. Objects keep every member in document
//! order; `get` answers as a Python dict built by orjson does (the last of a repeated key).

use std::fmt;

use bumpalo::Bump;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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

/// The payload parsed, or None where serde_json refuses it (orjson then has the last word:
/// the Python adapter reads it). serde_json nests at most 128 levels, orjson 1024: what one
/// refuses the other may not, never the reverse.
pub fn parse<'a>(data: &'a [u8], arena: &'a Bump) -> Option<V<'a>> {
    // UTF-8 checked once for the whole payload (fast), rather than string by string
    let text = std::str::from_utf8(data).ok()?;
    parse_str(text, arena)
}

pub fn parse_str<'a>(text: &'a str, arena: &'a Bump) -> Option<V<'a>> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = Seed(arena).deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    Some(value)
}

#[derive(Clone, Copy)]
struct Seed<'a>(&'a Bump);

impl<'a> DeserializeSeed<'a> for Seed<'a> {
    type Value = V<'a>;
    fn deserialize<D: Deserializer<'a>>(self, reader: D) -> Result<V<'a>, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for Seed<'a> {
    type Value = V<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<V<'a>, E> {
        Ok(V::Null)
    }
    fn visit_bool<E>(self, flag: bool) -> Result<V<'a>, E> {
        Ok(V::Bool(flag))
    }
    fn visit_i64<E>(self, int: i64) -> Result<V<'a>, E> {
        Ok(V::Int(int as i128))
    }
    fn visit_u64<E>(self, int: u64) -> Result<V<'a>, E> {
        Ok(V::Int(int as i128))
    }
    fn visit_f64<E>(self, float: f64) -> Result<V<'a>, E> {
        Ok(V::Float(float))
    }
    fn visit_borrowed_str<E>(self, text: &'a str) -> Result<V<'a>, E> {
        Ok(V::Str(text))
    }
    fn visit_str<E>(self, text: &str) -> Result<V<'a>, E> {
        Ok(V::Str(self.0.alloc_str(text))) // unescaped: a copy
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut items: A) -> Result<V<'a>, A::Error> {
        let mut read = bumpalo::collections::Vec::new_in(self.0);
        while let Some(item) = items.next_element_seed(self)? {
            read.push(item);
        }
        Ok(V::Arr(read.into_bump_slice()))
    }
    fn visit_map<A: MapAccess<'a>>(self, mut members: A) -> Result<V<'a>, A::Error> {
        let mut read = bumpalo::collections::Vec::new_in(self.0);
        while let Some(key) = members.next_key_seed(KeySeed(self.0))? {
            read.push((key, members.next_value_seed(self)?));
        }
        Ok(V::Obj(read.into_bump_slice()))
    }
}

#[derive(Clone, Copy)]
struct KeySeed<'a>(&'a Bump);

impl<'a> DeserializeSeed<'a> for KeySeed<'a> {
    type Value = &'a str;
    fn deserialize<D: Deserializer<'a>>(self, reader: D) -> Result<&'a str, D::Error> {
        reader.deserialize_str(self)
    }
}

impl<'a> Visitor<'a> for KeySeed<'a> {
    type Value = &'a str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, text: &'a str) -> Result<&'a str, E> {
        Ok(text)
    }
    fn visit_str<E>(self, text: &str) -> Result<&'a str, E> {
        Ok(self.0.alloc_str(text))
    }
}
