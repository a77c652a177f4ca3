//! Readers of gateway log values, the compiled twins of detectors/adapters/fields.py.
//!
//! Each reader gives exactly what its Python twin gives for the plain JSON values gateways
//! send (strings, numbers, booleans, lists, objects as orjson reads them). Where the Python
//! reader has lenient rules this code does not repeat (numbers written as strings, Unicode
//! whitespace, values that make the record fail), it stops with `Stop::Bail`: the Python
//! adapter then maps the whole payload, so the output never differs.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::keys::{self as k, Key};
use crate::value::{has_repeated_key, Members, V};

/// Why a payload is not mapped here: `Bail` hands it to the Python adapter, `Py` is an error
/// of the interpreter itself (out of memory), raised as it is.
pub enum Stop {
    Bail,
    Py(PyErr),
}

impl From<PyErr> for Stop {
    fn from(error: PyErr) -> Self {
        Stop::Py(error)
    }
}

pub type R<T> = Result<T, Stop>;

pub fn bail<T>() -> R<T> {
    Err(Stop::Bail)
}

// The v1 schema's bounds, as in fields.py
pub const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;
pub const MAX_ID_LENGTH: usize = 256;
pub const MAX_TIMESTAMP: f64 = 253402300799.0;

/// An object's members; none for a missing or non-object value (the adapters' `_mapping`).
pub fn mapping(value: Option<V<'_>>) -> Members<'_> {
    match value {
        Some(V::Obj(members)) => members,
        _ => &[],
    }
}

/// An object's members in Python's dict order, for code that walks them; Bail if a key repeats.
pub fn walk(members: Members<'_>) -> R<Members<'_>> {
    if has_repeated_key(members) {
        return bail();
    }
    Ok(members)
}

/// Python's truth of a JSON value.
pub fn truthy(value: V<'_>) -> bool {
    match value {
        V::Null => false,
        V::Bool(flag) => flag,
        V::Int(int) => int != 0,
        V::Float(float) => float != 0.0,
        V::Str(text) => !text.is_empty(),
        V::Arr(items) => !items.is_empty(),
        V::Obj(members) => !members.is_empty(),
    }
}

/// Python's `a or b` on two looked-up values (None for a missing key).
pub fn or<'a>(a: Option<V<'a>>, b: Option<V<'a>>) -> Option<V<'a>> {
    match a {
        Some(value) if truthy(value) => a,
        _ => b,
    }
}

/// A value that is present and not null (Python's `is not None`).
pub fn present(value: Option<V<'_>>) -> Option<V<'_>> {
    value.filter(|v| !v.is_null())
}

/// A float as Python holds it. A negative zero is left to the Python adapter: which zeros are
/// negative depends on the parser's reading of `-0` (orjson: the integer 0), so the output
/// never rests on it.
pub fn float(value: f64) -> R<f64> {
    if value == 0.0 && value.is_sign_negative() {
        return bail();
    }
    Ok(value)
}

fn safe(int: i128) -> Option<i64> {
    (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER)
        .contains(&int)
        .then_some(int as i64)
}

pub fn as_int(value: Option<V<'_>>) -> R<Option<i64>> {
    Ok(match value {
        Some(V::Int(int)) => safe(int),
        Some(V::Float(value)) => {
            let value = float(value)?;
            if value.is_finite() && value.fract() == 0.0 && value.abs() <= MAX_SAFE_INTEGER as f64 {
                Some(value as i64)
            } else {
                None
            }
        }
        Some(V::Str(text)) if !text.is_ascii() => return bail(), // Unicode digits and spaces
        Some(V::Str(text)) if text.len() > 20 => None,
        Some(V::Str(text)) => decimal(text)?.and_then(safe),
        _ => None,
    })
}

/// int(text.strip()) of an ASCII string, for the plain decimals gateways write (LiteLLM's
/// error codes): a sign and digits; anything else Python reads by its own rules (underscores),
/// or not at all.
fn decimal(text: &str) -> R<Option<i128>> {
    let trimmed = text.trim_matches(python_space);
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return bail();
    }
    match trimmed.parse::<i128>() {
        Ok(number) => Ok(Some(number)),
        Err(_) => bail(),
    }
}

pub fn as_float(value: Option<V<'_>>) -> R<Option<f64>> {
    Ok(match value {
        Some(V::Int(int)) => Some(int as f64),
        Some(V::Float(value)) => Some(float(value)?).filter(|value| value.is_finite()),
        Some(V::Str(_)) => return bail(), // float(text.strip()): Python's rules
        _ => None,
    })
}

pub fn as_count(value: Option<V<'_>>) -> R<Option<i64>> {
    Ok(as_int(value)?.filter(|count| *count >= 0))
}

pub fn as_bool(value: Option<V<'_>>) -> R<Option<bool>> {
    Ok(match value {
        Some(V::Bool(flag)) => Some(flag),
        Some(V::Str(_)) => return bail(), // "True", "false": Python's lower()
        _ => None,
    })
}

pub fn as_str(value: Option<V<'_>>) -> R<Option<Cow<'_, str>>> {
    Ok(match value {
        Some(V::Str("")) => None,
        Some(V::Str(text)) => Some(Cow::Borrowed(text)),
        Some(V::Int(int)) => Some(Cow::Owned(int.to_string())),
        Some(V::Float(_)) => return bail(), // Python's repr of a float
        _ => None,
    })
}

pub fn fits_id(text: &str) -> bool {
    text.len() <= MAX_ID_LENGTH // UTF-8 bytes, as the decoder counts
}

pub fn as_id(value: Option<V<'_>>) -> R<Option<Cow<'_, str>>> {
    Ok(as_str(value)?.filter(|text| fits_id(text)))
}

/// A required identifier: a non-empty string within the bound, or the record is Python's
/// (it either reads a number as text or rejects the record with its reason).
pub fn required_str(value: Option<V<'_>>) -> R<&str> {
    match value {
        Some(V::Str(text)) if !text.is_empty() && fits_id(text) => Ok(text),
        _ => bail(),
    }
}

pub fn required_timestamp(seconds: Option<f64>) -> R<f64> {
    match seconds {
        Some(seconds) if (0.0..=MAX_TIMESTAMP).contains(&seconds) => Ok(seconds),
        _ => bail(),
    }
}

/// Python's str.strip() whitespace among ASCII characters.
fn python_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f'
    )
}

pub fn first_address(value: Option<V<'_>>) -> R<Option<Cow<'_, str>>> {
    let value = match value {
        Some(V::Arr(items)) => items.first().copied(),
        other => other,
    };
    let Some(text) = as_str(value)? else {
        return Ok(None);
    };
    let first = |text: &str| -> R<Option<(usize, usize)>> {
        let segment = text.split(',').next().unwrap_or("");
        if !segment.is_ascii() {
            return bail(); // Unicode whitespace: Python's strip()
        }
        let trimmed = segment.trim_matches(python_space);
        if trimmed.is_empty() || !fits_id(trimmed) {
            return Ok(None);
        }
        let start = segment.len() - segment.trim_start_matches(python_space).len();
        Ok(Some((start, start + trimmed.len())))
    };
    Ok(match text {
        Cow::Borrowed(text) => first(text)?.map(|(start, end)| Cow::Borrowed(&text[start..end])),
        Cow::Owned(text) => {
            first(&text)?.map(|(start, end)| Cow::Owned(text[start..end].to_owned()))
        }
    })
}

/// Message content as text: a string, or the text parts of a multi-part list.
pub fn content_text(content: Option<V<'_>>) -> Option<Cow<'_, str>> {
    match content {
        Some(V::Str(text)) => Some(Cow::Borrowed(text)),
        Some(V::Arr(parts)) => {
            let mut texts: Vec<&str> = Vec::new();
            for part in parts {
                match *part {
                    V::Str(text) => texts.push(text),
                    V::Obj(part) => {
                        // part.get("text", part.get("content")): a present "text" wins, even null
                        let text = crate::value::get(part, "text")
                            .or_else(|| crate::value::get(part, "content"));
                        if let Some(V::Str(text)) = text {
                            texts.push(text);
                        }
                    }
                    _ => {}
                }
            }
            join(texts)
        }
        _ => None,
    }
}

/// "\n".join(texts), None when there are none.
pub fn join(texts: Vec<&str>) -> Option<Cow<'_, str>> {
    match texts.len() {
        0 => None,
        1 => Some(Cow::Borrowed(texts[0])),
        _ => Some(Cow::Owned(texts.join("\n"))),
    }
}

pub const SYSTEM_ROLES: [&str; 2] = ["system", "developer"];
/// What LiteLLM logs in place of a message's text when message logging is off (fields.py).
pub const REDACTED: &str = "redacted-by-litellm";

/// fields.split_messages: (role, text) of each message with a string role; system and
/// developer texts go to `system`, the others are chat turns ("" for a turn without text).
pub fn split_messages<'a>(
    messages: impl Iterator<Item = (&'a str, Option<Cow<'a, str>>)>,
    system: &mut Vec<Cow<'a, str>>,
) -> Vec<Out<'a>> {
    let mut turns = Vec::new();
    for (role, text) in messages {
        let text = text.filter(|text| text != REDACTED);
        if SYSTEM_ROLES.contains(&role) {
            if let Some(text) = text.filter(|text| !text.is_empty()) {
                system.push(text);
            }
        } else {
            turns.push(Out::Dict(vec![
                (&k::ROLE, Out::Str(Cow::Borrowed(role))),
                (&k::CONTENT, Out::Str(text.unwrap_or(Cow::Borrowed("")))),
            ]));
        }
    }
    turns
}

/// "\n".join(system) or None.
pub fn system_text(system: Vec<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    match system.len() {
        0 => None,
        1 => system.into_iter().next().filter(|text| !text.is_empty()),
        _ => Some(Cow::Owned(system.join("\n"))),
    }
}

pub fn string_list(value: Option<V<'_>>) -> Option<Vec<Out<'_>>> {
    match value {
        Some(V::Str(text)) => Some(vec![Out::Str(Cow::Borrowed(text))]),
        Some(V::Arr(items)) => {
            let texts: Vec<Out<'_>> = items
                .iter()
                .filter_map(|item| item.as_str().map(|text| Out::Str(Cow::Borrowed(text))))
                .collect();
            (!texts.is_empty()).then_some(texts)
        }
        _ => None,
    }
}

/// A logit bias: the entries whose bias is a number, as floats; None if none.
pub fn as_logit_bias(value: Option<V<'_>>) -> R<Option<Out<'_>>> {
    let Some(V::Obj(bias)) = value else {
        return Ok(None);
    };
    let mut read: Vec<(Cow<'_, str>, Out<'_>)> = Vec::with_capacity(bias.len());
    for (token, raw) in walk(bias)? {
        if let Some(number) = as_float(Some(*raw))? {
            read.push((Cow::Borrowed(*token), Out::Float(number)));
        }
    }
    Ok((!read.is_empty()).then_some(Out::Map(read)))
}

/// An OpenAI-format request parameter read under its own name (fields.OPENAI_PARAMETERS):
/// its v1 key and value, None when `name` is not one or the value does not read.
pub fn openai_parameter<'a>(name: &str, value: V<'a>) -> R<Option<(&'static Key, Out<'a>)>> {
    let given = Some(value);
    Ok(match name {
        "temperature" => as_float(given)?.map(|v| (&k::TEMPERATURE, Out::Float(v))),
        "top_p" => as_float(given)?.map(|v| (&k::TOP_P, Out::Float(v))),
        "n" => as_count(given)?.map(|v| (&k::N, Out::Int(v))),
        "top_logprobs" => as_count(given)?.map(|v| (&k::TOP_LOGPROBS, Out::Int(v))),
        "logprobs" => as_bool(given)?.map(|v| (&k::LOGPROBS, Out::Bool(v))),
        "stream" => as_bool(given)?.map(|v| (&k::STREAM, Out::Bool(v))),
        "seed" => as_int(given)?.map(|v| (&k::SEED, Out::Int(v))),
        "logit_bias" => as_logit_bias(given)?.map(|v| (&k::LOGIT_BIAS, v)),
        _ => None,
    })
}

/// read_parameters(source, OPENAI_PARAMETERS, into): the parameters present, in their order.
pub fn read_openai_parameters<'a>(source: Members<'a>, into: &mut Fields<'a>) -> R<()> {
    for (name, value) in walk(source)? {
        if !value.is_null() {
            if let Some((key, read)) = openai_parameter(name, *value)? {
                into.set(key, read);
            }
        }
    }
    Ok(())
}

/// A mapped event under construction; its keys are the v1 schema's (keys.rs), except a logit
/// bias's token ids.
pub enum Out<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Out<'a>>),
    Dict(Vec<(&'static Key, Out<'a>)>),
    Map(Vec<(Cow<'a, str>, Out<'a>)>),
}

