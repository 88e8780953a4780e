//! Every code block of `README.md`, `docs/**/*.md` and the `tradeq serve --demo` banner runs as
//! pasted, in order per file, against a fresh `tradeq serve --demo` started for that file.
//!
//! Conventions a snippet is held to:
//!
//! - Each file gets its own server and its own working directory, in which `./tradeq-data` is
//!   the server's data directory (credentials file, `admin-token`) and files written by an earlier
//!   block (keys, JSONL) are still there for a later one. `tradeq` (the binary under test) is first
//!   on the `PATH`; `TZ` is `UTC`, as on a typical server, so a snippet that needs Beijing time
//!   must set it itself.
//! - Addresses are written as the defaults, `127.0.0.1:8080` / `127.0.0.1:8081` (or `localhost`):
//!   they are rewritten to the test server's ports.
//! - Languages: `sh`, `bash`, `shell` and `console` (only its `$ ` lines) run with `bash -e`;
//!   shell variables set by one block are visible in the file's later blocks, as in one terminal;
//!   `curl` fails on an HTTP error status. `python` runs in the conformance virtualenv, `js` and
//!   `mjs` as ES modules with the conformance `node_modules`, and `rust` is built as the `main.rs`
//!   of a crate depending on `tradeq-client` and `tokio` (as the README's "Rust client" says) and
//!   then run. Any other language (`json`, `toml`, `text`, `yaml`, none) is output or reference and
//!   is not run.
//! - `<!-- snippet: no-run -->` on the line before a fence skips that block (a command that
//!   serves forever, or one that needs what a test cannot have).
//! - In the banner, a line `… save as FILE, run `COMMAND`:` introduces a file whose lines follow
//!   indented; the test writes it and runs COMMAND with bash. A banner line `  $ COMMAND` is a
//!   shell command.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{root, TestServer};

/// `<!-- snippet: no-run -->`: the next fenced block is not run.
const NO_RUN_MARKER: &str = "<!-- snippet: no-run -->";

/// How a snippet is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Shell,
    Python,
    Node,
    Rust,
}

impl Lang {
    fn from_info(info: &str) -> Option<Lang> {
        let word = info
            .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
            .next()
            .unwrap_or("");
        match word.to_ascii_lowercase().as_str() {
            "sh" | "bash" | "shell" | "console" => Some(Lang::Shell),
            "python" | "py" | "python3" => Some(Lang::Python),
            "js" | "javascript" | "mjs" => Some(Lang::Node),
            "rust" | "rs" => Some(Lang::Rust),
            _ => None,
        }
    }
}

/// One block to run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snippet {
    /// 1-based line of the opening fence (or banner header).
    line: usize,
    lang: Lang,
    code: String,
    /// Banner files: the name to save the code as and the command that runs it.
    file_and_command: Option<(String, String)>,
}

/// Every runnable fenced block of a Markdown text, in order.
fn markdown_snippets(text: &str) -> Vec<Snippet> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let indent = lines[i].len() - trimmed.len();
        let fence_len = trimmed.chars().take_while(|&c| c == '`').count();
        if fence_len < 3 {
            i += 1;
            continue;
        }
        let info = trimmed[fence_len..].trim();
        let is_console = info.starts_with("console");
        let skipped = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.trim() == NO_RUN_MARKER);
        let open = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            let t = lines[i].trim();
            if t.len() >= fence_len && t.chars().all(|c| c == '`') {
                break;
            }
            let line = lines[i];
            let cut = line.len() - line.trim_start().len();
            body.push(&line[cut.min(indent)..]);
            i += 1;
        }
        i += 1;
        let Some(lang) = Lang::from_info(info) else {
            continue;
        };
        if skipped {
            continue;
        }
        let code = if is_console {
            body.iter()
                .filter_map(|l| l.strip_prefix("$ "))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            body.join("\n")
        };
        out.push(Snippet {
            line: open + 1,
            lang,
            code: code + "\n",
            file_and_command: None,
        });
    }
    out
}

