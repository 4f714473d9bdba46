//! Crash-safe file writing, and bounded reading of what users give us.
//!
//! **Invariant:** every whole file arcsynth writes goes through [`write_atomic`]: a
//! temporary file in the same directory, fsync, rename over the target, fsync of the
//! directory. A crash leaves either the old file or the new one, never half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// The largest task, submission, program or library file read. A Kaggle challenges file
/// of 1,000 tasks is well under it; parsing a file this size as JSON takes about 20
/// bytes of memory per byte, so the cap keeps any input under 1 GB.
pub const MAX_INPUT_BYTES: u64 = 32 << 20;

/// Reads a text file the user named, refusing anything that is not a regular file (a
/// FIFO would block, `/dev/zero` never ends) or is over `max` bytes. The errors say
/// which, in words meant to follow the file's name.
pub fn read_input(path: &Path, max: u64) -> io::Result<String> {
    use std::io::Read;
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    if meta.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} bytes, more than the {max} read", meta.len()),
        ));
    }
    let mut text = String::new();
    // The file may grow after the check; never read past the cap.
    File::open(path)?.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("more than the {max} bytes read")));
    }
    Ok(text)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable. Directories cannot be opened for sync on
        // every platform; losing only this step is acceptable there.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Appends `bytes` in one write and syncs them to disk. Readers of files written this
/// way skip a truncated last line (a crash mid-append).
pub fn append_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_data()
}

/// Parses JSON Lines text written by appends: blank lines are skipped, and so is a last
/// line that does not parse (a crash cut it short). Any other bad line is an error with
/// its 1-based line number.
pub fn parse_jsonl<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, (usize, serde_json::Error)> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            Err(_) if i + 1 == lines.len() => break,
            Err(e) => return Err((i + 1, e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("arcsynth-fsio-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        assert!(write_atomic(Path::new("/nonexistent-arcsynth-dir/x.json"), b"x").is_err());
    }
}
