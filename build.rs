//! Rebuilds the crate when the web UI's build changes: `src/http/ui.rs` embeds every file under
//! `ui/dist`, and a file added there (a new hashed asset) must not go unnoticed by cargo.

fn main() {
    println!("cargo:rerun-if-changed=ui/dist");
}