/// The banner's files (`save as FILE, run `COMMAND`:` and indented lines) and `$ ` commands.
fn banner_snippets(text: &str) -> Vec<Snippet> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(cmd) = line.trim_start().strip_prefix("$ ") {
            out.push(Snippet {
                line: i + 1,
                lang: Lang::Shell,
                code: format!("{cmd}\n"),
                file_and_command: None,
            });
            i += 1;
            continue;
        }
        let header = line.split_once("save as ").and_then(|(_, rest)| {
            let (file, rest) = rest.split_once(", run `")?;
            let (command, _) = rest.split_once('`')?;
            Some((file.trim().to_string(), command.to_string()))
        });
        let Some((file, command)) = header.filter(|_| line.trim_end().ends_with(':')) else {
            i += 1;
            continue;
        };
        let open = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && lines[i].starts_with("    ") {
            body.push(&lines[i][4..]);
            i += 1;
        }
        let lang = match Path::new(&file).extension().and_then(|e| e.to_str()) {
            Some("py") => Lang::Python,
            Some("mjs" | "js") => Lang::Node,
            _ => Lang::Shell,
        };
        out.push(Snippet {
            line: open + 1,
            lang,
            code: body.join("\n") + "\n",
            file_and_command: Some((file, command)),
        });
    }
    out
}

/// `README.md` and every `docs/**/*.md`, sorted.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("docs"), &mut files);
    files.sort();
    files.insert(0, root().join("README.md"));
    files
}

/// The default addresses, rewritten to the test server's.
fn rewrite_ports(code: &str, port: u16, admin_port: u16) -> String {
    let mut code = code.to_string();
    for host in ["127.0.0.1", "localhost"] {
        code = code
            .replace(&format!("{host}:8080"), &format!("{host}:{port}"))
            .replace(&format!("{host}:8081"), &format!("{host}:{admin_port}"));
    }
    code
}

/// What the snippets of one file run with.
struct Runner<'a> {
    label: String,
    server: &'a TestServer,
    work: tempfile::TempDir,
    python: Option<PathBuf>,
    node_modules: Option<PathBuf>,
    failures: Vec<String>,
    ran: usize,
}

/// Runs before each shell block: `curl` that fails on an HTTP error, and the variables of the
/// file's earlier blocks (saved by `__snippet_save` after each block, as one terminal would keep
/// them).
const SHELL_PRELUDE: &str = r#"curl() {
  # --fail-with-body excludes curl's own -f, which a documented command may carry (`-sf`).
  local a args=()
  for a in "$@"; do
    case "$a" in
      --fail) ;;
      -[a-zA-Z]*f*) if [[ "$a" =~ ^-[a-zA-Z]+$ ]]; then a="${a//f/}"; fi; [ "$a" = "-" ] || args+=("$a") ;;
      *) args+=("$a") ;;
    esac
  done
  command curl --fail-with-body --silent --show-error "${args[@]}"
}
__snippet_base=" $(compgen -v | tr '\n' ' ') "
if [ -f .snippet-vars ]; then source .snippet-vars; fi
__snippet_save() {
  local name
  for name in $(compgen -v); do
    case "$__snippet_base" in *" $name "*) continue ;; esac
    case "$name" in __snippet* | name | FUNCNAME | BASH* | PIPESTATUS | _) continue ;; esac
    declare -p "$name"
  done > .snippet-vars
}
set -e
"#;

