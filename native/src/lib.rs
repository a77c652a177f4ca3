//! distillwatch_native: the compiled fast path of distillwatch's gateway-log adapters (LiteLLM
//! logs, Kong log entries, OTLP/JSON GenAI spans).
//!
//! The Python adapters in detectors/adapters are the definition; each mapper here gives the
//! same events for the payloads gateways send every day, several times faster, and hands
//! everything else back (`map` returns None): a record that fails, a value read by a lenient
//! rule this code does not repeat, JSON its parser refuses. The caller then maps the payload
//! with the Python adapter, so the output never differs (tests/unit/test_native_adapters.py
//! checks that on fixtures and fuzzed payloads).

use pyo3::prelude::*;
use pyo3::types::PyList;
use std::cell::RefCell;

use bumpalo::Bump;

mod keys;
mod kong;
mod litellm;
mod otlp;
mod read;
mod value;

use read::{to_py, Fields, Out, Stop, R};
use value::V;

/// The records of a payload: a JSON array's items, or the one object (NDJSON and anything
/// that does not parse are the Python adapter's).
fn records<'a>(payload: &'a [u8], arena: &'a Bump) -> R<&'a [V<'a>]> {
    match value::parse(payload, arena) {
        Some(V::Arr(items)) => Ok(items),
        Some(record) => Ok(arena.alloc_slice_copy(&[record])),
        None => Err(Stop::Bail),
    }
}

thread_local! {
    // The arena payloads are parsed into, kept between calls (reset, not freed): a payload
    // then costs no allocation from the system but its Python objects
    static ARENA: RefCell<Bump> = RefCell::new(Bump::new());
}
const ARENA_KEPT_BYTES: usize = 1 << 20; // a larger one (a big batch) is freed after use

/// `map` with the thread's arena (a fresh one if it is in use: a finalizer that ran during
/// the mapping and maps a payload itself).
fn with_arena<T>(map: impl FnOnce(&Bump) -> T) -> T {
    ARENA.with(|cell| match cell.try_borrow_mut() {
        Ok(mut arena) => {
            let result = map(&arena);
            if arena.allocated_bytes() > ARENA_KEPT_BYTES {
                *arena = Bump::new();
            } else {
                arena.reset();
            }
            result
        }
        Err(_) => map(&Bump::new()),
    })
}

/// Each record of a payload mapped by `event`, as a Python list of event dicts; None (the
/// payload is the Python adapter's) if one record is not taken on.
fn map_records<'py>(
    py: Python<'py>,
    payload: &[u8],
    event: impl for<'a> Fn(V<'a>, &'a Bump) -> R<Fields<'a>>,
) -> PyResult<Option<Bound<'py, PyList>>> {
    finish(with_arena(|arena| {
        let events = PyList::empty(py);
        for record in records(payload, arena)? {
            events.append(to_py(py, &Out::Dict(event(*record, arena)?.0))?)?;
        }
        Ok(events)
    }))
}

fn finish<'py>(result: R<Bound<'py, PyList>>) -> PyResult<Option<Bound<'py, PyList>>> {
    match result {
        Ok(events) => Ok(Some(events)),
        Err(Stop::Bail) => Ok(None),
        Err(Stop::Py(error)) => Err(error),
    }
}

/// Kong log entries (a kafka-log message, an http-log batch) to v1 events.
#[pyclass(frozen, module = "distillwatch_native")]
struct KongMapper {
    paths: Vec<Vec<String>>, // the account fields, split at dots
}

#[pymethods]
impl KongMapper {
    #[new]
    fn new(account_fields: Vec<String>) -> Self {
        let paths = account_fields
            .iter()
            .map(|field| field.split('.').map(str::to_owned).collect())
            .collect();
        KongMapper { paths }
    }

    /// The payload's events, or None when the Python adapter must map it.
    fn map<'py>(&self, py: Python<'py>, payload: &[u8]) -> PyResult<Option<Bound<'py, PyList>>> {
        map_records(py, payload, |record, arena| {
            kong::event(record, &self.paths, arena)
        })
    }
}

/// LiteLLM `StandardLoggingPayload`s (a generic_api batch, one object) to v1 events.
#[pyclass(frozen, module = "distillwatch_native")]
struct LiteLlmMapper {
    account_keys: Vec<String>, // metadata keys, the first present is the account
}

#[pymethods]
impl LiteLlmMapper {
    #[new]
    fn new(account_keys: Vec<String>) -> Self {
        LiteLlmMapper { account_keys }
    }

    /// The payload's events, or None when the Python adapter must map it.
    fn map<'py>(&self, py: Python<'py>, payload: &[u8]) -> PyResult<Option<Bound<'py, PyList>>> {
        map_records(py, payload, |record, _| {
            litellm::event(record, &self.account_keys)
        })
    }
}

/// OTLP/JSON trace exports (a Collector's Kafka message, an OTLP/HTTP body) to v1 events.
#[pyclass(frozen, module = "distillwatch_native")]
struct OtlpMapper {
    account_keys: Vec<String>,
}

#[pymethods]
impl OtlpMapper {
    #[new]
    fn new(account_keys: Vec<String>) -> Self {
        OtlpMapper { account_keys }
    }

    /// The export's events, or None when the Python adapter must map it.
    fn map<'py>(&self, py: Python<'py>, payload: &[u8]) -> PyResult<Option<Bound<'py, PyList>>> {
        finish(with_arena(|arena| {
            let request = value::parse(payload, arena).ok_or(Stop::Bail)?;
            let events = PyList::empty(py);
            for event in otlp::events(request, &self.account_keys, arena)? {
                events.append(to_py(py, &Out::Dict(event.0))?)?;
            }
            Ok(events)
        }))
    }
}

#[pymodule]
fn distillwatch_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<KongMapper>()?;
    module.add_class::<OtlpMapper>()?;
    module.add_class::<LiteLlmMapper>()?;
    Ok(())
}
