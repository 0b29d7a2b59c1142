//! The first clips' worker (wasm32): the same worker built without the GPU stack (`--features web`,
//! no `wgpu`), a fifth of the training worker's download. It generates, renders, reads and counts
//! files and can train on the CPU; the page swaps it for the training worker (`worker.rs`, with
//! WebGPU) when training starts or WebGPU is chosen.

// cubecl registers its kernel compilers' pieces through `inventory`, i.e. static constructors.
// Unless a module calls them itself, wasm-ld runs all of them at the top of *every* exported
// function: every event handler, closure and message into the wasm (measured: about 2 s of a
// first visit's click-to-sound). Calling them once, here, tells the linker not to (inventory's
// documentation recommends exactly this). Only the binaries do it: a module that refers to
// `__wasm_call_ctors` and never calls it (the wasm tests) would run no constructors at all.
#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: once, first thing, before any other code of the module runs.
        unsafe { __wasm_call_ctors() };
        cantor::web::start_worker();
    }
}