impl Runner<'_> {
    fn run(&mut self, snippet: &Snippet) {
        let code = rewrite_ports(&snippet.code, self.server.port, self.server.admin_port);
        let dir = self.work.path().to_path_buf();
        let n = snippet.line;
        let (program, args, timeout): (PathBuf, Vec<String>, u64) =
            match (&snippet.file_and_command, snippet.lang) {
                (Some((file, command)), lang) => {
                    if !self.tools_for(lang, snippet) {
                        return;
                    }
                    write(&dir.join(file), &code);
                    let script = format!(
                        "set -e\n{}\n",
                        rewrite_ports(command, self.server.port, self.server.admin_port)
                    );
                    write(&dir.join(format!("block-{n}.sh")), &script);
                    ("bash".into(), vec![format!("block-{n}.sh")], 120)
                }
                (None, Lang::Shell) => {
                    let script = format!("{SHELL_PRELUDE}{code}\n__snippet_save\n");
                    write(&dir.join(format!("block-{n}.sh")), &script);
                    ("bash".into(), vec![format!("block-{n}.sh")], 180)
                }
                (None, Lang::Python) => {
                    if !self.tools_for(Lang::Python, snippet) {
                        return;
                    }
                    write(&dir.join(format!("block_{n}.py")), &code);
                    let python = self.python.clone().unwrap_or_else(|| "python3".into());
                    (python, vec![format!("block_{n}.py")], 120)
                }
                (None, Lang::Node) => {
                    if !self.tools_for(Lang::Node, snippet) {
                        return;
                    }
                    write(&dir.join(format!("block-{n}.mjs")), &code);
                    ("node".into(), vec![format!("block-{n}.mjs")], 120)
                }
                (None, Lang::Rust) => match self.build_rust(n, &code) {
                    Ok(binary) => (binary, Vec::new(), 120),
                    Err(output) => {
                        self.fail(snippet, &code, &output);
                        return;
                    }
                },
            };
        self.ran += 1;
        let mut cmd = Command::new(&program);
        cmd.args(&args).current_dir(&dir);
        snippet_env(&mut cmd, self.python.as_deref());
        let started = Instant::now();
        let (ok, output) = run_with_timeout(cmd, Duration::from_secs(timeout), &dir);
        eprintln!(
            "{} line {} ({:?}): {} in {:.1} s",
            self.label,
            snippet.line,
            snippet.lang,
            if ok { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if !ok {
            self.fail(snippet, &code, &output);
        }
    }

    /// Whether the toolchain the snippet needs is there; notes the skip when it is not.
    fn tools_for(&mut self, lang: Lang, snippet: &Snippet) -> bool {
        let present = match lang {
            Lang::Python => self.python.is_some(),
            Lang::Node => self.node_modules.is_some(),
            Lang::Shell | Lang::Rust => true,
        };
        if !present {
            support::note_skip(&format!(
                "{} line {}: no Python/Node toolchain (tests/conformance/setup.sh)",
                self.label, snippet.line
            ));
        }
        present
    }

    /// Builds a Rust snippet as the `main.rs` of its own crate; returns the binary.
    fn build_rust(&self, n: usize, code: &str) -> Result<PathBuf, String> {
        let krate = self.work.path().join(format!("rust-{n}"));
        let client = root().join("crates/tradeq-client");
        write(
            &krate.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"snippet\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\ntradeq-client = {{ path = {client:?} }}\n\
                 tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\n\
                 [workspace]\n",
                client = client.display().to_string()
            ),
        );
        write(&krate.join("src/main.rs"), code);
        // The workspace's lock file pins the versions already built and downloaded.
        let _ = std::fs::copy(root().join("Cargo.lock"), krate.join("Cargo.lock"));
        // A target directory of its own: the one of the running `cargo test` may still be locked.
        let target = Path::new(env!("CARGO_BIN_EXE_tradeq"))
            .parent()
            .and_then(Path::parent)
            .map(|t| t.join("snippets"))
            .unwrap_or_else(|| krate.join("target"));
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.arg("build")
            .arg("--offline")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(krate.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&krate);
        let started = Instant::now();
        let (ok, output) = run_with_timeout(cmd, Duration::from_secs(900), self.work.path());
        eprintln!(
            "{} line {n}: built in {:.1} s",
            self.label,
            started.elapsed().as_secs_f64()
        );
        if ok {
            Ok(target.join("debug/snippet"))
        } else {
            Err(format!("cargo build failed:\n{output}"))
        }
    }

    fn fail(&mut self, snippet: &Snippet, code: &str, output: &str) {
        let mut msg = format!(
            "{} line {} ({:?}) failed.\n--- code ---\n{code}",
            self.label, snippet.line, snippet.lang
        );
        if let Some((file, command)) = &snippet.file_and_command {
            let _ = writeln!(msg, "--- saved as {file}, run `{command}` ---");
        }
        let _ = write!(msg, "--- output ---\n{output}");
        eprintln!("{msg}");
        self.failures.push(msg);
    }
}

