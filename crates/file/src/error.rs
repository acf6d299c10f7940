use std::path::PathBuf;

/// A failure to open, read or write the orders file.
#[derive(Debug, thiserror::Error)]
pub enum FileSinkError {
    /// Reading, writing or syncing the file failed.
    #[error("orders file `{}` failed: {source}; check that its folder exists or can be created, is writable and has free space", path.display())]
    Io {
        /// The file's path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A complete line is not a canonical order.
    #[error("line {line} of orders file `{}` is not a canonical order ({error}); restore the line or move the file aside", path.display())]
    Corrupt {
        /// The file's path.
        path: PathBuf,
        /// The line's number, from 1.
        line: u64,
        /// The JSON parser's error message.
        error: String,
    },
}
