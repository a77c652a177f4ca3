//! LiteLLM proxy logs (`StandardLoggingPayload`) to v1 events: the compiled twin of
//! detectors/adapters/litellm.py (the mapping is documented there and in docs/adapters.md).

use std::borrow::Cow;

use crate::keys as k;
use crate::read::{
    as_count, as_float, as_id, as_int, as_str, bail, content_text, first_address, mapping,
    openai_parameter, or, required_str, required_timestamp, string_list, system_text, truthy, walk,
    Fields, Out, R, REDACTED, SYSTEM_ROLES,
};
use crate::value::{get, Members, V};

// The API by a word of LiteLLM's call type (`acompletion`, `litellm.atext_completion`, ...),
// the longer words first
const ENDPOINTS: [(&str, &str); 5] = [
    ("text_completion", "completions"),
    ("embedding", "embeddings"),
    ("anthropic_messages", "messages"),
    ("responses", "responses"),
    ("completion", "chat"),
];

/// One logged call's event, or Bail when any part of it is for the Python adapter.
pub fn event<'a>(record: V<'a>, account_keys: &[String]) -> R<Fields<'a>> {
    let V::Obj(record) = record else {
        return bail();
    };
    let metadata = mapping(get(record, "metadata"));
    let event_id = required_str(or(get(record, "litellm_call_id"), get(record, "id")))?;
    let start = required_timestamp(as_float(get(record, "startTime"))?)?;
    let account = account_keys
        .iter()
        .find_map(|key| get(metadata, key).filter(|value| truthy(*value)));
    let mut event = Fields::default();
    event.set(&k::SCHEMA_VERSION, Out::Int(1));
    event.set(&k::EVENT_ID, Out::Str(Cow::Borrowed(event_id)));
    event.set(&k::TIMESTAMP, Out::Float(start));
    event.set(
        &k::ACCOUNT_ID,
        Out::Str(Cow::Borrowed(required_str(account)?)),
    );
    event.set_opt(
        &k::ORG_ID,
        as_id(get(metadata, "user_api_key_org_id"))?.map(Out::Str),
    );
    event.set_opt(
        &k::API_KEY_ID,
        as_id(get(metadata, "user_api_key_hash"))?.map(Out::Str),
    );
    let model = required_str(or(get(record, "model_group"), get(record, "model")))?;
    event.set(&k::MODEL, Out::Str(Cow::Borrowed(model)));
    if let Some(V::Str(call_type)) = get(record, "call_type") {
        let endpoint = ENDPOINTS
            .iter()
            .find(|(word, _)| call_type.contains(word))
            .map_or("other", |(_, endpoint)| endpoint);
        event.set(&k::ENDPOINT, Out::Str(Cow::Borrowed(endpoint)));
    }
    let mut client = Fields::default();
    let ip = or(
        get(record, "requester_ip_address"),
        get(metadata, "requester_ip_address"),
    );
    client.set_opt(&k::IP, first_address(ip)?.map(Out::Str));
    let requester = get(metadata, "requester_metadata");
    let agent = or(
        or(get(record, "user_agent"), get(metadata, "user_agent")),
        get(mapping(requester), "user_agent"),
    );
    client.set_opt(&k::USER_AGENT, as_str(agent)?.map(Out::Str));
    event.nest(&k::CLIENT, client);
    event.nest(
        &k::REQUEST,
        request(
            mapping(get(record, "model_parameters")),
            get(record, "messages"),
        )?,
    );
    let mut response = Fields::default();
    if get(record, "status").and_then(V::as_str) == Some("failure") {
        let code = match get(record, "error_information") {
            Some(V::Obj(error)) => as_int(get(error, "error_code"))?,
            _ => None,
        };
        response.set_opt(&k::STATUS, code.filter(|code| *code != 0).map(Out::Int));
    } else {
        response.set(&k::STATUS, Out::Int(200));
    }
    response.set_opt(
        &k::FINISH_REASON,
        as_id(finish_reason(get(record, "response")))?.map(Out::Str),
    );
    if let Some(end) = as_float(get(record, "endTime"))? {
        if end >= start {
            response.set(&k::LATENCY_MS, Out::Float((end - start) * 1000.0));
        }
    }
    event.nest(&k::RESPONSE, response);
    let mut usage = Fields::default();
    usage.set_opt(
        &k::INPUT_TOKENS,
        as_count(get(record, "prompt_tokens"))?.map(Out::Int),
    );
    usage.set_opt(
        &k::OUTPUT_TOKENS,
        as_count(get(record, "completion_tokens"))?.map(Out::Int),
    );
    event.nest(&k::USAGE, usage);
    Ok(event)
}

type Conversation<'a> = (Option<Vec<Out<'a>>>, Option<Cow<'a, str>>, Option<&'a str>);

/// (chat turns, system prompt, completions prompt) from LiteLLM's `messages`: a list of chat
/// messages, a prompt string, or the redaction string when message logging is off.
fn conversation(value: Option<V<'_>>) -> Conversation<'_> {
    let messages = match value {
        Some(V::Str(REDACTED)) => return (None, None, None),
        Some(V::Str(text)) => return (None, None, Some(text)),
        Some(V::Arr(messages)) => messages,
        _ => return (None, None, None),
    };
    let mut turns = Vec::new();
    let mut system = Vec::new();
    for message in messages {
        let V::Obj(message) = *message else { continue };
        let text = content_text(get(message, "content"));
        let (Some(V::Str(role)), Some(text)) = (get(message, "role"), text) else {
            continue; // a message without text is left out
        };
        if text == REDACTED {
            continue;
        }
        if SYSTEM_ROLES.contains(&role) {
            system.push(text);
        } else {
            turns.push(Out::Dict(vec![
                (&k::ROLE, Out::Str(Cow::Borrowed(role))),
                (&k::CONTENT, Out::Str(text)),
            ]));
        }
    }
    (
        (!turns.is_empty()).then_some(turns),
        system_text(system),
        None,
    )
}

fn request<'a>(params: Members<'a>, messages: Option<V<'a>>) -> R<Fields<'a>> {
    let mut request = Fields::default();
    let (turns, system, prompt) = conversation(messages);
    request.set_opt(&k::SYSTEM, system.map(Out::Str));
    request.set_opt(&k::MESSAGES, turns.map(Out::List));
    request.set_opt(
        &k::PROMPT,
        prompt.map(|prompt| Out::Str(Cow::Borrowed(prompt))),
    );
    if params.is_empty() {
        return Ok(request);
    }
    for (name, value) in walk(params)? {
        let value = *value;
        if value.is_null() {
            continue;
        }
        match *name {
            "stop" => request.set_opt(&k::STOP, string_list(Some(value)).map(Out::List)),
            "tools" => {
                if let V::Arr(tools) = value {
                    request.set(&k::TOOLS, Out::Int(tools.len() as i64));
                }
            }
            name => {
                if let Some((key, read)) = openai_parameter(name, value)? {
                    request.set(key, read);
                }
            }
        }
    }
    // the newer name first; null is not given
    let limit = match get(params, "max_completion_tokens") {
        None | Some(V::Null) => get(params, "max_tokens"),
        given => given,
    };
    if limit.is_some_and(|limit| !limit.is_null()) {
        request.set_opt(&k::MAX_TOKENS, as_count(limit)?.map(Out::Int));
    }
    Ok(request)
}

fn finish_reason(response: Option<V<'_>>) -> Option<V<'_>> {
    match response?.get_member("choices") {
        Some(V::Arr(choices)) => match choices.first() {
            Some(V::Obj(choice)) => get(choice, "finish_reason"),
            _ => None,
        },
        _ => None,
    }
}
