//! `dynasim serve`: the browser playground's files (web/) over HTTP on the loopback
//! interface. Browsers refuse to start a module Web Worker or to fetch a WebAssembly
//! module from a page opened as a file, so the page needs an origin; this is the
//! smallest one: GET and HEAD of files under one folder, one connection at a time, no
//! network beyond 127.0.0.1.

use crate::error::Failure;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

/// Files a request may be answered with, at most (the module is about 1.3 MB).
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Serves `dir` on 127.0.0.1:`port` (0: a free port) until the process is stopped;
/// prints the address first, so a script can read it.
pub fn serve(dir: &Path, port: u16) -> Result<(), Failure> {
    if !dir.join("index.html").is_file() {
        return Err(Failure::trouble(format!(
            "{}: no index.html there; serve the playground's folder (web/ in the repository)",
            dir.display()
        )));
    }
    if !dir.join("dynasim.wasm").is_file() {
        return Err(Failure::trouble(format!(
            "{}: dynasim.wasm is missing; build the page first: bash web/build.sh",
            dir.display()
        )));
    }
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| Failure::trouble(format!("--port {port}: cannot listen there: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::trouble(format!("--port {port}: {e}")))?;
    crate::outln!(
        "serving {} at http://{address}/ (Ctrl-C stops)",
        dir.display()
    );
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        // A client that misbehaves loses its own connection, never the server.
        let _ = answer(stream, dir);
    }
    Ok(())
}

fn answer(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Headers are read and ignored, up to the blank line that ends them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 && header.len() < 64 << 10 {
        header.clear();
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n",
            true,
        );
    }
    let file = resolve(dir, target).and_then(|path| {
        let meta = std::fs::metadata(&path).ok()?;
        (meta.is_file() && meta.len() <= MAX_FILE_BYTES).then_some(path)
    });
    let Some(path) = file else {
        return respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            true,
        );
    };
    let body = std::fs::read(&path)?;
    respond(
        &mut stream,
        "200 OK",
        content_type(&path),
        &body,
        method == "GET",
    )
}

/// The file under `dir` a request target names (`/` is index.html); none for a target
/// that leaves the folder or names a hidden file.
fn resolve(dir: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let relative = Path::new(path);
    let plain = relative.components().all(|c| match c {
        Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
        _ => false,
    });
    plain.then(|| dir.join(relative))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_inside_the_folder() {
        let dir = Path::new("/srv/web");
        assert_eq!(resolve(dir, "/"), Some(dir.join("index.html")));
        assert_eq!(resolve(dir, "/app.js?v=2"), Some(dir.join("app.js")));
        assert_eq!(
            resolve(dir, "/module/x.wasm"),
            Some(dir.join("module/x.wasm"))
        );
        assert_eq!(resolve(dir, "/../etc/passwd"), None);
        assert_eq!(resolve(dir, "/a/../../b"), None);
        assert_eq!(resolve(dir, "/.git/config"), None);
        assert_eq!(content_type(Path::new("m.wasm")), "application/wasm");
    }
}
