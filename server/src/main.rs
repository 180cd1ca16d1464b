//! `tollbooth`: the web server and the admin CLI. Everything lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tollbooth_server::cli::main().await
}