/// The environment of a snippet: the binary under test (and the virtualenv) first on the PATH, UTC, and none of the
/// caller's tradeq settings.
fn snippet_env(cmd: &mut Command, python: Option<&Path>) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tradeq"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir];
    // `python3` of a banner command is the virtualenv's, where the SDKs are installed.
    paths.extend(python.and_then(Path::parent).map(Path::to_path_buf));
    paths.extend(std::env::split_paths(&path));
    if let Ok(joined) = std::env::join_paths(paths) {
        cmd.env("PATH", joined);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TRADEQ_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("TZ", "UTC").stdin(Stdio::null());
}

/// Runs `cmd` with its output in a file (a full pipe cannot block it); kills it after `timeout`.
fn run_with_timeout(mut cmd: Command, timeout: Duration, dir: &Path) -> (bool, String) {
    let log = dir.join(".snippet-output");
    let file = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => return (false, format!("cannot create {}: {e}", log.display())),
    };
    let err = match file.try_clone() {
        Ok(f) => f,
        Err(e) => return (false, format!("cannot clone a file handle: {e}")),
    };
    cmd.stdout(file).stderr(err);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot start {cmd:?}: {e}")),
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut output = std::fs::read_to_string(&log).unwrap_or_default();
    match status {
        Some(s) if s.success() => (true, output),
        Some(s) => {
            let _ = write!(output, "\n[{s}]");
            (false, output)
        }
        None => {
            let _ = write!(output, "\n[killed after {} s]", timeout.as_secs());
            (false, output)
        }
    }
}

fn write(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create a snippet directory");
    }
    std::fs::write(path, contents).expect("write a snippet file");
}

/// Runs `snippets` (of `label`) in order against a fresh demo server; returns the failures.
fn run_file(
    label: &str,
    server: &TestServer,
    snippets: &[Snippet],
    toolchain: &Option<support::Toolchain>,
) -> (usize, Vec<String>) {
    let work = tempfile::tempdir().expect("temp dir");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(server.data_dir.path(), work.path().join("tradeq-data"))
            .expect("link tradeq-data");
        if let Some(t) = toolchain {
            let modules = t.node_dir.join("node_modules");
            std::os::unix::fs::symlink(&modules, work.path().join("node_modules"))
                .expect("link node_modules");
        }
    }
    let mut runner = Runner {
        label: label.to_string(),
        server,
        work,
        python: toolchain.as_ref().map(|t| t.python.clone()),
        node_modules: toolchain.as_ref().map(|t| t.node_dir.join("node_modules")),
        failures: Vec::new(),
        ran: 0,
    };
    for snippet in snippets {
        runner.run(snippet);
    }
    (runner.ran, runner.failures)
}

