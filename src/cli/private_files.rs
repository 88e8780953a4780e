//! Files and directories only their owner may read: the data directory, the admin token file,
//! `demo-credentials.json`. They hold secrets, so they are created owner-only, and a start on
//! ones that are wider warns (see `docs/security.md` for why it warns rather than refuses).

use std::path::Path;

use anyhow::Context;

/// Creates `dir` (and missing parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// Writes a file only its owner can read, narrowing the mode of one that already exists.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// Warns about each of `paths` that exists and is open to other users.
pub fn warn_if_shared(paths: &[&Path]) {
    for path in paths {
        if let Some(mode) = tradeq_store::file_modes::group_or_other_mode(path) {
            let fix = if path.is_dir() {
                "chmod 700"
            } else {
                "chmod 600"
            };
            tracing::warn!(
                "{} is accessible to other users (mode {mode:o}) and holds secrets: {fix} it",
                path.display()
            );
        }
    }
}
