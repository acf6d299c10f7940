//! The JSON-lines file itself: scanning it into an index at open, repairing a
//! torn last line, and durable appends.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::FileSinkError;

/// The fields of a written line that identify its order.
#[derive(Deserialize)]
struct LineKey {
    store_id: String,
    order_id: u64,
}

/// An open orders file and the index of the orders it contains.
///
/// Invariant: every order in `index` is on disk and synced, because the index
/// is only extended after `sync_data` returns, and a reload syncs the file
/// before it trusts what it read.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Number of lines in the file, blank lines included.
    lines: u64,
    /// Line number (from 1) of each order, by store id and then order id.
    index: HashMap<String, HashMap<u64, u64>>,
    /// Set when an append failed partway: the file may hold bytes the index
    /// does not know, so the next operation rescans it first.
    stale: bool,
}

impl Journal {
    /// Opens or creates the file, repairs a torn last line and indexes every
    /// order in it.
    pub(crate) fn open(path: &Path) -> Result<Self, FileSinkError> {
        let io_error = |source| FileSinkError::Io {
            path: path.to_path_buf(),
            source,
        };

        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty());
        if let Some(parent) = parent {
            std::fs::create_dir_all(parent).map_err(io_error)?;
        }
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_error)?;
        if !existed {
            // A new file's directory entry is only durable once its
            // directory is synced.
            sync_directory(parent.unwrap_or(Path::new("."))).map_err(io_error)?;
        }

        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            lines: 0,
            index: HashMap::new(),
            stale: false,
        };
        journal.scan()?;
        Ok(journal)
    }

    /// Returns the line number of an order already in the file.
    pub(crate) fn find(
        &mut self,
        store_id: &str,
        order_id: u64,
    ) -> Result<Option<u64>, FileSinkError> {
        self.reload_if_stale()?;
        Ok(self
            .index
            .get(store_id)
            .and_then(|orders| orders.get(&order_id))
            .copied())
    }

    /// Appends one line for an order, syncs it to disk and returns its line
    /// number. `line` must be one JSON object without a newline.
    pub(crate) fn append(
        &mut self,
        store_id: &str,
        order_id: u64,
        line: &[u8],
    ) -> Result<u64, FileSinkError> {
        self.reload_if_stale()?;

        let mut record = Vec::with_capacity(line.len() + 1);
        record.extend_from_slice(line);
        record.push(b'\n');

        // Until the sync returns, the file may contain part of this line. So
        // a failure leaves the journal stale, and the next operation rescans.
        self.stale = true;
        self.file
            .write_all(&record)
            .map_err(|source| self.io_error(source))?;
        self.file
            .sync_data()
            .map_err(|source| self.io_error(source))?;
        self.stale = false;

        self.lines += 1;
        self.index
            .entry(store_id.to_owned())
            .or_default()
            .insert(order_id, self.lines);
        Ok(self.lines)
    }

    /// Marks the index as untrustworthy, for a lock poisoned by a panic.
    pub(crate) fn mark_stale(&mut self) {
        self.stale = true;
    }

    fn reload_if_stale(&mut self) -> Result<(), FileSinkError> {
        if self.stale {
            tracing::warn!(path = %self.path.display(), "rescanning orders file after a failed append");
            self.scan()?;
            self.stale = false;
        }
        Ok(())
    }

    /// Reads the whole file, truncates an incomplete last line, rebuilds the
    /// index and syncs the file.
    fn scan(&mut self) -> Result<(), FileSinkError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|source| self.io_error(source))?;
        let mut reader = BufReader::new(&self.file);
        let mut index: HashMap<String, HashMap<u64, u64>> = HashMap::new();
        let mut lines = 0;
        let mut offset = 0u64;
        let mut torn_bytes = 0;
        let mut buffer = Vec::new();

        loop {
            buffer.clear();
            let read =
                reader
                    .read_until(b'\n', &mut buffer)
                    .map_err(|source| FileSinkError::Io {
                        path: self.path.clone(),
                        source,
                    })?;
            if read == 0 {
                break;
            }
            if buffer.last() != Some(&b'\n') {
                // Only a crash during an append leaves a line without its
                // newline, and that append was never acknowledged.
                torn_bytes = read;
                break;
            }
            lines += 1;
            offset += read as u64;
            if buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let key: LineKey =
                serde_json::from_slice(&buffer).map_err(|error| FileSinkError::Corrupt {
                    path: self.path.clone(),
                    line: lines,
                    error: error.to_string(),
                })?;
            // A repeated order keeps its first line, which is the one that
            // was reported as delivered.
            index
                .entry(key.store_id)
                .or_default()
                .entry(key.order_id)
                .or_insert(lines);
        }
        drop(reader);

        if torn_bytes > 0 {
            tracing::warn!(
                path = %self.path.display(),
                line = lines + 1,
                bytes = torn_bytes,
                "removing an incomplete last line left by an interrupted append"
            );
            self.file
                .set_len(offset)
                .map_err(|source| self.io_error(source))?;
        }
        self.file
            .sync_all()
            .map_err(|source| self.io_error(source))?;

        self.index = index;
        self.lines = lines;
        Ok(())
    }

    fn io_error(&self, source: std::io::Error) -> FileSinkError {
        FileSinkError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

fn sync_directory(directory: &Path) -> std::io::Result<()> {
    File::open(directory)?.sync_all()
}
