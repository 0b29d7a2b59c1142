//! The page's side of the worker: starts it, sends each [`ToWorker`] message as a
//! [`Request`](crate::protocol::Request)
//! with an id, and hands each answer to a callback together with the kind of request it answers.
//!
//! The worker starts on first need: the first message sent starts it, with the backend choice made
//! so far, so a visit that only looks downloads the page alone. It starts as the first clips'
//! worker (`voice`: the same worker without the GPU stack, a fifth of the download); training, or
//! choosing WebGPU, swaps it for the training worker (`worker`), which is then sent the files and
//! models it lacks like any fresh worker.
//!
//! When the worker dies (a panic it reports, or an error event) every request in flight is
//! answered with a failure in words and a fresh worker is started with the last backend choice;
//! the files and models live in the page and in storage, so nothing is lost: the page sends a
//! fresh worker the files ([`knows_file`]) and models ([`ensure_loaded`]) it has not seen.

use crate::protocol::{Answer, BackendChoice, FromWorker, RequestKind, ToWorker};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};

type Handler = Rc<RefCell<dyn FnMut(Option<RequestKind>, FromWorker)>>;

#[derive(Default)]
struct Bridge {
    worker: Option<Worker>,
    /// Messages sent before the worker said it is ready (a worker drops messages that arrive
    /// before its handler is installed, i.e. while its wasm is still loading).
    pending: Option<Vec<(JsValue, Option<js_sys::Array>)>>,
    next_id: u64,
    in_flight: HashMap<u64, RequestKind>,
    /// Fingerprints of the model files this worker has loaded.
    loaded: HashSet<String>,
    /// Ids of the files sent to this worker to read.
    files: HashSet<u32>,
    choice: Option<BackendChoice>,
    handler: Option<Handler>,
    /// Counts the workers started: events of a worker already replaced are ignored.
    generation: u64,
    /// The running worker is the training worker (with WebGPU), not the first clips' worker.
    full: bool,
    /// Once the training worker was needed, it is the one (re)started.
    want_full: bool,
}

thread_local! {
    static BRIDGE: RefCell<Bridge> = RefCell::new(Bridge::default());
}

/// Sets where the worker's answers go; the worker itself starts with the first message.
pub fn start(on_message: impl FnMut(Option<RequestKind>, FromWorker) + 'static) {
    let handler: Handler = Rc::new(RefCell::new(on_message));
    BRIDGE.with(|b| b.borrow_mut().handler = Some(handler));
}

