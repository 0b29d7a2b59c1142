//! Getting bytes out of the browser: dropped files and folders (DataTransfer entries, recursing
//! into directories), the file picker, and downloads.

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DataTransfer, File, FileList, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry};

/// A file's name (with its folder path when it came from a dropped folder) and its bytes, or why
/// the browser could not read them.
pub struct Picked {
    pub name: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// A JavaScript error in words: an `Error`'s message, a thrown string, or a generic sentence
/// (never the `Debug` form of a `JsValue`).
pub fn js_error(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        let message = String::from(err.message());
        let name = String::from(err.name());
        return if message.is_empty() { name } else { message };
    }
    "the browser gave no reason".to_string()
}

/// The body of a `fetch` (from the window or a worker), or why not; `what` names it in the message.
pub async fn fetch_bytes(request: Promise, what: &str) -> Result<Vec<u8>, String> {
    let response: web_sys::Response = JsFuture::from(request).await.map_err(|e| format!("{what} did not load ({})", js_error(&e)))?.unchecked_into();
    if !response.ok() {
        return Err(format!("{what} did not load (HTTP {})", response.status()));
    }
    let body = response.array_buffer().map_err(|e| format!("{what} did not load ({})", js_error(&e)))?;
    let buffer = JsFuture::from(body).await.map_err(|e| format!("{what} did not load ({})", js_error(&e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

pub async fn read_file(file: &File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("the browser could not read this file ({}); was it moved, or is it a folder?", js_error(&e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

pub async fn from_file_list(list: FileList) -> Vec<Picked> {
    let mut out = Vec::new();
    for i in 0..list.length() {
        if let Some(f) = list.get(i) {
            let bytes = read_file(&f).await;
            out.push(Picked { name: f.name(), bytes });
        }
    }
    out
}

/// Files from a drop: folders are walked recursively; plain files come through as they are.
pub async fn from_drop(data: DataTransfer) -> Vec<Picked> {
    let items = data.items();
    let mut entries = Vec::new();
    let mut loose = Vec::new();
    for i in 0..items.length() {
        let Some(item) = items.get(i) else { continue };
        // Entries must be taken synchronously, before the first await.
        match item.webkit_get_as_entry() {
            Ok(Some(entry)) => entries.push(entry),
            _ => {
                if let Ok(Some(f)) = item.get_as_file() {
                    loose.push(f);
                }
            }
        }
    }
    let mut out = Vec::new();
    for f in loose {
        let bytes = read_file(&f).await;
        out.push(Picked { name: f.name(), bytes });
    }
    let mut stack: Vec<(String, FileSystemEntry)> = entries.into_iter().map(|e| (String::new(), e)).collect();
    while let Some((prefix, entry)) = stack.pop() {
        if entry.is_directory() {
            let dir: FileSystemDirectoryEntry = entry.unchecked_into();
            let prefix = format!("{prefix}{}/", dir.name());
            for child in read_dir(&dir).await {
                stack.push((prefix.clone(), child));
            }
        } else if entry.is_file() {
            let fe: FileSystemFileEntry = entry.unchecked_into();
            match entry_file(&fe).await {
                Ok(file) => {
                    let bytes = read_file(&file).await;
                    out.push(Picked { name: format!("{prefix}{}", file.name()), bytes });
                }
                Err(e) => out.push(Picked { name: format!("{prefix}{}", fe.name()), bytes: Err(format!("the browser could not open this file ({})", js_error(&e))) }),
            }
        }
    }
    out
}

async fn entry_file(entry: &FileSystemFileEntry) -> Result<File, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| entry.file_with_callback_and_callback(&resolve, &reject));
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// All entries of a directory (the reader returns them in batches until an empty one).
async fn read_dir(dir: &FileSystemDirectoryEntry) -> Vec<FileSystemEntry> {
    let reader = dir.create_reader();
    let mut all = Vec::new();
    loop {
        let promise = Promise::new(&mut |resolve, reject| {
            let _ = reader.read_entries_with_callback_and_callback(&resolve, &reject);
        });
        let Ok(batch) = JsFuture::from(promise).await else { break };
        let batch: Array = batch.unchecked_into();
        if batch.length() == 0 {
            break;
        }
        all.extend(batch.iter().map(|e| e.unchecked_into::<FileSystemEntry>()));
    }
    all
}

/// Registers the service worker (index.html's `cantorKeepOffline`), once, when the worker is ready:
/// by then the page's and the worker's files are in the HTTP cache for it to take.
pub fn register_offline() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if DONE.with(|d| d.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    if let Ok(f) = js_sys::Reflect::get(&window, &"cantorKeepOffline".into()).and_then(|f| f.dyn_into::<js_sys::Function>()) {
        let _ = f.call0(&window);
    }
}

/// Keeps a file of the page (the SoundFont) in Cache Storage once it was used, so the service
/// worker (static/sw.js) can serve it with the network off. Best effort: a browser without Cache
/// Storage simply does not get offline use.
pub fn keep_for_offline(url: &'static str) {
    keep(url, None);
}

/// [`keep_for_offline`] for a file whose bytes the page already holds (the starter model): they are
/// put into the cache as they are, not downloaded a second time.
pub fn keep_bytes_for_offline(url: &'static str, bytes: &[u8]) {
    keep(url, Some(bytes.to_vec()));
}

fn keep(url: &'static str, bytes: Option<Vec<u8>>) {
    use js_sys::{Function, Reflect};
    thread_local! {
        static KEPT: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if KEPT.with(|k| k.borrow().contains(&url)) {
        return;
    }
    KEPT.with(|k| k.borrow_mut().push(url));
    let method = |target: &JsValue, name: &str| Reflect::get(target, &name.into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
    let Some(window) = web_sys::window() else { return };
    let Ok(caches) = Reflect::get(&window, &"caches".into()) else { return };
    let Some(open) = method(&caches, "open") else { return };
    let Ok(opening) = open.call1(&caches, &"cantor-used".into()) else { return };
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(cache) = JsFuture::from(Promise::from(opening)).await else { return };
        let storing = match bytes {
            Some(mut bytes) => {
                let Ok(response) = web_sys::Response::new_with_opt_u8_array(Some(&mut bytes)) else { return };
                method(&cache, "put").and_then(|put| put.call2(&cache, &url.into(), &response).ok())
            }
            None => method(&cache, "add").and_then(|add| add.call1(&cache, &url.into()).ok()),
        };
        if let Some(storing) = storing {
            let _ = JsFuture::from(Promise::from(storing)).await;
        }
    });
}

/// Offers bytes as a download with the given file name; the error is a sentence.
pub fn download(bytes: &[u8], name: &str, mime: &str) -> Result<(), String> {
    offer(bytes, name, mime).map_err(|e| format!("the download failed ({})", js_error(&e)))
}

fn offer(bytes: &[u8], name: &str, mime: &str) -> Result<(), JsValue> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window().ok_or("no window")?.document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url)?;
    Ok(())
}
