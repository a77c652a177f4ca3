//! The v1 schema's field names, each made a Python string once: a mapped event's dicts reuse
//! them (interned, their hash kept) instead of building and hashing a new key every time.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

pub struct Key {
    pub name: &'static str,
    interned: PyOnceLock<Py<PyString>>,
}

impl Key {
    const fn new(name: &'static str) -> Key {
        Key {
            name,
            interned: PyOnceLock::new(),
        }
    }

    pub fn to_py<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        self.interned
            .get_or_init(py, || PyString::intern(py, self.name).unbind())
            .bind(py)
    }
}

macro_rules! keys {

    ($($key:ident = $name:literal),* $(,)?) => {
        $(pub static $key: Key = Key::new($name);)*
    };
}

keys! {
    SCHEMA_VERSION = "schema_version",
    EVENT_ID = "event_id",
    TIMESTAMP = "timestamp",
    ACCOUNT_ID = "account_id",
    ORG_ID = "org_id",
    API_KEY_ID = "api_key_id",
    MODEL = "model",
    ENDPOINT = "endpoint",
    CONVERSATION_ID = "conversation_id",
    CLIENT = "client",
    IP = "ip",
    USER_AGENT = "user_agent",
    REQUEST = "request",
    SYSTEM = "system",
    MESSAGES = "messages",
    ROLE = "role",
    CONTENT = "content",
    PROMPT = "prompt",
    TEMPERATURE = "temperature",
    TOP_P = "top_p",
    MAX_TOKENS = "max_tokens",
    N = "n",
    LOGPROBS = "logprobs",
    TOP_LOGPROBS = "top_logprobs",
    LOGIT_BIAS = "logit_bias",
    SEED = "seed",
    STOP = "stop",
    STREAM = "stream",
    TOOLS = "tools",
    RESPONSE = "response",
    STATUS = "status",
    FINISH_REASON = "finish_reason",
    LATENCY_MS = "latency_ms",
    USAGE = "usage",
    INPUT_TOKENS = "input_tokens",
    OUTPUT_TOKENS = "output_tokens",
    REASONING_TOKENS = "reasoning_tokens",
}
