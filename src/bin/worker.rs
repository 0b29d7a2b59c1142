//! The training and generation worker (wasm32): `trunk` builds this with `--features web`.
fn main() {
    #[cfg(target_arch = "wasm32")]
    cantor::web::start_worker();
}
