//! Files the commands write (a JSON report, an expectations draft): each is written whole or not
//! at all. The file is opened as a temporary beside its target before the run, so that a path
//! that cannot be written is an error before any work, and renamed onto the target only once its
//! text is complete; an earlier file at the path survives an interrupted, failed or empty run.
//! An output that is one of the run's inputs, or another output, is refused.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output to be written whole: its temporary, and where it goes. A target that is not a
/// regular file (`/dev/stdout`, a named pipe) is opened as it is and written at the end: there is
/// nothing to replace.
#[derive(Debug)]
pub struct PendingFile {
    target: PathBuf,
    /// `None` for a target written in place.
    temporary: Option<PathBuf>,
    file: Option<File>,
}

impl PendingFile {
    /// Opens the temporary beside `path` (through a symlink, beside what it points to). Fails
    /// when the directory cannot be written or `path` is a directory.
    pub fn create(path: &Path) -> Result<PendingFile, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let existing = std::fs::metadata(&target).ok();
        // A symlink that does not resolve to a path (`/dev/stdout` on a pipe) is never replaced,
        // nor is anything named under /dev or /proc (`/dev/stdout` on a file is an open file).
        let link = std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink())
            || [path, target.as_path()]
                .iter()
                .any(|p| p.starts_with("/dev") || p.starts_with("/proc"));
        match &existing {
            Some(m) if m.is_dir() => return Err(cannot(&"it is a directory")),
            Some(m) if !m.is_file() || link => {
                // Appended: `/dev/stdout` on a file is the file the text report went to.
                let file = File::options()
                    .append(true)
                    .open(&target)
                    .map_err(|e| cannot(&e))?;
                return Ok(PendingFile {
                    target,
                    temporary: None,
                    file: Some(file),
                });
            }
            _ => {}
        }
        let name = target
            .file_name()
            .ok_or_else(|| cannot(&"not a file name"))?;
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(".{}.tmp", std::process::id()));
        let temporary = target.with_file_name(temporary_name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| cannot(&e))?;
        if let Some(m) = existing {
            // The file keeps its permissions across the rename.
            let _ = file.set_permissions(m.permissions());
        }
        Ok(PendingFile {
            target,
            temporary: Some(temporary),
            file: Some(file),
        })
    }

    /// Writes `text` to the temporary, syncs it, and renames it onto the target.
    pub fn commit(mut self, text: &str) -> Result<(), String> {
        let cannot = |e: std::io::Error| format!("cannot write {}: {e}", self.target.display());
        let mut file = self.file.take().ok_or("the file was already written")?;
        file.write_all(text.as_bytes()).map_err(cannot)?;
        let Some(temporary) = &self.temporary else {
            return file.flush().map_err(cannot);
        };
        file.sync_all().map_err(cannot)?;
        drop(file);
        std::fs::rename(temporary, &self.target).map_err(cannot)
    }
}

impl Drop for PendingFile {
    /// An uncommitted temporary is removed; a committed one has already been renamed.
    fn drop(&mut self) {
        if let (Some(_), Some(temporary)) = (&self.file, &self.temporary) {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

/// What identifies a file whatever the path that names it: device and inode (a symlink or a
/// hard link names the same file); for a path that does not exist yet, its canonical directory
/// and name.
fn identity(path: &Path) -> Option<FileIdentity> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some(FileIdentity::Inode(meta.dev(), meta.ino()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).ok()?;
    Some(FileIdentity::Path(dir.join(path.file_name()?)))
}

#[derive(Debug, PartialEq, Eq)]
enum FileIdentity {
    Inode(u64, u64),
    Path(PathBuf),
}

/// Refuses outputs that are one of `inputs` (by identity, through symlinks) or the same file
/// twice.
pub fn refuse_clashes(outputs: &[&Path], inputs: &[PathBuf]) -> Result<(), String> {
    let inputs: Vec<(FileIdentity, &PathBuf)> = (inputs.iter())
        .filter_map(|p| identity(p).map(|id| (id, p)))
        .collect();
    for (i, output) in outputs.iter().enumerate() {
        let Some(id) = identity(output) else { continue };
        if let Some((_, input)) = inputs.iter().find(|(other, _)| *other == id) {
            return Err(format!(
                "{} is also an input ({}): it would be overwritten",
                output.display(),
                input.display()
            ));
        }
        if outputs[..i]
            .iter()
            .any(|o| identity(o).as_ref() == Some(&id))
        {
            return Err(format!("{} is given as an output twice", output.display()));
        }
    }
    Ok(())
}

/// The files a spec directory's reader reads: the chapters (`*.md`) and everything under
/// `recorded/`.
pub fn files_of_spec_dir(dir: &Path) -> Vec<PathBuf> {
    let list = |d: &Path| -> Vec<PathBuf> {
        (std::fs::read_dir(d).into_iter().flatten())
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect()
    };
    let chapters = list(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"));
    chapters.chain(list(&dir.join("recorded"))).collect()
}

/// Whether two paths name the same existing directory.
pub fn same_dir(a: &Path, b: &Path) -> bool {
    a.is_dir() && b.is_dir() && same_file(a, b)
}

/// Whether two paths name the same existing file (copying it onto itself would empty it).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a.exists() && identity(a).is_some() && identity(a) == identity(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_pending_file_replaces_the_target_only_when_committed() {
        let dir = std::env::temp_dir().join(format!("ces-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("r.json");
        std::fs::write(&target, "old").unwrap();
        drop(PendingFile::create(&target).unwrap());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        PendingFile::create(&target).unwrap().commit("new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        assert!(PendingFile::create(&dir).is_err());
        // A device is written in place, never replaced.
        PendingFile::create(Path::new("/dev/null"))
            .unwrap()
            .commit("x")
            .unwrap();
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
