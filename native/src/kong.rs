//! Kong AI Gateway log entries to v1 events: the compiled twin of detectors/adapters/kong.py
//! (the field mapping and its reasons are documented there and in docs/adapters.md).

use std::borrow::Cow;

use bumpalo::Bump;

use crate::keys::{self as k, Key};
use crate::read::{
    as_count, as_float, as_id, as_int, as_str, bail, content_text, first_address, mapping, or,
    present, read_openai_parameters, required_str, required_timestamp, split_messages, string_list,
    system_text, truthy, Fields, Out, R,
};
use crate::value::{get, parse_str, Members, V};

const REQUEST_ID_HEADERS: [(&str, &str); 4] = [
    ("response", "x-kong-request-id"),
    ("request", "x-kong-request-id"),
    ("request", "kong-request-id"),
    ("request", "x-request-id"),
];
const AI_SECTIONS: [&str; 3] = ["proxy", "ai-proxy", "ai-proxy-advanced"];
const UNSPECIFIED: &str = "UNSPECIFIED";
const PATH_ENDPOINTS: [(&str, &str); 5] = [
    ("/chat/completions", "chat"),
    ("/completions", "completions"),
    ("/embeddings", "embeddings"),
    ("/messages", "messages"),
    ("/responses", "responses"),
];
type TokenField = (&'static Key, [&'static str; 2], [&'static str; 2]);
static TOKEN_FIELDS: [TokenField; 2] = [
    (
        &k::INPUT_TOKENS,
        ["prompt_tokens", "prompt_token"],
        ["prompt_tokens", "input_tokens"],
    ),
    (
        &k::OUTPUT_TOKENS,
        ["completion_tokens", "completion_token"],
        ["completion_tokens", "output_tokens"],
    ),
];

/// One entry's event, or Bail when any part of it is for the Python adapter.
pub fn event<'a>(record: V<'a>, paths: &[Vec<String>], arena: &'a Bump) -> R<Fields<'a>> {
    let V::Obj(record) = record else {
        return bail();
    };
    let ai = mapping(get(record, "ai"));
    let Some(section) = ai_section(ai)? else {
        return bail();
    };
    let request = mapping(get(record, "request"));
    let event_id = required_str(or(get(request, "id"), request_id_header(record)))?;
    let started_ms = as_float(get(record, "started_at"))?;
    let timestamp = required_timestamp(started_ms.map(|ms| ms / 1000.0))?;
    let account = account(record, paths)?;
    let meta = mapping(get(section, "meta"));
    let logged = mapping(get(section, "payload"));
    let shared = mapping(get(ai, "payload")); // Kong 3.6 and 3.7 log the request body here
    let body = json_object(or(get(logged, "request"), get(shared, "request")), arena)?;
    let answer = json_object(or(get(logged, "response"), get(shared, "response")), arena)?;
    let mut model = get(meta, "request_model");
    if !model.is_some_and(truthy) || model.and_then(V::as_str) == Some(UNSPECIFIED) {
        model = or(get(body, "model"), get(meta, "response_model"));
    }
    let mut event = Fields::default();
    event.set(&k::SCHEMA_VERSION, Out::Int(1));
    event.set(&k::EVENT_ID, Out::Str(Cow::Borrowed(event_id)));
    event.set(&k::TIMESTAMP, Out::Float(timestamp));
    event.set(&k::ACCOUNT_ID, Out::Str(Cow::Borrowed(account)));
    event.set(&k::MODEL, Out::Str(Cow::Borrowed(required_str(model)?)));
    let api_key = as_id(get(mapping(get(record, "authenticated_entity")), "id"))?;
    event.set_opt(&k::API_KEY_ID, api_key.map(Out::Str));
    let endpoint = endpoint(get(request, "uri"), body);
    event.set_opt(
        &k::ENDPOINT,
        endpoint.map(|name| Out::Str(Cow::Borrowed(name))),
    );
    let mut client = Fields::default();
    client.set_opt(
        &k::IP,
        first_address(get(record, "client_ip"))?.map(Out::Str),
    );
    if let Some(V::Obj(headers)) = get(request, "headers") {
        client.set_opt(
            &k::USER_AGENT,
            as_str(header(headers, "user-agent"))?.map(Out::Str),
        );
    }
    event.nest(&k::CLIENT, client);
    if !body.is_empty() {
        event.nest(&k::REQUEST, request_fields(body, endpoint)?);
    }
    let mut response = Fields::default();
    let status = as_int(get(mapping(get(record, "response")), "status"))?;
    response.set_opt(&k::STATUS, status.map(Out::Int));
    response.set_opt(
        &k::FINISH_REASON,
        as_id(finish_reason(answer))?.map(Out::Str),
    );
    let mut latency = as_float(get(mapping(get(record, "latencies")), "request"))?;
    if latency.is_none() {
        latency = as_float(get(meta, "llm_latency"))?;
    }
    response.set_opt(&k::LATENCY_MS, latency.map(Out::Float));
    event.nest(&k::RESPONSE, response);
    let usage = usage(
        mapping(get(section, "usage")),
        mapping(get(answer, "usage")),
    )?;
    event.nest(&k::USAGE, usage);
    Ok(event)
}

/// The AI proxy's statistics: `ai.proxy`, else the one keyed by the plugin's name.
fn ai_section(ai: Members<'_>) -> R<Option<Members<'_>>> {
    for name in AI_SECTIONS {
        if let Some(V::Obj(section)) = get(ai, name) {
            if let Some(V::Obj(_)) = get(section, "meta") {
                return Ok(Some(section));
            }
        }
    }
    // another plugin name (a custom or newer AI proxy plugin), in the dict's order
    for (_, section) in crate::read::walk(ai)? {
        if let V::Obj(section) = *section {
            if let Some(V::Str(_)) = get(mapping(get(section, "meta")), "request_model") {
                return Ok(Some(section));
            }
        }
    }
    Ok(None)
}

fn account<'a>(record: Members<'a>, paths: &[Vec<String>]) -> R<&'a str> {
    for path in paths {
        let mut value: Option<V<'a>> = None;
        let mut level = record;
        for (depth, key) in path.iter().enumerate() {
            value = get(level, key);
            if depth + 1 < path.len() {
                level = mapping(value);
            }
        }
        match value {
            None | Some(V::Null) | Some(V::Str("")) => continue,
            found => return required_str(found),
        }
    }
    bail() // none present: Python's rejection
}

