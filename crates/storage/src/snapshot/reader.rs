//! [`SnapshotReader`]: verifies a snapshot file while streaming its content.

use std::io;
use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::error::Result;
use crate::record::decode_record;
use crate::record::le_u32;
use crate::record::Decoded;
use crate::record::RECORD_HEADER_BYTES;
use crate::snapshot::format::decode_header;
use crate::snapshot::format::decode_trailer;
use crate::snapshot::format::header_len;
use crate::snapshot::format::SnapshotFileMeta;
use crate::snapshot::format::Trailer;
use crate::snapshot::format::HEADER_FIXED_BYTES;
use crate::snapshot::format::SNAPSHOT_FRAME_BYTES_MAX;
use crate::snapshot::format::TRAILER_BYTES;
use crate::vfs::read_exact_at;
use crate::vfs::OpenMode;
use crate::vfs::Vfs;
use crate::vfs::VfsFile;

/// Reads one snapshot file. The header and trailer are checked by `open`; the content is
/// checked frame by frame as it is read, and the totals at the end. Only verified bytes are
/// ever returned; a damaged frame makes `read` fail with an `InvalidData` error whose inner
/// error is an [`Error::Corrupt`] naming the file and byte offset.
pub struct SnapshotReader {
    path: PathBuf,
    file: Arc<dyn VfsFile>,
    meta: SnapshotFileMeta,
    trailer: Trailer,
    /// Next frame offset.
    pos: u64,
    /// Where the frames end (the trailer starts).
    frames_end: u64,
    /// The current frame's data and how much of it was returned.
    frame: Vec<u8>,
    frame_pos: usize,
    frames_seen: u64,
    content_seen: u64,
    content_crc: u32,
    at_end: bool,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("path", &self.path)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl SnapshotReader {
    /// Open `path`, checking header and trailer.
    pub fn open(vfs: &dyn Vfs, path: &Path) -> Result<Self> {
        let file = vfs
            .open(path, OpenMode::Read)
            .map_err(|e| Error::io("open", path, e))?;
        let len = file.len_bytes().map_err(|e| Error::io("stat", path, e))?;
        let len_min = (HEADER_FIXED_BYTES + 4 + TRAILER_BYTES) as u64;
        if len < len_min {
            return Err(Error::corrupt(
                path,
                0,
                format!("file is {len} bytes, shorter than the minimum {len_min}"),
            ));
        }
        let mut fixed = [0u8; HEADER_FIXED_BYTES];
        read_exact_at(&*file, &mut fixed, 0).map_err(|e| Error::io("read", path, e))?;
        let hlen =
            header_len(&fixed).map_err(|(offset, reason)| Error::corrupt(path, offset, reason))?;
        let trailer_at = len - TRAILER_BYTES as u64;
        if hlen as u64 > trailer_at {
            return Err(Error::corrupt(
                path,
                32,
                format!("header of {hlen} bytes runs into the trailer"),
            ));
        }
        let mut header = vec![0u8; hlen];
        read_exact_at(&*file, &mut header, 0).map_err(|e| Error::io("read", path, e))?;
        let meta = decode_header(&header)
            .map_err(|(offset, reason)| Error::corrupt(path, offset, reason))?;
        let mut tbytes = [0u8; TRAILER_BYTES];
        read_exact_at(&*file, &mut tbytes, trailer_at).map_err(|e| Error::io("read", path, e))?;
        let trailer = decode_trailer(&tbytes)
            .map_err(|(offset, reason)| Error::corrupt(path, trailer_at + offset, reason))?;
        if trailer.content_bytes > trailer_at - hlen as u64 {
            return Err(Error::corrupt(
                path,
                trailer_at + 8,
                format!(
                    "trailer claims {} content bytes, more than the file holds",
                    trailer.content_bytes
                ),
            ));
        }
        Ok(SnapshotReader {
            path: path.to_path_buf(),
            file,
            meta,
            trailer,
            pos: hlen as u64,
            frames_end: trailer_at,
            frame: Vec::new(),
            frame_pos: 0,
            frames_seen: 0,
            content_seen: 0,
            content_crc: 0,
            at_end: false,
        })
    }

    /// The snapshot's metadata.
    pub fn meta(&self) -> &SnapshotFileMeta {
        &self.meta
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Content length recorded in the trailer.
    pub fn content_bytes(&self) -> u64 {
        self.trailer.content_bytes
    }

    /// Read (and discard) everything left, verifying every checksum and the totals.
    pub fn verify_to_end(&mut self) -> Result<()> {
        self.frame_pos = self.frame.len();
        while self.next_frame()? {
            self.frame_pos = self.frame.len();
        }
        Ok(())
    }

    /// Load the next frame; `false` at the (verified) end.
    fn next_frame(&mut self) -> Result<bool> {
        if self.at_end {
            return Ok(false);
        }
        if self.pos >= self.frames_end {
            let t = &self.trailer;
            if self.frames_seen != t.frame_count
                || self.content_seen != t.content_bytes
                || self.content_crc != t.content_crc
            {
                return Err(Error::corrupt(
                    &self.path,
                    self.frames_end,
                    format!(
                        "content does not match the trailer: {} frames / {} bytes / crc {:#010x} read, trailer says {} / {} / {:#010x}",
                        self.frames_seen, self.content_seen, self.content_crc, t.frame_count, t.content_bytes, t.content_crc
                    ),
                ));
            }
            self.at_end = true;
            return Ok(false);
        }
        let remaining = self.frames_end - self.pos;
        if remaining < RECORD_HEADER_BYTES as u64 {
            return Err(Error::corrupt(
                &self.path,
                self.pos,
                "partial frame header before the trailer",
            ));
        }
        let mut head = [0u8; RECORD_HEADER_BYTES];
        read_exact_at(&*self.file, &mut head, self.pos)
            .map_err(|e| Error::io("read", &self.path, e))?;
        let len = le_u32(&head, 0).unwrap_or(0) as usize;
        if len == 0
            || len > SNAPSHOT_FRAME_BYTES_MAX
            || (RECORD_HEADER_BYTES + len) as u64 > remaining
        {
            return Err(Error::corrupt(
                &self.path,
                self.pos,
                format!("bad frame length {len} ({remaining} bytes left before the trailer)"),
            ));
        }
        let mut buf = vec![0u8; RECORD_HEADER_BYTES + len];
        read_exact_at(&*self.file, &mut buf, self.pos)
            .map_err(|e| Error::io("read", &self.path, e))?;
        match decode_record(&buf, SNAPSHOT_FRAME_BYTES_MAX) {
            Ok(Decoded::Record { payload, .. }) => {
                self.content_crc = crc32c::crc32c_append(self.content_crc, payload);
                self.frame.clear();
                self.frame.extend_from_slice(payload);
            }
            Ok(Decoded::EndOfData) => {
                return Err(Error::corrupt(
                    &self.path,
                    self.pos,
                    "zeros where a frame belongs",
                ))
            }
            Err(e) => return Err(Error::corrupt(&self.path, self.pos, format!("frame: {e}"))),
        }
        self.frame_pos = 0;
        self.pos += buf.len() as u64;
        self.frames_seen += 1;
        self.content_seen += len as u64;
        Ok(true)
    }
}

impl Read for SnapshotReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.frame_pos >= self.frame.len() {
            if !self.next_frame()? {
                return Ok(0);
            }
        }
        let rest = self.frame.get(self.frame_pos..).unwrap_or_default();
        let n = rest.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.frame_pos += n;
        Ok(n)
    }
}
