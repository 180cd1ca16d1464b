//! `tollbooth`: the web server and the admin CLI. Everything lives in the library.

/// mimalloc, not glibc's malloc: see its line in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tollbooth_server::cli::main().await
}
