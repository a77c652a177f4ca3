//! OpenTelemetry GenAI spans as OTLP/JSON to v1 events: the compiled twin of
//! detectors/adapters/otlp_json.py (the mapping and its reasons are documented there and in
//! docs/adapters.md).

use std::borrow::Cow;
use std::collections::HashMap;

use bumpalo::Bump;

use crate::keys::{self as k, Key};
use crate::read::{
    as_bool, as_count, as_float, as_id, as_int, as_str, bail, content_text, first_address, float,
    join, required_str, required_timestamp, split_messages, string_list, system_text, walk, Fields,
    Out, R,
};
use crate::value::{get, parse_str, Members, V};

const CLIENT_ADDRESS_KEYS: [&str; 4] = [
    "client.address",
    "http.client_ip",
    "net.peer.ip",
    "network.peer.address",
];
const USER_AGENT_KEYS: [&str; 2] = ["user_agent.original", "http.user_agent"];
const STATUS_KEYS: [&str; 2] = ["http.response.status_code", "http.status_code"];
const MODEL_KEYS: [&str; 2] = ["gen_ai.request.model", "gen_ai.response.model"];
const SEED_KEYS: [&str; 2] = ["gen_ai.request.seed", "gen_ai.openai.request.seed"];
static TOKEN_KEYS: [(&Key, [&str; 2]); 3] = [
    (
        &k::INPUT_TOKENS,
        ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
    ),
    (
        &k::OUTPUT_TOKENS,
        [
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        ],
    ),
    (
        &k::REASONING_TOKENS,
        [
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens",
        ],
    ),
];
const GENAI_KEYS: [&str; 4] = [
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.provider.name",
    "gen_ai.system",
];
const NOT_INFERENCE: [&str; 13] = [
    "execute_tool",
    "create_agent",
    "invoke_agent",
    "invoke_workflow",
    "retrieval",
    "plan",
    "search_memory",
    "create_memory",
    "update_memory",
    "upsert_memory",
    "delete_memory",
    "create_memory_store",
    "delete_memory_store",
];
const EVENT_ROLES: [(&str, &str); 4] = [
    ("gen_ai.system.message", "system"),
    ("gen_ai.user.message", "user"),
    ("gen_ai.assistant.message", "assistant"),
    ("gen_ai.tool.message", "tool"),
];
const SPAN_KIND_SERVER: &str = "SPAN_KIND_SERVER";
const MAX_ANCESTORS: usize = 32;
const MAX_VALUE_DEPTH: usize = 16;
const MAX_INDEXED_MESSAGES: usize = 1000;

/// A span's attributes as plain values (the last of a repeated key wins, as in a dict).
type Attrs<'a> = &'a [(&'a str, V<'a>)];

/// Every event of an export request; Bail when any part of it is for the Python adapter.
pub fn events<'a>(request: V<'a>, account_keys: &[String], arena: &'a Bump) -> R<Vec<Fields<'a>>> {
    let V::Obj(request) = request else {
        return bail();
    };
    let spans = spans(request)?;
    let mut trace = Trace {
        spans: &spans,
        by_id: None,
        attrs: HashMap::new(),
        arena,
    };
    let keys: Vec<&str> = account_keys.iter().map(String::as_str).collect(); // once per payload
    let mut found = Vec::new();
    for (span, resource) in &spans {
        let Some(attrs) = genai_attributes(*span, arena)? else {
            continue;
        };
        if let Some(V::Str(operation)) = get(attrs, "gen_ai.operation.name") {
            if NOT_INFERENCE.contains(&operation) {
                continue;
            }
        }
        let V::Obj(span) = *span else {
            return bail();
        };
        found.push(event(span, attrs, *resource, &mut trace, &keys, arena)?);
    }
    if found.is_empty() {
        return bail(); // no inference span: Python's rejection
    }
    Ok(found)
}

