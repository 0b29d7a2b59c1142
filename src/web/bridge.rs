//! The page's side of the worker: starts it, sends [`ToWorker`] messages, hands each
//! [`FromWorker`] message to a callback.

use crate::protocol::{FromWorker, ToWorker};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    /// Messages sent before the worker said it is ready (a worker drops messages that arrive
    /// before its handler is installed, i.e. while its wasm is still loading).
    static PENDING: RefCell<Option<Vec<wasm_bindgen::JsValue>>> = const { RefCell::new(Some(Vec::new())) };
}

/// Starts the worker. Trunk emits `worker_loader.js` next to the page; it is a classic script
/// (`importScripts` of the no-modules wasm-bindgen output), so the worker is a classic worker.
pub fn start(mut on_message: impl FnMut(FromWorker) + 'static) -> Result<(), String> {
    let worker = Worker::new("./worker_loader.js").map_err(|e| format!("{e:?}"))?;
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
        match crate::protocol::from_bytes::<FromWorker>(&bytes) {
            Ok(FromWorker::Ready) => {
                let queued = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
                WORKER.with(|w| {
                    if let Some(worker) = w.borrow().as_ref() {
                        for v in queued {
                            let _ = worker.post_message(&v);
                        }
                    }
                });
            }
            Ok(msg) => on_message(msg),
            Err(err) => on_message(FromWorker::Failed { message: format!("unreadable message from the worker: {err}") }),
        }
    });
    worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    WORKER.with(|w| *w.borrow_mut() = Some(worker));
    Ok(())
}

pub fn send(msg: &ToWorker) {
    let value: wasm_bindgen::JsValue = js_sys::Uint8Array::from(&crate::protocol::to_bytes(msg)[..]).into();
    let value = match PENDING.with(|p| p.borrow_mut().as_mut().map(|q| q.push(value.clone()))) {
        Some(()) => return,
        None => value,
    };
    WORKER.with(|w| {
        if let Some(worker) = w.borrow().as_ref() {
            let _ = worker.post_message(&value);
        }
    });
}
