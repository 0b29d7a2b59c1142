//! The page's side of training on every core: it starts K − 1 helper workers (`worker_loader.js`
//! again) beside the training worker and joins each to it by its own `MessageChannel`, so the
//! gradients go worker to worker (`team.rs` is the workers' side), and ends them when the run ends.

use super::team::{HELPER_PORT, TEAM_PORT};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageChannel, MessageEvent, MessagePort, Worker};

thread_local! {
    static HELPERS: RefCell<Vec<Worker>> = const { RefCell::new(Vec::new()) };
}

/// `{key: port}`, with the port in the transfer list.
fn port_message(key: &str, port: &MessagePort) -> (JsValue, js_sys::Array) {
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &key.into(), port);
    (message.into(), js_sys::Array::of1(port))
}

/// Starts `count` helper workers for the training run about to start (ending any from before)
/// and sends the training worker its end of each one's channel. A helper that fails to start is
/// simply not there: the training worker trains with those that answer.
pub fn start(count: usize) {
    end();
    let list = js_sys::Array::new();
    for _ in 0..count {
        let Ok(channel) = MessageChannel::new() else { return };
        let Ok(worker) = Worker::new("./worker_loader.js") else { return };
        let (message, transfer) = port_message(TEAM_PORT, &channel.port1());
        super::bridge::send_transfer(message, transfer);
        // The helper's end goes once its wasm has loaded (a worker drops what arrives before).
        let port = channel.port2();
        let sent = Rc::new(Cell::new(false));
        let w = worker.clone();
        let on_ready = Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
            if !sent.replace(true) {
                let (message, transfer) = port_message(HELPER_PORT, &port);
                let _ = w.post_message_with_transfer(&message, &transfer);
            }
        });
        worker.set_onmessage(Some(on_ready.as_ref().unchecked_ref()));
        on_ready.forget();
        list.push(&worker);
        HELPERS.with(|h| h.borrow_mut().push(worker));
    }
    // The helpers, for the browser test that ends one mid-run.
    let _ = js_sys::Reflect::set(&js_sys::global(), &"cantorHelpers".into(), &list);
}

/// Ends the helper workers (training ended, or its worker was replaced).
pub fn end() {
    HELPERS.with(|h| h.borrow_mut().drain(..).for_each(|w| w.terminate()));
}