fn first<'a>(obj: Members<'a>, keys: &[&str]) -> Option<V<'a>> {
    keys.iter().find_map(|key| present(get(obj, key)))
}

/// A header's value; Kong logs a repeated header as a list of its values.
fn header<'a>(headers: Members<'a>, name: &str) -> Option<V<'a>> {
    match get(headers, name) {
        Some(V::Arr(values)) => values.first().copied(),
        other => other,
    }
}

fn request_id_header<'a>(record: Members<'a>) -> Option<V<'a>> {
    for (place, name) in REQUEST_ID_HEADERS {
        let value = header(mapping(get(mapping(get(record, place)), "headers")), name);
        if value.is_some_and(truthy) {
            return value;
        }
    }
    None
}

/// A logged body's members: an object, or the raw body as a JSON string (a streamed
/// response is server-sent events, not JSON: it reads as nothing).
fn json_object<'a>(value: Option<V<'a>>, arena: &'a Bump) -> R<Members<'a>> {
    match value {
        Some(V::Obj(members)) => Ok(members),
        Some(V::Str(text)) if text.starts_with('{') => match parse_str(text, arena) {
            Some(parsed) => Ok(mapping(Some(parsed))),
            None => bail(), // orjson's verdict is the one that counts
        },
        _ => Ok(&[]),
    }
}

fn endpoint(uri: Option<V<'_>>, body: Members<'_>) -> Option<&'static str> {
    if let Some(V::Str(uri)) = uri {
        let path = uri.split('?').next().unwrap_or("").trim_end_matches('/');
        for (suffix, endpoint) in PATH_ENDPOINTS {
            if path.ends_with(suffix) {
                return Some(endpoint);
            }
        }
    }
    // A route with its own path (Kong's route type decides the API): the body's shape tells
    if get(body, "messages").is_some() {
        return Some("chat");
    }
    if get(body, "prompt").is_some() {
        return Some("completions");
    }
    None
}