/// Every span with its resource's raw attributes, in document order.
fn spans<'a>(request: Members<'a>) -> R<Vec<(V<'a>, Option<V<'a>>)>> {
    let groups = match get(request, "resourceSpans") {
        None | Some(V::Null) => return Ok(Vec::new()),
        Some(V::Arr(groups)) => groups,
        Some(_) => return bail(),
    };
    let mut found = Vec::new();
    for group in groups {
        let V::Obj(group) = *group else { continue };
        let resource_attrs = match get(group, "resource") {
            Some(V::Obj(resource)) => get(resource, "attributes"),
            _ => None,
        };
        // instrumentationLibrarySpans: the name before OTLP 0.15 (dict.get with a default)
        let scopes = match get(group, "scopeSpans") {
            None => get(group, "instrumentationLibrarySpans"),
            given => given,
        };
        let Some(V::Arr(scopes)) = scopes else {
            continue;
        };
        for scope in scopes {
            if let Some(V::Arr(spans)) = scope.get_member("spans") {
                found.extend(spans.iter().map(|span| (*span, resource_attrs)));
            }
        }
    }
    Ok(found)
}

/// The payload's spans by (traceId, spanId), indexed on first use, and the attributes of the
/// ancestors read.
struct Trace<'s, 'a> {
    spans: &'s [(V<'a>, Option<V<'a>>)],
    by_id: Option<HashMap<(&'a str, &'a str), Members<'a>>>,
    attrs: HashMap<*const (&'a str, V<'a>), Attrs<'a>>,
    arena: &'a Bump,
}

impl<'a> Trace<'_, 'a> {
    /// (attributes, is a SERVER span) of the span's ancestors, nearest first.
    fn ancestors(&mut self, span: Members<'a>) -> R<Vec<(Attrs<'a>, bool)>> {
        let (Some(V::Str(trace_id)), Some(V::Str(mut parent))) =
            (get(span, "traceId"), get(span, "parentSpanId"))
        else {
            return Ok(Vec::new());
        };
        if parent.is_empty() {
            return Ok(Vec::new());
        }
        let by_id = self.by_id.get_or_insert_with(|| {
            let mut by_id = HashMap::new();
            for (candidate, _) in self.spans {
                if let V::Obj(candidate) = *candidate {
                    if let (Some(V::Str(in_trace)), Some(V::Str(span_id))) =
                        (get(candidate, "traceId"), get(candidate, "spanId"))
                    {
                        by_id.insert((in_trace, span_id), candidate);
                    }
                }
            }
            by_id
        });
        let mut found = Vec::new();
        let mut seen: Vec<&str> = match get(span, "spanId") {
            Some(V::Str(own)) => vec![own],
            _ => Vec::new(),
        };
        while !seen.contains(&parent) && found.len() < MAX_ANCESTORS {
            let Some(ancestor) = by_id.get(&(trace_id, parent)).copied() else {
                break;
            };
            seen.push(parent);
            let attrs = match self.attrs.get(&ancestor.as_ptr()) {
                Some(attrs) => *attrs,
                None => {
                    let attrs = attributes(get(ancestor, "attributes"), self.arena)?;
                    self.attrs.insert(ancestor.as_ptr(), attrs);
                    attrs
                }
            };
            found.push((attrs, is_server(get(ancestor, "kind"))));
            match get(ancestor, "parentSpanId") {
                Some(V::Str(next)) if !next.is_empty() => parent = next,
                _ => break,
            }
        }
        Ok(found)
    }
}

/// `kind in (2, "SPAN_KIND_SERVER")`, by Python's equality (2.0 is 2, True is not).
fn is_server(kind: Option<V<'_>>) -> bool {
    match kind {
        Some(V::Int(kind)) => kind == 2,
        Some(V::Float(kind)) => kind == 2.0,
        Some(V::Str(kind)) => kind == SPAN_KIND_SERVER,
        _ => false,
    }
}

/// The span's attributes if it is a GenAI span (told by the keys alone), else None.
fn genai_attributes<'a>(span: V<'a>, arena: &'a Bump) -> R<Option<Attrs<'a>>> {
    let V::Obj(span) = span else {
        return Ok(None);
    };
    let Some(raw @ V::Arr(pairs)) = get(span, "attributes") else {
        return Ok(None);
    };
    let genai = pairs.iter().any(
        |pair| matches!(pair.get_member("key"), Some(V::Str(key)) if GENAI_KEYS.contains(&key)),
    );
    if !genai {
        return Ok(None);
    }
    Ok(Some(attributes(Some(raw), arena)?))
}

