//! Keeping things across reloads: the dropped files themselves, trained models (model files with
//! their curves) and recent clips (as share fragments), in this browser's IndexedDB via `rexie`.
//! Every failure comes back as a sentence for the page to show (private windows and full disks
//! refuse storage; the page must say so rather than lose work silently).

use rexie::{ObjectStore, Rexie, TransactionMode};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use wasm_bindgen::JsValue;

const DB: &str = "cantor";
const FILES: &str = "files";
const MODELS: &str = "models";
const CLIPS: &str = "clips";
/// Recent clips kept; older ones are dropped.
pub const KEEP_CLIPS: usize = 20;

/// A corpus file as the user gave it, plus their choices for it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct StoredFile {
    pub id: u32,
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    pub included: bool,
    pub excluded_tracks: Vec<u16>,
}

/// A trained model: the model file (the same bytes as an exported file; its header holds the
/// config, vocabulary and training curves).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StoredModel {
    /// The model's fingerprint.
    pub id: String,
    pub name: String,
    /// Milliseconds since 1970 (JS `Date.now()`).
    pub saved: f64,
    #[serde(with = "serde_bytes")]
    pub file: Vec<u8>,
}

/// A generated clip, kept as its share fragment (notes, tempo and recipe in one string).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StoredClip {
    pub id: u32,
    pub label: String,
    pub saved: f64,
    pub fragment: String,
}

fn say(what: &str, e: impl std::fmt::Display) -> String {
    format!(
        "Could not {what} in this browser's storage ({e}). Private windows and full disks refuse storage; \
         your work stays on this page until you close it — export the model and download clips to keep them."
    )
}

async fn open() -> Result<Rexie, String> {
    Rexie::builder(DB)
        .version(1)
        .add_object_store(ObjectStore::new(FILES).key_path("id"))
        .add_object_store(ObjectStore::new(MODELS).key_path("id"))
        .add_object_store(ObjectStore::new(CLIPS).key_path("id"))
        .build()
        .await
        .map_err(|e| say("open the saved work", e))
}

async fn put<T: Serialize>(store: &str, value: &T, what: &str) -> Result<(), String> {
    put_or_cause(store, value).await.map_err(|e| say(what, e))
}

/// [`put`], failing with the browser's cause alone (for a caller that words it itself).
async fn put_or_cause<T: Serialize>(store: &str, value: &T) -> Result<(), String> {
    let db = open().await?;
    let v = serde_wasm_bindgen::to_value(value).map_err(|e| e.to_string())?;
    let tx = db.transaction(&[store], TransactionMode::ReadWrite).map_err(|e| e.to_string())?;
    tx.store(store).map_err(|e| e.to_string())?.put(&v, None).await.map_err(|e| e.to_string())?;
    tx.done().await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn all<T: DeserializeOwned>(store: &str, what: &str) -> Result<Vec<T>, String> {
    let db = open().await?;
    let tx = db.transaction(&[store], TransactionMode::ReadOnly).map_err(|e| say(what, e))?;
    let values = tx.store(store).map_err(|e| say(what, e))?.get_all(None, None).await.map_err(|e| say(what, e))?;
    // A record this version cannot read is skipped rather than blocking everything else.
    Ok(values.into_iter().filter_map(|v| serde_wasm_bindgen::from_value(v).ok()).collect())
}

async fn delete(store: &str, key: JsValue, what: &str) -> Result<(), String> {
    let db = open().await?;
    let tx = db.transaction(&[store], TransactionMode::ReadWrite).map_err(|e| say(what, e))?;
    tx.store(store).map_err(|e| say(what, e))?.delete(key).await.map_err(|e| say(what, e))?;
    tx.done().await.map_err(|e| say(what, e))?;
    Ok(())
}

pub async fn save_file(f: &StoredFile) -> Result<(), String> {
    put(FILES, f, &format!("keep {}", f.name)).await
}

/// [`save_file`], failing with the browser's cause alone (a drop of many files words it once).
pub async fn keep_file(f: &StoredFile) -> Result<(), String> {
    put_or_cause(FILES, f).await
}

pub async fn files() -> Result<Vec<StoredFile>, String> {
    let mut v: Vec<StoredFile> = all(FILES, "read your saved files").await?;
    v.sort_by_key(|f| f.id);
    Ok(v)
}

pub async fn delete_file(id: u32) -> Result<(), String> {
    delete(FILES, JsValue::from(id), "remove a file").await
}

pub async fn save_model(m: &StoredModel) -> Result<(), String> {
    put(MODELS, m, "keep the trained model").await
}

/// Saved models, newest first.
pub async fn models() -> Result<Vec<StoredModel>, String> {
    let mut v: Vec<StoredModel> = all(MODELS, "read your saved models").await?;
    v.sort_by(|a, b| b.saved.total_cmp(&a.saved));
    Ok(v)
}

pub async fn delete_model(id: &str) -> Result<(), String> {
    delete(MODELS, JsValue::from_str(id), "delete the model").await
}

/// Keeps a clip and drops the oldest beyond [`KEEP_CLIPS`].
pub async fn save_clip(c: &StoredClip) -> Result<(), String> {
    put(CLIPS, c, "keep the clip").await?;
    let mut kept = clips().await?;
    for old in kept.split_off(KEEP_CLIPS.min(kept.len())) {
        delete(CLIPS, JsValue::from(old.id), "tidy old clips").await?;
    }
    Ok(())
}

/// Saved clips, newest first.
pub async fn clips() -> Result<Vec<StoredClip>, String> {
    let mut v: Vec<StoredClip> = all(CLIPS, "read your saved clips").await?;
    v.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(v)
}

const SPEEDS_KEY: &str = "cantor.speeds";
/// Timings kept (per adapter and model shape); older ones are dropped.
const KEEP_SPEEDS: usize = 16;

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Backend timings remembered in this browser (none if storage is refused).
pub fn remembered_speeds() -> Vec<crate::protocol::Speeds> {
    local_storage()
        .and_then(|s| s.get_item(SPEEDS_KEY).ok().flatten())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// Remembers a timing, replacing an older one of the same adapter and shape. Storage refused is
/// not an error worth showing: the next run times the step again.
pub fn remember_speeds(speeds: crate::protocol::Speeds) {
    let mut all = remembered_speeds();
    all.retain(|s| !(s.adapter == speeds.adapter && s.shape == speeds.shape));
    all.insert(0, speeds);
    all.truncate(KEEP_SPEEDS);
    if let (Some(storage), Ok(json)) = (local_storage(), serde_json::to_string(&all)) {
        let _ = storage.set_item(SPEEDS_KEY, &json);
    }
}