/// Starts a worker and asks it for the backend chosen so far. Trunk emits `worker_loader.js` next
/// to the page; it is a classic script (`importScripts` of the no-modules wasm-bindgen output), so
/// the worker is a classic worker.
fn spawn() -> Result<(), String> {
    let full = BRIDGE.with(|b| b.borrow().want_full);
    let worker = Worker::new(if full { "./worker_loader.js" } else { "./voice_loader.js" }).map_err(|e| super::files::js_error(&e))?;
    let generation = BRIDGE.with(|b| {
        let mut b = b.borrow_mut();
        b.generation += 1;
        b.full = full;
        b.generation
    });
    let current = move || BRIDGE.with(|b| b.borrow().generation == generation);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if !current() {
            return;
        }
        let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
        match crate::protocol::from_bytes::<Answer>(&bytes) {
            Ok(Answer { body: FromWorker::Ready, .. }) => {
                super::files::register_offline();
                BRIDGE.with(|b| {
                    let mut b = b.borrow_mut();
                    let queued = b.pending.take().unwrap_or_default();
                    if let Some(worker) = &b.worker {
                        for (v, transfer) in queued {
                            let _ = match transfer {
                                Some(t) => worker.post_message_with_transfer(&v, &t),
                                None => worker.post_message(&v),
                            };
                        }
                    }
                });
            }
            Ok(Answer { body: FromWorker::Crashed { message }, .. }) => restart(&message),
            Ok(Answer { id, body }) => {
                let kind = BRIDGE.with(|b| {
                    let mut b = b.borrow_mut();
                    let kind = b.in_flight.get(&id).copied();
                    if kind.is_some_and(|k| k.ends_with(&body)) {
                        b.in_flight.remove(&id);
                    }
                    kind
                });
                deliver(kind, body);
            }
            Err(err) => deliver(None, FromWorker::Failed { message: format!("the worker sent a message the page cannot read ({err})") }),
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // An error the worker did not catch (its wasm failed to load, or a trap outside a handler).
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
        e.prevent_default();
        if !current() {
            return;
        }
        let message = e.message();
        restart(if message.is_empty() { "the worker stopped" } else { &message });
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let choice = BRIDGE.with(|b| {
        let mut b = b.borrow_mut();
        b.worker = Some(worker);
        b.pending = Some(Vec::new());
        b.loaded.clear();
        b.files.clear();
        b.choice.unwrap_or(BackendChoice::Auto)
    });
    deliver(None, FromWorker::Backend { name: "checking…".into(), gpu: false, reason: String::new() });
    send(&ToWorker::Init { choice });
    Ok(())
}

fn deliver(kind: Option<RequestKind>, msg: FromWorker) {
    let handler = BRIDGE.with(|b| b.borrow().handler.clone());
    if let Some(h) = handler {
        (h.borrow_mut())(kind, msg);
    }
}

/// Ends the dead worker, fails what it was doing (in words), and starts a fresh one with the last
/// backend choice.
fn restart(why: &str) {
    let message = format!("The background worker stopped unexpectedly ({why}). A fresh one was started; your files and models are kept.");
    replace(&message, true, "the background worker could not be restarted");
}

/// Ends the running worker, answers each request in flight with `message` (and the page with it
/// even when none was, if `always`), and starts a fresh worker (`cannot` says what failed if it
/// does not start).
fn replace(message: &str, always: bool, cannot: &str) {
    let failed: Vec<RequestKind> = BRIDGE.with(|b| {
        let mut b = b.borrow_mut();
        if let Some(w) = b.worker.take() {
            w.terminate();
        }
        b.in_flight.drain().map(|(_, k)| k).collect()
    });
    if always && failed.is_empty() {
        deliver(None, FromWorker::Failed { message: message.to_string() });
    }
    for kind in failed {
        deliver(Some(kind), FromWorker::Failed { message: message.to_string() });
    }
    if let Err(e) = spawn() {
        deliver(None, FromWorker::Failed { message: format!("{cannot}: {e}") });
    }
}

/// Makes the running worker the training worker: a first clips' worker is ended (what it was
/// doing fails in words) and the training worker started; the caller then sends it the files it
/// needs ([`knows_file`]). Does nothing when no worker runs yet (the next one started is it).
/// Whether a worker was swapped (the fresh one has been sent the backend choice).
pub fn ensure_full() -> bool {
    let swap = BRIDGE.with(|b| {
        let mut b = b.borrow_mut();
        b.want_full = true;
        b.worker.is_some() && !b.full
    });
    if swap {
        replace("the training worker took over before this finished; please ask again", false, "the training worker could not start");
    }
    swap
}

/// Sends a message (starting the worker if it is not running); returns its request id.
pub fn send(msg: &ToWorker) -> u64 {
    if let ToWorker::Init { choice } = msg {
        BRIDGE.with(|b| b.borrow_mut().choice = Some(*choice));
        // WebGPU is the training worker's: a fresh one is sent the choice as it starts.
        if *choice == BackendChoice::WebGpu && ensure_full() {
            return BRIDGE.with(|b| b.borrow().next_id);
        }
    }
    if BRIDGE.with(|b| b.borrow().worker.is_none()) {
        if let Err(e) = spawn() {
            deliver(msg.kind().into(), FromWorker::Failed { message: format!("the background worker could not start: {e}") });
            return 0;
        }
        if matches!(msg, ToWorker::Init { .. }) {
            return BRIDGE.with(|b| b.borrow().next_id); // spawn just sent it
        }
    }
    BRIDGE.with(|b| {
        let mut b = b.borrow_mut();
        b.next_id += 1;
        let id = b.next_id;
        if msg.kind() != RequestKind::Control {
            b.in_flight.insert(id, msg.kind());
        }
        let value: JsValue = js_sys::Uint8Array::from(&crate::protocol::request_bytes(id, msg)[..]).into();
        if let Some(queue) = b.pending.as_mut() {
            queue.push((value, None));
        } else if let Some(worker) = &b.worker {
            let _ = worker.post_message(&value);
        }
        id
    })
}

/// Posts a JS message with transferred objects (a helper's port) to the running worker, in order
/// with the requests (queued while it loads), starting the worker if none runs.
pub fn send_transfer(message: JsValue, transfer: js_sys::Array) {
    if BRIDGE.with(|b| b.borrow().worker.is_none()) && spawn().is_err() {
        return;
    }
    BRIDGE.with(|b| {
        let mut b = b.borrow_mut();
        if let Some(queue) = b.pending.as_mut() {
            queue.push((message, Some(transfer)));
        } else if let Some(worker) = &b.worker {
            let _ = worker.post_message_with_transfer(&message, &transfer);
        }
    });
}

/// Makes sure the worker holds this model file (sent once per worker); returns its fingerprint.
pub fn ensure_loaded(fingerprint: &str, model_file: &[u8]) -> String {
    let known = BRIDGE.with(|b| b.borrow().loaded.contains(fingerprint));
    if !known {
        send(&ToWorker::Load { model_file: model_file.to_vec() });
        BRIDGE.with(|b| b.borrow_mut().loaded.insert(fingerprint.to_string()));
    }
    fingerprint.to_string()
}

/// A Load failed: the next request for that model sends the file again.
pub fn forget_loaded() {
    BRIDGE.with(|b| b.borrow_mut().loaded.clear());
}

/// Sends files to the worker to read (answered with `FromWorker::FilesRead`) and remembers that
/// this worker has them.
/// A big drop goes in batches of this many files, so no single message (packed, then unpacked with
/// the songs read) holds the page's thread for long, and rows appear as batches are read.
const READ_BATCH: usize = 50;

pub fn read_files(files: Vec<crate::protocol::FileBytes>) {
    let mut files = files.into_iter().peekable();
    while files.peek().is_some() {
        let batch: Vec<_> = files.by_ref().take(READ_BATCH).collect();
        let ids: Vec<u32> = batch.iter().map(|f| f.id).collect();
        send(&ToWorker::ReadFiles { files: batch }); // first: a worker started by this send knows no files yet
        BRIDGE.with(|b| b.borrow_mut().files.extend(ids));
    }
}

/// Whether the current worker was sent file `id` (a fresh worker knows none).
pub fn knows_file(id: u32) -> bool {
    BRIDGE.with(|b| b.borrow().files.contains(&id))
}