/// A KeyValue list as plain values.
fn attributes<'a>(raw: Option<V<'a>>, arena: &'a Bump) -> R<Attrs<'a>> {
    let Some(V::Arr(pairs)) = raw else {
        return Ok(&[]);
    };
    let mut attrs = bumpalo::collections::Vec::with_capacity_in(pairs.len(), arena);
    for pair in pairs {
        let V::Obj(pair) = *pair else { continue };
        let Some(V::Str(key)) = get(pair, "key") else {
            continue;
        };
        let value = get(pair, "value");
        let plain = match value {
            Some(V::Obj(inner)) => match get(inner, "stringValue") {
                Some(text @ V::Str(_)) => text,
                _ => any_value(value, 0, arena)?,
            },
            _ => any_value(value, 0, arena)?,
        };
        attrs.push((key, plain));
    }
    Ok(attrs.into_bump_slice())
}

/// An AnyValue as a plain value (Null where Python has None).
fn any_value<'a>(value: Option<V<'a>>, depth: usize, arena: &'a Bump) -> R<V<'a>> {
    let Some(V::Obj(fields)) = value else {
        return Ok(V::Null);
    };
    for (kind, inner) in walk(fields)? {
        let inner = *inner;
        match *kind {
            "stringValue" => {
                return Ok(if let V::Str(_) = inner {
                    inner
                } else {
                    V::Null
                })
            }
            "intValue" => return Ok(int64(Some(inner))?.map_or(V::Null, |int| V::Int(int as i128))),
            "doubleValue" => {
                return Ok(match inner {
                    V::Float(number) => V::Float(float(number)?),
                    _ => as_float(Some(inner))?.map_or(V::Null, V::Float),
                })
            }
            "boolValue" => {
                return Ok(if let V::Bool(_) = inner {
                    inner
                } else {
                    V::Null
                })
            }
            "arrayValue" | "kvlistValue" => {
                let Some(V::Arr(items)) = inner.get_member("values") else {
                    return Ok(V::Null);
                };
                if depth >= MAX_VALUE_DEPTH {
                    return Ok(V::Null);
                }
                if *kind == "arrayValue" {
                    let mut read = bumpalo::collections::Vec::with_capacity_in(items.len(), arena);
                    for item in items {
                        read.push(any_value(Some(*item), depth + 1, arena)?);
                    }
                    return Ok(V::Arr(read.into_bump_slice()));
                }
                let mut read = bumpalo::collections::Vec::with_capacity_in(items.len(), arena);
                for pair in items {
                    if let V::Obj(pair) = *pair {
                        if let Some(V::Str(key)) = get(pair, "key") {
                            read.push((key, any_value(get(pair, "value"), depth + 1, arena)?));
                        }
                    }
                }
                return Ok(V::Obj(read.into_bump_slice()));
            }
            _ => {}
        }
    }
    Ok(V::Null) // empty, or bytesValue only
}

/// An int64 as OTLP/JSON sends it: a decimal string, or a number.
fn int64(value: Option<V<'_>>) -> R<Option<i64>> {
    let number: i128 = match value {
        Some(V::Str(text)) => {
            if !text.is_ascii() {
                return bail(); // int(text): Unicode digits and spaces; its length in characters
            }
            if text.len() > 20 {
                return Ok(None);
            }
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return bail(); // int(text): whitespace, signs, underscores, Unicode digits
            }
            match text.parse::<i128>() {
                Ok(number) => number,
                Err(_) => return bail(),
            }
        }
        Some(V::Int(number)) => number,
        Some(V::Float(number)) => {
            let number = float(number)?;
            if number.fract() != 0.0 || !number.is_finite() {
                return Ok(None);
            }
            number as i128 // saturates far beyond int64: out of range below, as in Python
        }
        _ => return Ok(None),
    };
    Ok((i64::MIN as i128..=i64::MAX as i128)
        .contains(&number)
        .then_some(number as i64))
}

