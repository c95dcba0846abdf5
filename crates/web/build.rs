//! Tells cargo to embed the console again whenever `web/dist` changes (a release build
//! embeds the files; a debug build reads them from disk).

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    if dist.join("index.html").exists() {
        // A directory is scanned recursively: any rebuilt asset re-embeds.
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        // Without a built console this crate serves a page that says how to build it;
        // `scripts/web-build` touches this file after building, so the next build embeds it.
        println!("cargo:rerun-if-changed=build.rs");
    }
}