/// (chat turns, system texts) of an OpenAI- or Anthropic-format message list.
fn messages(value: Option<V<'_>>) -> (Option<Vec<Out<'_>>>, Vec<Cow<'_, str>>) {
    let Some(V::Arr(raw)) = value else {
        return (None, Vec::new());
    };
    let mut system = Vec::new();
    let turns = split_messages(
        raw.iter().filter_map(|message| {
            let V::Obj(message) = *message else {
                return None;
            };
            let role = get(message, "role")?.as_str()?;
            Some((role, content_text(get(message, "content"))))
        }),
        &mut system,
    );
    ((!turns.is_empty()).then_some(turns), system)
}

fn request_fields<'a>(body: Members<'a>, endpoint: Option<&str>) -> R<Fields<'a>> {
    let (mut turns, system) = messages(get(body, "messages"));
    let mut system_prompt = system_text(system);
    match get(body, "input") {
        Some(given @ V::Arr(_)) if endpoint == Some("responses") => {
            let (given_turns, given_system) = messages(Some(given));
            turns = given_turns;
            system_prompt = system_text(given_system);
        }
        Some(V::Str(given)) if endpoint == Some("responses") => {
            turns = Some(vec![Out::Dict(vec![
                (&k::ROLE, Out::Str(Cow::Borrowed("user"))),
                (&k::CONTENT, Out::Str(Cow::Borrowed(given))),
            ])]);
        }
        _ => {}
    }
    for extra in [get(body, "system"), get(body, "instructions")] {
        let Some(text) = content_text(present(extra)).filter(|text| !text.is_empty()) else {
            continue;
        };
        system_prompt = Some(match system_prompt {
            Some(before) => Cow::Owned(format!("{before}\n{text}")),
            None => text,
        });
    }
    let mut request = Fields::default();
    request.set_opt(&k::SYSTEM, system_prompt.map(Out::Str));
    request.set_opt(&k::MESSAGES, turns.map(Out::List));
    let prompt = match get(body, "prompt") {
        Some(V::Arr(parts)) => {
            let joined = parts
                .iter()
                .filter_map(|part| part.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            (!joined.is_empty()).then_some(Cow::Owned(joined))
        }
        Some(V::Str(prompt)) => Some(Cow::Borrowed(prompt)),
        _ => None,
    };
    request.set_opt(&k::PROMPT, prompt.map(Out::Str));
    read_openai_parameters(body, &mut request)?;
    if let Some(limit) = first(
        body,
        &["max_completion_tokens", "max_tokens", "max_output_tokens"],
    ) {
        request.set_opt(&k::MAX_TOKENS, as_count(Some(limit))?.map(Out::Int));
    }
    if let Some(stop) = first(body, &["stop", "stop_sequences"]) {
        request.set_opt(&k::STOP, string_list(Some(stop)).map(Out::List));
    }
    let tools = get(body, "tools").or_else(|| get(body, "functions"));
    if let Some(V::Arr(tools)) = tools {
        request.set(&k::TOOLS, Out::Int(tools.len() as i64));
    }
    Ok(request)
}

fn finish_reason<'a>(answer: Members<'a>) -> Option<V<'a>> {
    match get(answer, "choices") {
        Some(V::Arr(choices)) if !choices.is_empty() => {
            get(mapping(choices.first().copied()), "finish_reason")
        }
        _ => get(answer, "stop_reason"), // an Anthropic-format response
    }
}

/// Kong's statistics first (3.6 spells them in the singular), else the logged response's.
fn usage<'a>(stats: Members<'a>, logged: Members<'a>) -> R<Fields<'a>> {
    let mut usage = Fields::default();
    for (name, stat_keys, logged_keys) in &TOKEN_FIELDS {
        let value = first(stats, stat_keys).or_else(|| first(logged, logged_keys));
        if value.is_some() {
            usage.set_opt(name, as_count(value)?.map(Out::Int));
        }
    }
    let details = |source| {
        present(get(
            mapping(get(source, "completion_tokens_details")),
            "reasoning_tokens",
        ))
    };
    let value = details(stats).or_else(|| details(logged));
    if value.is_some() {
        usage.set_opt(&k::REASONING_TOKENS, as_count(value)?.map(Out::Int));
    }
    Ok(usage)
}