/// The value of the first of `keys` the attributes have (empty strings count as absent).
fn first<'a>(attrs: Attrs<'a>, keys: &[&str]) -> Option<V<'a>> {
    keys.iter().find_map(|key| match get(attrs, key) {
        None | Some(V::Null) | Some(V::Str("")) => None,
        found => found,
    })
}

fn search<'a>(scopes: &[Attrs<'a>], keys: &[&str]) -> Option<V<'a>> {
    scopes.iter().find_map(|attrs| first(attrs, keys))
}

fn event<'a>(
    span: Members<'a>,
    attrs: Attrs<'a>,
    resource: Option<V<'a>>,
    trace: &mut Trace<'_, 'a>,
    keys: &[&str],
    arena: &'a Bump,
) -> R<Fields<'a>> {
    let event_id: Cow<'a, str> = match (get(span, "traceId"), get(span, "spanId")) {
        (Some(V::Str(trace_id)), Some(V::Str(span_id)))
            if !trace_id.is_empty() && !span_id.is_empty() =>
        {
            let joined = format!("{trace_id}-{span_id}");
            if !crate::read::fits_id(&joined) {
                return bail();
            }
            Cow::Owned(joined)
        }
        _ => Cow::Borrowed(required_str(get(attrs, "gen_ai.response.id"))?),
    };
    let start = int64(get(span, "startTimeUnixNano"))?.filter(|start| *start != 0);
    // microseconds are exact in a double: one rounding, where nanoseconds would take two
    let timestamp = required_timestamp(start.map(|start| start.div_euclid(1000) as f64 / 1e6))?;
    let model = required_str(first(attrs, &MODEL_KEYS))?;
    let ancestors = trace.ancestors(span)?;
    let mut scopes = vec![attrs];
    scopes.extend(ancestors.iter().map(|(attrs, _)| *attrs));
    let mut account = search(&scopes, keys);
    if account.is_none() {
        account = first(attributes(resource, arena)?, keys);
    }
    let mut event = Fields::default();
    event.set(&k::SCHEMA_VERSION, Out::Int(1));
    event.set(&k::EVENT_ID, Out::Str(event_id));
    event.set(&k::TIMESTAMP, Out::Float(timestamp));
    event.set(
        &k::ACCOUNT_ID,
        Out::Str(Cow::Borrowed(required_str(account)?)),
    );
    event.set(&k::MODEL, Out::Str(Cow::Borrowed(model)));
    if let Some(V::Str(operation)) = get(attrs, "gen_ai.operation.name") {
        let endpoint = match operation {
            "chat" => "chat",
            "text_completion" => "completions",
            "embeddings" => "embeddings",
            _ => "other",
        };
        event.set(&k::ENDPOINT, Out::Str(Cow::Borrowed(endpoint)));
    }
    let conversation = as_id(get(attrs, "gen_ai.conversation.id"))?;
    event.set_opt(&k::CONVERSATION_ID, conversation.map(Out::Str));
    let mut address = search(&scopes, &CLIENT_ADDRESS_KEYS);
    let mut agent = search(&scopes, &USER_AGENT_KEYS);
    if address.is_none() || agent.is_none() {
        // an SDK exporting its own calls: its resource
        let on_resource = attributes(resource, arena)?;
        address = address.or_else(|| first(on_resource, &CLIENT_ADDRESS_KEYS));
        agent = agent.or_else(|| first(on_resource, &USER_AGENT_KEYS));
    }
    let mut client = Fields::default();
    client.set_opt(&k::IP, first_address(address)?.map(Out::Str));
    client.set_opt(&k::USER_AGENT, as_str(agent)?.map(Out::Str));
    event.nest(&k::CLIENT, client);
    event.nest(&k::REQUEST, request(attrs, span, arena)?);
    let mut response = Fields::default();
    let status = as_int(status(span, attrs, &ancestors))?;
    response.set_opt(&k::STATUS, status.map(Out::Int));
    let finish = match get(attrs, "gen_ai.response.finish_reasons") {
        Some(V::Arr(reasons)) => reasons.first().copied(),
        other => other,
    };
    response.set_opt(&k::FINISH_REASON, as_id(finish)?.map(Out::Str));
    let end = int64(get(span, "endTimeUnixNano"))?;
    if let (Some(start), Some(end)) = (start, end) {
        if end >= start {
            let latency = (end as i128 - start as i128) as f64 / 1e6;
            response.set(&k::LATENCY_MS, Out::Float(latency));
        }
    }
    event.nest(&k::RESPONSE, response);
    let mut usage = Fields::default();
    for (name, keys) in &TOKEN_KEYS {
        usage.set_opt(name, as_count(first(attrs, keys))?.map(Out::Int));
    }
    event.nest(&k::USAGE, usage);
    Ok(event)
}

