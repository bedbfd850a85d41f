//! What bosun holds for a call outside the plugin's linear memory: the
//! resource table's entries (wasi:http fields, requests, bodies and their
//! buffers, streams, pollables) and the call's own records. It counts against
//! the call's memory cap like linear memory does, so a plugin cannot make the
//! host allocate for it without limit (`fields` created in a loop and kept).
//!
//! Hard limits bound each kind of entry (fields size, body buffer, table
//! size); the total is measured on every epoch tick, a cheap walk over a
//! table of at most [`MAX_RESOURCES`] entries.

use wasmtime::component::ResourceTable;
use wasmtime_wasi_http::FieldMap;
use wasmtime_wasi_http::p2::types::{HostIncomingResponse, HostOutgoingRequest, HostOutgoingResponse};
use wasmtime_wasi_http::p2::bindings::http::types::Method;

/// Live resources one call may hold. A request takes about a dozen, dropped
/// when it is done; a plugin needing a thousand at once is hoarding.
pub const MAX_RESOURCES: usize = 1000;

/// The most one `fields` may hold (wasmtime's own accounting: names and
/// values plus their in-memory headers). Servers refuse requests with more
/// than 8–32 KiB of headers anyway.
pub const FIELDS_BYTES: usize = 64 * 1024;

/// One write to an outgoing body, and how many such writes it buffers before
/// the guest must wait for them to be sent.
pub const BODY_CHUNK: usize = 64 * 1024;
pub const BODY_BUFFERED_CHUNKS: usize = 1;

/// The most random bytes one wasi:random call may ask for.
pub const RANDOM_BYTES: u64 = 64 * 1024;

/// What one record of a call (a log line, a held-back call, an event or one
/// of its facts) costs besides its text.
pub const RECORD_BYTES: usize = 64;

/// What a table entry costs besides its contents (the table slot, the boxed
/// value, its allocation headers), rounded up.
const ENTRY_BYTES: usize = 512;
/// An outgoing body's buffer, charged to the request (or response) it
/// belongs to; the channel keeps one chunk more than it buffers.
const BODY_BYTES: usize = (BODY_BUFFERED_CHUNKS + 1) * BODY_CHUNK;

/// How many entries the table holds and roughly how many bytes they hold.
pub fn table_bytes(table: &mut ResourceTable) -> (usize, usize) {
    let mut entries = 0;
    let mut bytes = 0;
    for entry in table.iter_mut() {
        entries += 1;
        bytes += ENTRY_BYTES + contents(entry);
    }
    (entries, bytes)
}

fn contents(entry: &mut (dyn std::any::Any + Send)) -> usize {
    let entry: &dyn std::any::Any = entry;
    if let Some(fields) = entry.downcast_ref::<FieldMap>() {
        return fields_bytes(fields);
    }
    if let Some(request) = entry.downcast_ref::<HostOutgoingRequest>() {
        let method = match &request.method {
            Method::Other(name) => name.len(),
            _ => 0,
        };
        let strings = method + request.authority.as_ref().map_or(0, String::len) + request.path_with_query.as_ref().map_or(0, String::len);
        return strings + fields_bytes(&request.headers) + request.body.as_ref().map_or(0, |_| BODY_BYTES);
    }
    if let Some(response) = entry.downcast_ref::<HostOutgoingResponse>() {
        return fields_bytes(&response.headers) + response.body.as_ref().map_or(0, |_| BODY_BYTES);
    }
    if let Some(response) = entry.downcast_ref::<HostIncomingResponse>() {
        return fields_bytes(&response.headers);
    }
    0
}

/// Header names and values, and what each costs in a `HeaderMap`.
fn fields_bytes(fields: &FieldMap) -> usize {
    const PER_FIELD: usize = size_of::<http::HeaderName>() + size_of::<http::HeaderValue>();
    fields.iter().map(|(name, value)| name.as_str().len() + value.len() + PER_FIELD).sum()
}
