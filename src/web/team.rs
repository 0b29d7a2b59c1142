//! Training on every core in the page: K − 1 helper workers beside the training worker, each a
//! replica of the model (the scheme is `train/team.rs`'s). The page starts the helpers and joins
//! each to the training worker by its own `MessageChannel`, so gradients go worker to worker
//! (transferred buffers, never through the page thread) and nothing needs `SharedArrayBuffer` or
//! cross-origin isolation: it works on any static host.
//!
//! This file is the workers' side: the training worker keeps the ports it is sent ([`PortTeam`]);
//! a helper answers its port's messages ([`serve_helper`]). The page's side is `helpers.rs`.

use crate::train::team::{FromHelper, Helper, Team, ToHelper};
use burn::prelude::Device;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, MessagePort};

/// The key of the message that hands the training worker one end of a helper's channel.
pub const TEAM_PORT: &str = "teamPort";
/// The key of the message that hands a helper its end.
pub const HELPER_PORT: &str = "helperPort";

/// Messages that arrived on a port, and the task waiting for the next one.
#[derive(Default)]
struct Inbox {
    queue: RefCell<VecDeque<Vec<u8>>>,
    waiting: RefCell<Option<std::task::Waker>>,
}

/// Listens on `port`, queueing each message's bytes.
fn listen(port: &MessagePort) -> Rc<Inbox> {
    let inbox = Rc::new(Inbox::default());
    let on = inbox.clone();
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        on.queue.borrow_mut().push_back(js_sys::Uint8Array::new(&e.data()).to_vec());
        if let Some(w) = on.waiting.borrow_mut().take() {
            w.wake();
        }
    });
    port.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    inbox
}

impl Inbox {
    async fn next(&self) -> Vec<u8> {
        std::future::poll_fn(|cx| match self.queue.borrow_mut().pop_front() {
            Some(bytes) => std::task::Poll::Ready(bytes),
            None => {
                *self.waiting.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

fn post_bytes(port: &MessagePort, bytes: &[u8]) {
    let array = js_sys::Uint8Array::from(bytes);
    let _ = port.post_message_with_transferable(&array, &js_sys::Array::of1(&array.buffer()));
}

/// The training worker's helpers, through their ports.
pub struct PortTeam {
    helpers: Vec<(MessagePort, Rc<Inbox>)>,
    /// How long a helper may take before it is dropped: long for the first step (its wasm may
    /// still be loading), then a multiple of the slowest step so far.
    patience_ms: f64,
    slowest_ms: f64,
    steps: usize,
    /// A helper was dropped during the current step (its wait is not a step's time).
    dropped: bool,
}

impl PortTeam {
    pub fn new(ports: Vec<MessagePort>) -> PortTeam {
        let helpers = ports.into_iter().map(|p| {
            let inbox = listen(&p);
            (p, inbox)
        });
        PortTeam { helpers: helpers.collect(), patience_ms: 60_000.0, slowest_ms: 0.0, steps: 0, dropped: false }
    }

    /// Records a step's time (the patience for the next ones follows it; the first step, which
    /// waited for the helpers to load, does not count).
    pub fn step_took(&mut self, ms: f64) {
        self.steps += 1;
        if self.steps == 1 || std::mem::take(&mut self.dropped) {
            return;
        }
        self.slowest_ms = self.slowest_ms.max(ms);
        self.patience_ms = (self.slowest_ms * 10.0).clamp(3_000.0, 60_000.0);
    }
}

impl Drop for PortTeam {
    fn drop(&mut self) {
        self.helpers.iter().for_each(|(p, _)| p.close());
    }
}

impl Team for PortTeam {
    fn helpers(&self) -> usize {
        self.helpers.len()
    }

    fn send(&mut self, k: usize, message: &ToHelper) {
        if let Some((port, _)) = self.helpers.get(k) {
            post_bytes(port, &postcard::to_allocvec(message).unwrap_or_default());
        }
    }

    async fn answer(&mut self, k: usize, step: u64) -> Option<FromHelper> {
        let (_, inbox) = self.helpers.get(k)?;
        let inbox = inbox.clone();
        let wait = self.patience_ms as i32;
        let got = futures_lite::future::or(
            async {
                loop {
                    match postcard::from_bytes::<FromHelper>(&inbox.next().await) {
                        Ok(a) if a.step == step => break Some(a),
                        Ok(_) => continue, // a late answer to an earlier step
                        Err(_) => break None,
                    }
                }
            },
            async {
                super::sleep(wait).await;
                None
            },
        )
        .await;
        if got.is_none() {
            self.drop_helper(k);
            web_sys::console::warn_1(&format!("a helper worker did not answer step {step}; training goes on without it").into());
        }
        got
    }

    fn drop_helper(&mut self, k: usize) {
        if k < self.helpers.len() {
            let (port, _) = self.helpers.remove(k);
            port.close();
            self.dropped = true;
        }
    }
}

/// Serves the leader's messages on `port`, one at a time in order, on this worker's CPU.
pub fn serve_helper(port: MessagePort) {
    let inbox = listen(&port);
    wasm_bindgen_futures::spawn_local(async move {
        let mut helper = Helper::new(&Device::flex());
        loop {
            let Ok(message) = postcard::from_bytes::<ToHelper>(&inbox.next().await) else { break };
            match helper.handle(message).await {
                Ok(Some(answer)) => post_bytes(&port, &postcard::to_allocvec(&answer).unwrap_or_default()),
                Ok(None) => {}
                Err(e) => {
                    // The leader drops a helper that does not answer; the console says why.
                    web_sys::console::error_1(&format!("helper: {e}").into());
                    break;
                }
            }
        }
    });
}