fn request<'a>(attrs: Attrs<'a>, span: Members<'a>, arena: &'a Bump) -> R<Fields<'a>> {
    let mut request = Fields::default();
    let (turns, system) = conversation(attrs, span, arena)?;
    request.set_opt(&k::SYSTEM, system.map(Out::Str));
    request.set_opt(&k::MESSAGES, turns.map(Out::List));
    let read = |key| get(attrs, key).filter(|value| !value.is_null());
    if let Some(value) = read("gen_ai.request.temperature") {
        request.set_opt(&k::TEMPERATURE, as_float(Some(value))?.map(Out::Float));
    }
    if let Some(value) = read("gen_ai.request.top_p") {
        request.set_opt(&k::TOP_P, as_float(Some(value))?.map(Out::Float));
    }
    if let Some(value) = read("gen_ai.request.max_tokens") {
        request.set_opt(&k::MAX_TOKENS, as_count(Some(value))?.map(Out::Int));
    }
    if let Some(value) = read("gen_ai.request.choice.count") {
        request.set_opt(&k::N, as_count(Some(value))?.map(Out::Int));
    }
    if let Some(value) = read("gen_ai.request.stop_sequences") {
        request.set_opt(&k::STOP, string_list(Some(value)).map(Out::List));
    }
    if let Some(value) = read("gen_ai.request.stream") {
        request.set_opt(&k::STREAM, as_bool(Some(value))?.map(Out::Bool));
    }
    if let Some(value) = read("gen_ai.tool.definitions") {
        if let V::Arr(tools) = structured(value, arena)? {
            request.set(&k::TOOLS, Out::Int(tools.len() as i64));
        }
    }
    request.set_opt(&k::SEED, as_int(first(attrs, &SEED_KEYS))?.map(Out::Int));
    Ok(request)
}

/// The HTTP status the client got: the server span's, else the GenAI span's own.
fn status<'a>(
    span: Members<'a>,
    attrs: Attrs<'a>,
    ancestors: &[(Attrs<'a>, bool)],
) -> Option<V<'a>> {
    if !is_server(get(span, "kind")) {
        for (ancestor, server) in ancestors {
            if *server {
                if let Some(status) = first(ancestor, &STATUS_KEYS) {
                    return Some(status);
                }
            }
        }
    }
    first(attrs, &STATUS_KEYS)
}

/// A content attribute as structure: a JSON string parsed (orjson's verdict counts where
/// the parser refuses it).
fn structured<'a>(value: V<'a>, arena: &'a Bump) -> R<V<'a>> {
    match value {
        V::Str(text) if text.starts_with('[') || text.starts_with('{') => {
            match parse_str(text, arena) {
                Some(parsed) => Ok(parsed),
                None => bail(),
            }
        }
        other => Ok(other),
    }
}

type Turns<'a> = Option<Vec<Out<'a>>>;