/// Fields of a v1 object, set only when they read.
pub struct Fields<'a>(pub Vec<(&'static Key, Out<'a>)>);

impl Default for Fields<'_> {
    fn default() -> Self {
        Fields(Vec::with_capacity(12)) // an event's fields: one allocation, never grown
    }
}

impl<'a> Fields<'a> {
    pub fn set(&mut self, key: &'static Key, value: Out<'a>) {
        self.0.push((key, value));
    }

    pub fn set_opt(&mut self, key: &'static Key, value: Option<Out<'a>>) {
        if let Some(value) = value {
            self.0.push((key, value));
        }
    }

    /// Set `key` to these fields as an object, if any read.
    pub fn nest(&mut self, key: &'static Key, fields: Fields<'a>) {
        if !fields.0.is_empty() {
            self.0.push((key, Out::Dict(fields.0)));
        }
    }
}

pub fn to_py<'py>(py: Python<'py>, value: &Out<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Out::Str(text) => text.as_ref().into_pyobject(py)?.into_any(),
        Out::Int(int) => int.into_pyobject(py)?.into_any(),
        Out::Float(float) => float.into_pyobject(py)?.into_any(),
        Out::Bool(flag) => flag.into_pyobject(py)?.to_owned().into_any(),
        Out::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Out::Dict(fields) => {
            let dict = PyDict::new(py);
            for (key, item) in fields {
                dict.set_item(key.to_py(py), to_py(py, item)?)?;
            }
            dict.into_any()
        }
        Out::Map(entries) => {
            let dict = PyDict::new(py);
            for (key, item) in entries {
                dict.set_item(key.as_ref(), to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