#[test]
fn snippets_run_as_pasted() {
    let needs_tools = |s: &[Snippet]| {
        s.iter()
            .any(|s| matches!(s.lang, Lang::Python | Lang::Node) || s.file_and_command.is_some())
    };
    let mut files: Vec<(String, Option<Vec<Snippet>>)> = markdown_files()
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a Markdown file");
            let label = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            (label, Some(markdown_snippets(&text)))
        })
        .collect();
    // The banner is known only once a server prints it.
    files.push(("the `serve --demo` banner".to_string(), None));

    let toolchain = match support::toolchain() {
        Ok(t) => Some(t),
        Err(reason) if support::require_all() => {
            panic!("required by TRADEQ_REQUIRE_ALL=1 but unavailable: {reason}")
        }
        Err(reason) => {
            support::note_skip(&format!("Python and Node snippets not run: {reason}"));
            None
        }
    };

    let mut failures = Vec::new();
    let mut ran = 0;
    for (label, snippets) in &files {
        if snippets.as_ref().is_some_and(|s| s.is_empty()) {
            continue;
        }
        // The banner shows the official Python Alipay SDK's program only when the gateway is
        // on port 80, the only one that SDK reaches.
        let on_port_80 = snippets.is_none()
            && match std::net::TcpListener::bind("127.0.0.1:80") {
                Ok(_) => true,
                Err(e) if support::require_all() => {
                    panic!("required by TRADEQ_REQUIRE_ALL=1: port 80 for the banner ({e})")
                }
                Err(e) => {
                    support::note_skip(&format!(
                        "the banner's official Python SDK program needs port 80 ({e})"
                    ));
                    false
                }
            };
        let server = TestServer::start_demo(on_port_80.then_some(80), &[]);
        let snippets = match snippets {
            Some(s) => s.clone(),
            None => {
                let banner = server.stdout_text();
                let found = banner_snippets(&banner);
                let programs = found
                    .iter()
                    .filter(|s| s.file_and_command.is_some())
                    .count();
                assert!(
                    needs_tools(&found)
                        && found.iter().any(|s| s.file_and_command.is_none())
                        && programs == if on_port_80 { 5 } else { 4 },
                    "the banner should hold a program per SDK and a shell command:\n{banner}"
                );
                found
            }
        };
        let started = Instant::now();
        let (n, mut failed) = run_file(label, &server, &snippets, &toolchain);
        eprintln!(
            "{label}: {n} snippets run, {} failed, {:.1} s",
            failed.len(),
            started.elapsed().as_secs_f64()
        );
        ran += n;
        failures.append(&mut failed);
    }
    assert!(ran > 0, "no snippet was run");
    assert!(
        failures.is_empty(),
        "{} snippet(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn markdown_blocks_are_found_with_their_language_line_and_marker() {
    let text = "# T\n\n```sh\necho one\n```\n\n```json\n{}\n```\n\n<!-- snippet: no-run -->\n\n\
                ```bash\ntradeq serve\n```\n\n- item\n\n  ```python\n  print(1)\n  ```\n\n\
                ```console\n$ echo two\ntwo\n```\n\n```\nplain\n```\n";
    let found = markdown_snippets(text);
    let summary: Vec<(usize, Lang, &str)> = found
        .iter()
        .map(|s| (s.line, s.lang, s.code.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, Lang::Shell, "echo one\n"),
            (19, Lang::Python, "print(1)\n"),
            (23, Lang::Shell, "echo two\n"),
        ]
    );
}

#[test]
fn banner_files_and_commands_are_found() {
    let banner = "tradeq demo is running.\n\nTry it:\n  $ tradeq query a.b x=1\n\n\
                  Node; save as demo.mjs, run `TZ=Asia/Shanghai node demo.mjs`:\n    \
                  import x from 'y';\n      nested();\n\nPython (note: not this one):\n    \
                  print(1)\n";
    let found = banner_snippets(banner);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].code, "tradeq query a.b x=1\n");
    assert_eq!(found[0].lang, Lang::Shell);
    assert_eq!(found[1].line, 6);
    assert_eq!(found[1].lang, Lang::Node);
    assert_eq!(found[1].code, "import x from 'y';\n  nested();\n");
    assert_eq!(
        found[1].file_and_command,
        Some((
            "demo.mjs".to_string(),
            "TZ=Asia/Shanghai node demo.mjs".to_string()
        ))
    );
}

#[test]
fn default_ports_are_rewritten_to_the_test_servers() {
    let got = rewrite_ports(
        "curl http://127.0.0.1:8081/health http://localhost:8080/gateway.do 127.0.0.1:80",
        41000,
        41001,
    );
    assert_eq!(
        got,
        "curl http://127.0.0.1:41001/health http://localhost:41000/gateway.do 127.0.0.1:80"
    );
}