/// (chat turns, system prompt) from the first form the span uses: `gen_ai.input.messages`,
/// the deprecated per-message span events, or OpenLLMetry's indexed attributes.
fn conversation<'a>(
    attrs: Attrs<'a>,
    span: Members<'a>,
    arena: &'a Bump,
) -> R<(Turns<'a>, Option<Cow<'a, str>>)> {
    let mut system: Vec<Cow<'a, str>> = Vec::new();
    if let Some(instructions) = get(attrs, "gen_ai.system_instructions") {
        match structured(instructions, arena)? {
            V::Str(text) => system.push(Cow::Borrowed(text)), // plain text, even empty
            V::Arr(parts) => {
                if let Some(text) = parts_text(parts) {
                    system.push(text);
                }
            }
            _ => {}
        }
    }
    let raw = match get(attrs, "gen_ai.input.messages") {
        Some(value) => structured(value, arena)?,
        None => V::Null,
    };
    let mut listed: Vec<(&'a str, Option<Cow<'a, str>>)> = Vec::new();
    if let V::Arr(messages) = raw {
        for message in messages {
            if let V::Obj(message) = *message {
                if let Some(V::Str(role)) = get(message, "role") {
                    listed.push((role, message_text(message)));
                }
            }
        }
    } else {
        let from_events = event_messages(get(span, "events"), arena)?;
        listed = match from_events {
            Some(from_events) => from_events,
            None => indexed_messages(attrs),
        };
    }
    let turns = split_messages(listed.into_iter(), &mut system);
    Ok(((!turns.is_empty()).then_some(turns), system_text(system)))
}

/// A GenAI message's text: its text parts (current), or its `content` (older forms).
fn message_text<'a>(message: Members<'a>) -> Option<Cow<'a, str>> {
    match get(message, "parts") {
        Some(V::Arr(parts)) => parts_text(parts),
        _ => content_text(get(message, "content")),
    }
}

/// The text parts of a GenAI message (`{"type": "text", "content": ...}`).
fn parts_text<'a>(parts: &'a [V<'a>]) -> Option<Cow<'a, str>> {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|part| {
            let V::Obj(part) = *part else { return None };
            let is_text = match get(part, "type") {
                None => true,
                Some(kind) => kind.as_str() == Some("text"),
            };
            if !is_text {
                return None;
            }
            get(part, "content").and_then(V::as_str)
        })
        .collect();
    join(texts)
}

type Listed<'a> = Vec<(&'a str, Option<Cow<'a, str>>)>;

/// Messages from the deprecated span events (None when there are none).
fn event_messages<'a>(events: Option<V<'a>>, arena: &'a Bump) -> R<Option<Listed<'a>>> {
    let Some(V::Arr(events)) = events else {
        return Ok(None);
    };
    let mut listed = Vec::new();
    for event in events {
        let V::Obj(event) = *event else { continue };
        let Some(V::Str(name)) = get(event, "name") else {
            continue;
        };
        let Some((_, role)) = EVENT_ROLES
            .iter()
            .find(|(event_name, _)| *event_name == name)
        else {
            continue;
        };
        let attrs = attributes(get(event, "attributes"), arena)?;
        let role = match get(attrs, "role") {
            Some(V::Str(given)) => given,
            _ => role,
        };
        listed.push((role, content_text(get(attrs, "content"))));
    }
    Ok((!listed.is_empty()).then_some(listed))
}

/// OpenLLMetry's `gen_ai.prompt.<i>.role` / `.content` attributes, in index order.
fn indexed_messages<'a>(attrs: Attrs<'a>) -> Listed<'a> {
    let mut listed = Vec::new();
    let present = |key: &str| attrs.iter().any(|(name, _)| *name == key);
    if !present("gen_ai.prompt.0.role") && !present("gen_ai.prompt.0.content") {
        return listed;
    }
    for index in 0..MAX_INDEXED_MESSAGES {
        let role = get(attrs, &format!("gen_ai.prompt.{index}.role")).filter(|v| !v.is_null());
        let content =
            get(attrs, &format!("gen_ai.prompt.{index}.content")).filter(|v| !v.is_null());
        if role.is_none() && content.is_none() {
            break;
        }
        let role = match role {
            None => "user",
            Some(V::Str(role)) => role,
            Some(_) => continue, // not a string: split_messages skips it
        };
        listed.push((role, content_text(content)));
    }
    listed
}
