//! Any string as a share link: decoding must return a clip or an error, never panic, hang or
//! allocate without bound. Clips that decode must encode again to a link that decodes to the same clip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Raw strings (exercise the fragment parsing) ...
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = cantor::share::decode(s);
    }
    // ... and arbitrary payloads behind a valid envelope (exercise the binary reader).
    let packed = miniz_oxide_envelope(data);
    if let Ok(clip) = cantor::share::decode(&packed) {
        let again = cantor::share::encode(&clip).expect("a decoded clip encodes");
        assert_eq!(cantor::share::decode(&again).expect("re-encoded clip decodes"), clip);
    }
});

/// `c1.` + base64url(zlib(data)), as the encoder writes it.
fn miniz_oxide_envelope(data: &[u8]) -> String {
    cantor::share::pack_payload(data)
}
