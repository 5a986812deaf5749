//! What an uploaded file is, decided from its bytes alone: the allowed formats and their magic
//! numbers, the text check, the declared type's agreement, a safe display name, an audio file's
//! duration from the container's own header, and an image's size and thumbnail.
//!
//! Pure functions over bytes: no I/O, no async, nothing here trusts the client's name or type.
//! Every function takes any input, however short or hostile, without panicking.

use std::fmt;
use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

/// The allowed formats, decided from the bytes (magic numbers), never from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
    Pdf,
    Text,
    Ogg,
    Webm,
    Mp4,
    Mp3,
}

impl Format {
    /// Every format, in declaration order.
    pub const ALL: [Format; 10] = [
        Format::Jpeg,
        Format::Png,
        Format::Gif,
        Format::Webp,
        Format::Pdf,
        Format::Text,
        Format::Ogg,
        Format::Webm,
        Format::Mp4,
        Format::Mp3,
    ];

    /// Canonical stored type: image/jpeg, image/png, image/gif, image/webp, application/pdf,
    /// text/plain, audio/ogg, audio/webm, audio/mp4, audio/mpeg.
    pub fn mimetype(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Webp => "image/webp",
            Format::Pdf => "application/pdf",
            Format::Text => "text/plain",
            Format::Ogg => "audio/ogg",
            Format::Webm => "audio/webm",
            Format::Mp4 => "audio/mp4",
            Format::Mp3 => "audio/mpeg",
        }
    }

    /// The usual file extension, without the dot: what a nameless file is called after.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Pdf => "pdf",
            Format::Text => "txt",
            Format::Ogg => "ogg",
            Format::Webm => "webm",
            Format::Mp4 => "m4a",
            Format::Mp3 => "mp3",
        }
    }

    /// JPEG, PNG, GIF and WebP: the formats [`image_info`] decodes.
    pub fn is_image(self) -> bool {
        matches!(
            self,
            Format::Jpeg | Format::Png | Format::Gif | Format::Webp
        )
    }

    /// Ogg, WebM, MP4 and MP3: the formats [`audio_duration_ms`] reads.
    pub fn is_audio(self) -> bool {
        matches!(self, Format::Ogg | Format::Webm | Format::Mp4 | Format::Mp3)
    }

    /// Served inline (images and audio), else as a download.
    pub fn inline(self) -> bool {
        self.is_image() || self.is_audio()
    }

    /// Parses a canonical mimetype back (for stored metadata); None for anything else, aliases
    /// included: stored metadata only ever holds [`Format::mimetype`]'s words.
    pub fn from_mimetype(m: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.mimetype() == m)
    }
}

// ---------------------------------------------------------------------------------------------
// Sniffing
// ---------------------------------------------------------------------------------------------

/// How many leading bytes `sniff` wants (it also works with fewer when the file is shorter).
pub const SNIFF_BYTES: usize = 8192;

/// The format of a file from its first bytes; None when it is none of the allowed ones.
///
/// Binary formats are recognised by their magic numbers, checked a little further than the first
/// bytes (a WebM's EBML DocType, an Ogg stream's audio codec, an MP4's brand, an MP3's frame
/// header), so that Matroska, Theora, HEIF or QuickTime files are refused. Text: no magic number
/// matched, the bytes are valid UTF-8 (a multi-byte character cut at the very end of `head` is
/// fine), with no control character but `\t \n \r \x0c`, an optional BOM. An empty file is None.
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.is_empty() {
        return None;
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Format::Webp);
    }
    if head.starts_with(b"%PDF-") {
        return Some(Format::Pdf);
    }
    if is_ogg_audio(head) {
        return Some(Format::Ogg);
    }
    if ebml_doctype(head) == Some(&b"webm"[..]) {
        return Some(Format::Webm);
    }
    if is_mp4(head) {
        return Some(Format::Mp4);
    }
    if is_mp3(head) {
        return Some(Format::Mp3);
    }
    let mut check = TextCheck::default();
    if check.feed(head) {
        return Some(Format::Text);
    }
    None
}

/// An Ogg stream whose first packet is an audio codec's identification header (Opus, Vorbis,
/// FLAC or Speex): Ogg Theora video is not audio.
fn is_ogg_audio(head: &[u8]) -> bool {
    let Some(page) = OggPage::parse(head) else {
        return false;
    };
    let body = page.body;
    body.starts_with(b"OpusHead")
        || body.starts_with(b"\x01vorbis")
        || body.starts_with(b"\x7FFLAC")
        || body.starts_with(b"Speex   ")
}

/// An ISO base media file (`ftyp` first) whose major brand is an MP4/M4A one; HEIF, AVIF and
/// QuickTime brands are not.
fn is_mp4(head: &[u8]) -> bool {
    if head.len() < 12 || &head[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if size < 16 {
        return false;
    }
    const BRANDS: &[&[u8; 4]] = &[
        b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6",
        b"iso7", b"iso8", b"iso9", b"dash", b"MSNV", b"avc1",
    ];
    BRANDS.iter().any(|b| &head[8..12] == *b)
}

/// MPEG audio Layer III: an ID3v2 tag followed by a frame header (or a tag reaching past the
/// head), or a frame header at the start followed by a second one where the head holds it.
fn is_mp3(head: &[u8]) -> bool {
    if let Some(tag) = id3v2_size(head) {
        let Ok(tag) = usize::try_from(tag) else {
            return true;
        };
        if tag >= head.len() {
            return true;
        }
        // Some encoders pad the tag with zeros beyond its stated size.
        let start = head[tag..]
            .iter()
            .position(|&b| b != 0)
            .map_or(head.len(), |p| tag + p);
        return head.len() - start < 4 || Mp3Frame::parse(&head[start..]).is_some();
    }
    let Some(frame) = Mp3Frame::parse(head) else {
        return false;
    };
    let next = frame.length;
    head.len() < next + 4 || Mp3Frame::parse(&head[next..]).is_some()
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// Checks a text file's whole body as it streams: valid UTF-8 across chunk boundaries, and no
/// control character but `\t \n \r \x0c` (NUL, the other C0 controls, DEL and C1 refused).
#[derive(Default)]
pub struct TextCheck {
    /// The start of a character cut by the end of the last chunk (at most 3 bytes).
    pending: Vec<u8>,
    invalid: bool,
}

impl TextCheck {
    /// Feeds the next chunk; false once the body so far is not text (and from then on).
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.invalid {
            return false;
        }
        let mut rest = chunk;
        // Completes the character the last chunk cut, one byte at a time.
        while !self.pending.is_empty() {
            let Some((&b, tail)) = rest.split_first() else {
                return true;
            };
            rest = tail;
            self.pending.push(b);
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    if !text_chars_ok(s) {
                        return self.fail();
                    }
                    self.pending.clear();
                }
                Err(e) if e.error_len().is_some() => return self.fail(),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(rest) {
            Ok(s) => text_chars_ok(s) || self.fail(),
            Err(e) if e.error_len().is_some() => self.fail(),
            Err(e) => {
                let (valid, cut) = rest.split_at(e.valid_up_to());
                let ok = std::str::from_utf8(valid).is_ok_and(text_chars_ok);
                if !ok {
                    return self.fail();
                }
                self.pending.extend_from_slice(cut);
                true
            }
        }
    }

    /// Whether the whole body was text: everything fed was, and no character is left cut.
    pub fn finish(self) -> bool {
        !self.invalid && self.pending.is_empty()
    }

    fn fail(&mut self) -> bool {
        self.invalid = true;
        false
    }
}

/// No control character but tab, line feed, carriage return and form feed.
fn text_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

// ---------------------------------------------------------------------------------------------
// The declared type
// ---------------------------------------------------------------------------------------------

/// Whether the type the client declared (a multipart part's Content-Type; parameters such as
/// `; charset=utf-8` or `;codecs=opus` ignored, case-insensitive) agrees with the bytes.
///
/// None, "" and `application/octet-stream` agree with anything. Aliases agree: image/jpg and
/// image/pjpeg (JPEG), image/x-png (PNG), application/x-pdf (PDF), audio/webm and video/webm
/// (WebM), audio/mp4, audio/m4a, audio/x-m4a and video/mp4 (MP4), audio/mpeg and audio/mp3 (MP3),
/// audio/ogg, audio/opus and application/ogg (Ogg). Text agrees with text/plain, text/markdown,
/// text/x-markdown and text/csv only: what browsers send for .txt, .md and .csv, stored as
/// text/plain and served as a download; text/html, text/xml, image/svg+xml and the like never,
/// since they name markup a browser would run. audio/aac names a raw ADTS stream, not MP4: refused.
pub fn declared_agrees(declared: Option<&str>, format: Format) -> bool {
    let Some(declared) = declared else {
        return true;
    };
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || essence == "application/octet-stream" {
        return true;
    }
    let aliases: &[&str] = match format {
        Format::Jpeg => &["image/jpeg", "image/jpg", "image/pjpeg"],
        Format::Png => &["image/png", "image/x-png"],
        Format::Gif => &["image/gif"],
        Format::Webp => &["image/webp"],
        Format::Pdf => &["application/pdf", "application/x-pdf"],
        Format::Text => &["text/plain", "text/markdown", "text/x-markdown", "text/csv"],
        Format::Ogg => &["audio/ogg", "audio/opus", "application/ogg"],
        Format::Webm => &["audio/webm", "video/webm"],
        Format::Mp4 => &["audio/mp4", "audio/m4a", "audio/x-m4a", "video/mp4"],
        Format::Mp3 => &["audio/mpeg", "audio/mp3"],
    };
    aliases.contains(&essence.as_str())
}

// ---------------------------------------------------------------------------------------------
// The display name
// ---------------------------------------------------------------------------------------------

/// The longest display name, in bytes of UTF-8 (so at most 255 characters, and a name any common
/// file system saves as it is).
pub const MAX_FILENAME_BYTES: usize = 255;

/// A safe display name: the last path component (after `/` or `\`), with control characters,
/// bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the BOM and
/// `<>:"|?*` removed, runs of white space collapsed to one space, leading and trailing spaces and
/// dots trimmed, at most [`MAX_FILENAME_BYTES`] bytes (the stem cut, the extension kept).
///
/// When nothing is left: "file" plus the format's usual extension. Never empty, never "." or
/// "..", and never starting with a dot: a hidden file on the downloader's disk is a surprise.
pub fn safe_filename(raw: Option<&str>, format: Format) -> String {
    let raw = raw.unwrap_or("");
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name = String::with_capacity(last.len());
    let mut space = false;
    for c in last.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if c.is_control() || is_bidi_control(c) || c == '\u{FEFF}' || "<>:\"|?*".contains(c) {
            continue;
        }
        if space && !name.is_empty() {
            name.push(' ');
        }
        space = false;
        name.push(c);
    }
    let mut name = trim_name(&name).to_owned();
    if name.len() > MAX_FILENAME_BYTES {
        name = shorten(&name);
    }
    if name.is_empty() {
        return format!("file.{}", format.extension());
    }
    name
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn trim_name(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '.')
}

/// Cuts a name to [`MAX_FILENAME_BYTES`]: the stem is cut at a character boundary and the
/// extension (up to 16 bytes after the last dot) kept; a longer "extension" is just cut.
fn shorten(name: &str) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 17 => name.split_at(i),
        _ => (name, ""),
    };
    let room = MAX_FILENAME_BYTES - ext.len();
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = trim_name(&stem[..cut]);
    if stem.is_empty() {
        return String::new();
    }
    format!("{stem}{ext}")
}

// ---------------------------------------------------------------------------------------------
// Audio duration
// ---------------------------------------------------------------------------------------------

/// How many leading bytes `audio_duration_ms` wants.
pub const HEAD_BYTES: usize = 64 * 1024;
/// How many trailing bytes `audio_duration_ms` wants.
pub const TAIL_BYTES: usize = 64 * 1024;

/// An audio file's duration in milliseconds (rounded to the nearest) where the container states
/// it, from its first and last bytes: `head` the first up to [`HEAD_BYTES`], `tail` the last up
/// to [`TAIL_BYTES`] (they overlap for small files), `total` the file's size.
///
/// - MP4/M4A: `moov/mvhd`'s duration over its timescale; `moov` at the start, or found by walking
///   the top-level boxes from the head to the tail.
/// - Ogg: the last page's granule position; Opus: minus the OpusHead pre-skip, over 48 kHz;
///   Vorbis: over the identification header's sample rate. Other codecs: None.
/// - MP3: the Xing/Info or VBRI frame count × samples per frame / sample rate (encoder padding
///   included); else, taken as constant bit rate, (total − ID3v2 tag − ID3v1 tag) × 8 / bit rate.
/// - WebM: Segment/Info/Duration × TimecodeScale; None when absent, as MediaRecorder writes it.
///
/// Anything else, or unreadable: None. Never panics.
pub fn audio_duration_ms(format: Format, head: &[u8], tail: &[u8], total: u64) -> Option<u64> {
    let file = Ends::new(head, tail, total)?;
    match format {
        Format::Mp4 => mp4_duration(&file),
        Format::Ogg => ogg_duration(head, tail),
        Format::Mp3 => mp3_duration(&file),
        Format::Webm => webm_duration(head),
        _ => None,
    }
}

/// `n / d` seconds in milliseconds, rounded to the nearest; None for `d == 0`.
fn millis(n: u64, d: u64) -> Option<u64> {
    if d == 0 {
        return None;
    }
    let ms = (u128::from(n) * 1000 + u128::from(d) / 2) / u128::from(d);
    u64::try_from(ms).ok()
}

/// A file of which only the first and the last bytes are at hand.
struct Ends<'a> {
    head: &'a [u8],
    tail: &'a [u8],
    total: u64,
}

impl<'a> Ends<'a> {
    fn new(head: &'a [u8], tail: &'a [u8], total: u64) -> Option<Self> {
        // A head or tail longer than the file contradicts `total`.
        if head.len() as u64 > total || tail.len() as u64 > total {
            return None;
        }
        Some(Ends { head, tail, total })
    }

    /// `len` bytes at `offset` in the file, where the head or the tail holds them all.
    fn at(&self, offset: u64, len: usize) -> Option<&'a [u8]> {
        let end = offset.checked_add(len as u64)?;
        if end <= self.head.len() as u64 {
            let o = usize::try_from(offset).ok()?;
            return self.head.get(o..o + len);
        }
        let tail_start = self.total - self.tail.len() as u64;
        if offset >= tail_start && end <= self.total {
            let o = usize::try_from(offset - tail_start).ok()?;
            return self.tail.get(o..o + len);
        }
        None
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

// MP4 ------------------------------------------------------------------------------------------

/// At most this many boxes are walked at one level: real files have a handful.
const MAX_BOXES: usize = 1024;

/// An ISO BMFF box header at `offset`: (type, header length, whole box length).
fn mp4_box(file: &Ends, offset: u64, end: u64) -> Option<([u8; 4], u64, u64)> {
    let h = file.at(offset, 8)?;
    let kind: [u8; 4] = h[4..8].try_into().ok()?;
    let (header, size) = match be_u32(h, 0)? {
        0 => (8, end.checked_sub(offset)?),
        1 => (16, be_u64(file.at(offset + 8, 8)?, 0)?),
        n => (8, u64::from(n)),
    };
    if size < header || offset.checked_add(size)? > end {
        return None;
    }
    Some((kind, header, size))
}

/// The first box of type `kind` among the boxes from `start` to `end`: (offset, header, size).
fn mp4_find(file: &Ends, start: u64, end: u64, kind: &[u8; 4]) -> Option<(u64, u64, u64)> {
    let mut offset = start;
    for _ in 0..MAX_BOXES {
        if offset >= end {
            return None;
        }
        let (k, header, size) = mp4_box(file, offset, end)?;
        if &k == kind {
            return Some((offset, header, size));
        }
        offset += size;
    }
    None
}

fn mp4_duration(file: &Ends) -> Option<u64> {
    let (moov, header, size) = mp4_find(file, 0, file.total, b"moov")?;
    let (mvhd, header, _) = mp4_find(file, moov + header, moov + size, b"mvhd")?;
    let full = file.at(mvhd + header, 4)?;
    let (timescale, duration) = if full[0] == 1 {
        let b = file.at(mvhd + header + 4 + 16, 12)?;
        let duration = be_u64(b, 4)?;
        (be_u32(b, 0)?, (duration != u64::MAX).then_some(duration)?)
    } else {
        let b = file.at(mvhd + header + 4 + 8, 8)?;
        let duration = be_u32(b, 4)?;
        (
            be_u32(b, 0)?,
            u64::from((duration != u32::MAX).then_some(duration)?),
        )
    };
    millis(duration, u64::from(timescale))
}

// Ogg ------------------------------------------------------------------------------------------

/// One Ogg page, CRC checked.
struct OggPage<'a> {
    granule: u64,
    serial: u32,
    body: &'a [u8],
}

impl<'a> OggPage<'a> {
    /// The page at the start of `b`, if it is a whole valid page.
    fn parse(b: &'a [u8]) -> Option<Self> {
        if !b.starts_with(b"OggS") || *b.get(4)? != 0 {
            return None;
        }
        let segments = usize::from(*b.get(26)?);
        let table = b.get(27..27 + segments)?;
        let body_len: usize = table.iter().map(|&s| usize::from(s)).sum();
        let len = 27 + segments + body_len;
        let page = b.get(..len)?;
        let stated = le_u32(page, 22)?;
        let crc = page.iter().enumerate().fold(0u32, |crc, (i, &byte)| {
            let byte = if (22..26).contains(&i) { 0 } else { byte };
            (crc << 8) ^ OGG_CRC[usize::from((crc >> 24) as u8 ^ byte)]
        });
        if crc != stated {
            return None;
        }
        Some(OggPage {
            granule: le_u64(page, 6)?,
            serial: le_u32(page, 14)?,
            body: &page[27 + segments..],
        })
    }
}

/// The Ogg CRC-32's table (polynomial 0x04C11DB7, not reflected, no final xor).
const OGG_CRC: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// At most this many candidate pages are tried from the end: a real file's last page of the
/// first stream is among the very last.
const MAX_OGG_TRIES: usize = 64;

fn ogg_duration(head: &[u8], tail: &[u8]) -> Option<u64> {
    let first = OggPage::parse(head)?;
    let body = first.body;
    // The last page of the first stream that states a granule position (-1: none ends there).
    let mut last = None;
    let mut from = tail.len();
    for _ in 0..MAX_OGG_TRIES {
        let Some(at) = tail[..from].windows(4).rposition(|w| w == b"OggS") else {
            break;
        };
        if let Some(page) = OggPage::parse(&tail[at..]) {
            if page.serial == first.serial && page.granule != u64::MAX {
                last = Some(page.granule);
                break;
            }
        }
        from = at;
    }
    let granule = last?;
    if body.starts_with(b"OpusHead") {
        let pre_skip = u64::from(le_u16(body, 10)?);
        millis(granule.checked_sub(pre_skip)?, 48_000)
    } else if body.starts_with(b"\x01vorbis") {
        millis(granule, u64::from(le_u32(body, 12)?))
    } else {
        None
    }
}

// MP3 ------------------------------------------------------------------------------------------

/// The whole size of an ID3v2 tag at the start of `b` (header, body and footer).
fn id3v2_size(b: &[u8]) -> Option<u64> {
    if !b.starts_with(b"ID3") || b.len() < 10 {
        return None;
    }
    let (major, flags) = (b[3], b[5]);
    if !(2..=4).contains(&major) || b[4] == 0xFF || b[6..10].iter().any(|&x| x & 0x80 != 0) {
        return None;
    }
    let body = b[6..10].iter().fold(0u64, |n, &x| (n << 7) | u64::from(x));
    let footer = if flags & 0x10 != 0 { 10 } else { 0 };
    Some(10 + body + footer)
}

/// An MPEG audio Layer III frame header.
struct Mp3Frame {
    /// 1 for MPEG-1, 2 for MPEG-2 and MPEG-2.5.
    version: u8,
    mono: bool,
    kbps: u32,
    sample_rate: u32,
    /// The whole frame's length in bytes.
    length: usize,
}

impl Mp3Frame {
    fn parse(b: &[u8]) -> Option<Self> {
        let h = b.get(..4)?;
        if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
            return None;
        }
        let version_bits = (h[1] >> 3) & 3;
        let layer_bits = (h[1] >> 1) & 3;
        if version_bits == 1 || layer_bits != 1 {
            return None;
        }
        let bitrate_index = usize::from(h[2] >> 4);
        let rate_index = usize::from((h[2] >> 2) & 3);
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        const KBPS_V1: [u32; 15] = [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ];
        const KBPS_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        let (version, kbps, sample_rate) = match version_bits {
            3 => (
                1,
                KBPS_V1[bitrate_index],
                [44_100, 48_000, 32_000][rate_index],
            ),
            2 => (
                2,
                KBPS_V2[bitrate_index],
                [22_050, 24_000, 16_000][rate_index],
            ),
            _ => (
                2,
                KBPS_V2[bitrate_index],
                [11_025, 12_000, 8_000][rate_index],
            ),
        };
        let padding = u32::from((h[2] >> 1) & 1);
        let coefficient = if version == 1 { 144 } else { 72 };
        let length = (coefficient * kbps * 1000 / sample_rate + padding) as usize;
        Some(Mp3Frame {
            version,
            mono: h[3] >> 6 == 3,
            kbps,
            sample_rate,
            length,
        })
    }

    fn samples(&self) -> u64 {
        if self.version == 1 {
            1152
        } else {
            576
        }
    }
}

fn mp3_duration(file: &Ends) -> Option<u64> {
    let head = file.head;
    let tag = id3v2_size(head).unwrap_or(0);
    let mut start = usize::try_from(tag).ok()?;
    while head.get(start) == Some(&0) {
        start += 1;
    }
    let bytes = head.get(start..)?;
    let frame = Mp3Frame::parse(bytes)?;
    let frame_bytes = bytes.get(..frame.length).unwrap_or(bytes);
    // The Xing/Info header sits after the side information; VBRI 32 bytes after the header.
    let side = match (frame.version, frame.mono) {
        (1, false) => 32,
        (1, true) | (_, false) => 17,
        (_, true) => 9,
    };
    let frames = match frame_bytes.get(4 + side..8 + side) {
        Some(b"Xing" | b"Info") => {
            let flags = be_u32(frame_bytes, 8 + side)?;
            if flags & 1 == 0 {
                None
            } else {
                Some(be_u32(frame_bytes, 12 + side)?)
            }
        }
        _ if frame_bytes.get(36..40) == Some(b"VBRI") => Some(be_u32(frame_bytes, 36 + 14)?),
        _ => None,
    };
    if let Some(frames) = frames {
        return millis(
            u64::from(frames) * frame.samples(),
            u64::from(frame.sample_rate),
        );
    }
    let id3v1 = if file.tail.len() >= 128 && file.tail[file.tail.len() - 128..].starts_with(b"TAG")
    {
        128
    } else {
        0
    };
    let audio = file.total.checked_sub(tag)?.checked_sub(id3v1)?;
    // bytes × 8 / (kbps × 1000) seconds.
    millis(audio * 8, u64::from(frame.kbps) * 1000)
}

// WebM -----------------------------------------------------------------------------------------

/// An EBML element header at the start of `b`: (id with its marker bits, data size or None
/// when unknown, header length).
fn ebml_element(b: &[u8]) -> Option<(u32, Option<u64>, usize)> {
    let first = *b.first()?;
    let id_len = first.leading_zeros() as usize + 1;
    if id_len > 4 {
        return None;
    }
    let id = b
        .get(..id_len)?
        .iter()
        .fold(0u32, |n, &x| (n << 8) | u32::from(x));
    let s = *b.get(id_len)?;
    let size_len = s.leading_zeros() as usize + 1;
    if size_len > 8 {
        return None;
    }
    let raw = b.get(id_len..id_len + size_len)?;
    let mask = if size_len == 8 { 0 } else { 0xFFu8 >> size_len };
    let size = raw[1..]
        .iter()
        .fold(u64::from(raw[0] & mask), |n, &x| (n << 8) | u64::from(x));
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    Some((id, (!unknown).then_some(size), id_len + size_len))
}

/// The children of the EBML master element whose data is `b`: (id, data).
fn ebml_children(b: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let mut rest = b;
    std::iter::from_fn(move || {
        let (id, size, header) = ebml_element(rest)?;
        let data = &rest[header..];
        let len = match size {
            Some(n) => usize::try_from(n).ok()?.min(data.len()),
            None => data.len(),
        };
        let (data, next) = data.split_at(len);
        rest = next;
        Some((id, data))
    })
    .take(MAX_BOXES)
}

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const CLUSTER: u32 = 0x1F43_B675;

/// The DocType of the EBML header at the start of `head` ("webm", "matroska").
fn ebml_doctype(head: &[u8]) -> Option<&[u8]> {
    let (id, size, header) = ebml_element(head)?;
    if id != EBML {
        return None;
    }
    let data = head.get(header..header + usize::try_from(size?).ok()?)?;
    ebml_children(data)
        .find(|&(id, _)| id == DOC_TYPE)
        .map(|(_, v)| v.strip_suffix(b"\0").unwrap_or(v))
}

fn webm_duration(head: &[u8]) -> Option<u64> {
    let mut top = ebml_children(head);
    let (id, _) = top.next()?;
    if id != EBML {
        return None;
    }
    let (id, segment) = top.next()?;
    if id != SEGMENT {
        return None;
    }
    let (_, info) = ebml_children(segment)
        .take_while(|&(id, _)| id != CLUSTER)
        .find(|&(id, _)| id == INFO)?;
    let mut scale = 1_000_000u64;
    let mut duration = None;
    for (id, data) in ebml_children(info) {
        match id {
            TIMECODE_SCALE if (1..=8).contains(&data.len()) => {
                scale = data.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x));
            }
            DURATION => {
                duration = match data.len() {
                    4 => Some(f64::from(f32::from_be_bytes(data.try_into().ok()?))),
                    8 => Some(f64::from_be_bytes(data.try_into().ok()?)),
                    _ => None,
                };
            }
            _ => {}
        }
    }
    // Duration is in TimecodeScale units of nanoseconds.
    let ms = duration? * scale as f64 / 1_000_000.0;
    // Past a year of audio the header is nonsense.
    (ms.is_finite() && (0.0..=3.2e10).contains(&ms)).then(|| ms.round() as u64)
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

/// The largest image accepted, in pixels (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;

/// The long side of a thumbnail, at most.
pub const THUMBNAIL_EDGE: u32 = 320;

/// The JPEG quality of thumbnails: small files, no visible blocks at 320 pixels.
const THUMBNAIL_QUALITY: u8 = 80;

/// Why an image was refused; its words are for the client.
#[derive(Debug)]
pub enum ImageError {
    /// The header states more than [`MAX_PIXELS`]; nothing was decoded.
    TooLarge { width: u32, height: u32 },
    /// The bytes are not a whole image of the format they claim.
    Undecodable(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::TooLarge { width, height } => write!(
                f,
                "the image is {width}x{height} pixels, more than {} megapixels",
                MAX_PIXELS / 1_000_000
            ),
            ImageError::Undecodable(why) => write!(f, "the image could not be decoded: {why}"),
        }
    }
}

impl std::error::Error for ImageError {}

/// A small rendition of an image, encoded.
#[derive(Debug)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    /// image/jpeg, or image/png when some pixel of the thumbnail is not opaque.
    pub mimetype: &'static str,
    pub width: u32,
    pub height: u32,
}

/// An image's size as displayed (EXIF orientation applied) and its thumbnail.
#[derive(Debug)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Thumbnail,
}

/// Reads the header's dimensions first and refuses more than [`MAX_PIXELS`] before decoding
/// anything (decompression bombs); then decodes under `image::Limits` sized for that header, and
/// makes a thumbnail no larger than [`THUMBNAIL_EDGE`] on the long side (never upscaled, always
/// made). GIF: the first frame. An EXIF orientation (JPEG, and PNG or WebP where present) is
/// applied, and width and height are as displayed.
pub fn image_info(format: Format, bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let image_format = match format {
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Png => ImageFormat::Png,
        Format::Gif => ImageFormat::Gif,
        Format::Webp => ImageFormat::WebP,
        _ => {
            return Err(ImageError::Undecodable(format!(
                "{} is not an image",
                format.mimetype()
            )))
        }
    };
    let undecodable = |e: image::ImageError| ImageError::Undecodable(e.to_string());
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    // Reading the header (and metadata such as EXIF) needs little.
    let mut header_limits = Limits::default();
    header_limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Undecodable("the image has no pixels".into()));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // The decoded pixels at worst (16 bits a channel, with alpha) and room for the decoder's own
    // buffers: a header that lied about its size cannot make the decoder allocate more.
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(u64::from(width) * u64::from(height) * 8 + 16 * 1024 * 1024);
    decoder.set_limits(limits).map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let thumbnail = thumbnail(&image)?;
    Ok(ImageInfo {
        width,
        height,
        thumbnail,
    })
}

/// The thumbnail's size: the long side at most [`THUMBNAIL_EDGE`], the aspect kept, at least
/// one pixel each way, never larger than the image.
pub fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= THUMBNAIL_EDGE {
        return (width, height);
    }
    let scale = |side: u32| {
        let s =
            (u64::from(side) * u64::from(THUMBNAIL_EDGE) + u64::from(long) / 2) / u64::from(long);
        (s as u32).max(1)
    };
    (scale(width), scale(height))
}

fn thumbnail(image: &DynamicImage) -> Result<Thumbnail, ImageError> {
    let (width, height) = thumbnail_size(image.width(), image.height());
    let small = if (width, height) == (image.width(), image.height()) {
        image.clone()
    } else {
        image.thumbnail_exact(width, height)
    };
    let encoding = |e: image::ImageError| {
        ImageError::Undecodable(format!("the thumbnail could not be encoded: {e}"))
    };
    let rgba = small.color().has_alpha().then(|| small.to_rgba8());
    let mut bytes = Vec::new();
    let mimetype = if let Some(rgba) = rgba.filter(|p| p.pixels().any(|p| p.0[3] < 255)) {
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(
                rgba.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgba8,
            )
            .map_err(encoding)?;
        "image/png"
    } else {
        let rgb = small.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, THUMBNAIL_QUALITY)
            .encode_image(&rgb)
            .map_err(encoding)?;
        "image/jpeg"
    };
    Ok(Thumbnail {
        bytes,
        mimetype,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/attachments/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const FIXTURES: &[(&str, Format)] = &[
        ("photo.jpg", Format::Jpeg),
        ("rotated.jpg", Format::Jpeg),
        ("broken.jpg", Format::Jpeg),
        ("alpha.png", Format::Png),
        ("bomb.png", Format::Png),
        ("anim.gif", Format::Gif),
        ("photo.webp", Format::Webp),
        ("doc.pdf", Format::Pdf),
        ("note.txt", Format::Text),
        ("voice.ogg", Format::Ogg),
        ("voice-vorbis.ogg", Format::Ogg),
        ("voice.webm", Format::Webm),
        ("voice-duration.webm", Format::Webm),
        ("voice.m4a", Format::Mp4),
        ("voice-faststart.m4a", Format::Mp4),
        ("voice.mp3", Format::Mp3),
        ("voice-vbr.mp3", Format::Mp3),
        ("voice-noid3.mp3", Format::Mp3),
    ];

    /// The duration as the server computes it: the first and last 64 KiB and the size.
    fn duration(format: Format, bytes: &[u8]) -> Option<u64> {
        let head = &bytes[..bytes.len().min(HEAD_BYTES)];
        let tail = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        audio_duration_ms(format, head, tail, bytes.len() as u64)
    }

    /// A small deterministic generator: the same "random" bytes on every run.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn every_fixture_sniffs_to_its_format() {
        for &(name, format) in FIXTURES {
            let bytes = fixture(name);
            assert!(bytes.len() < 60 * 1024, "{name} is too large a fixture");
            let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
            assert_eq!(sniff(head), Some(format), "{name}");
            // The first few bytes are enough for the magic, except the text rule.
            assert_eq!(sniff(&bytes[..bytes.len().min(64)]), Some(format), "{name}");
        }
    }

    #[test]
    fn sniff_refuses_what_is_not_allowed() {
        assert_eq!(sniff(b""), None);
        assert_eq!(
            sniff(b"MZ\x90\x00\x03\x00\x00\x00"),
            None,
            "a Windows executable"
        );
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01"), None, "an ELF executable");
        assert_eq!(sniff(b"PK\x03\x04\x14\x00"), None, "a zip");
        assert_eq!(sniff(b"hello\0world"), None, "NUL");
        assert_eq!(sniff(b"bell\x07"), None, "a control character");
        assert_eq!(sniff(b"del\x7f"), None, "DEL");
        assert_eq!(sniff("c1 \u{0085}".as_bytes()), None, "a C1 control");
        assert_eq!(sniff(b"\xff\xfeh\0i\0"), None, "UTF-16");
        assert_eq!(sniff(b"caf\xe9 noir"), None, "Latin-1");
        // At the very end it may be a cut character: the whole body's check refuses it.
        assert_eq!(sniff(b"caf\xe9"), Some(Format::Text));
        let mut check = TextCheck::default();
        assert!(check.feed(b"caf\xe9"));
        assert!(!check.finish());
        // Matroska is not WebM: the DocType decides.
        let mut mkv = fixture("voice.webm");
        let at = mkv.windows(4).position(|w| w == b"webm").unwrap();
        mkv.splice(at..at + 4, *b"mkvx");
        assert_eq!(sniff(&mkv), None);
        // HEIC's ftyp is not MP4 audio.
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), None);
        // Ogg Theora is video.
        let mut theora = fixture("voice.ogg");
        let at = theora.windows(8).position(|w| w == b"OpusHead").unwrap();
        theora.splice(at..at + 8, *b"\x80theora\0");
        assert_eq!(sniff(&theora), None);
    }

    #[test]
    fn sniff_takes_text_with_its_allowed_controls() {
        assert_eq!(sniff(b"a\tb\r\nc\x0cd"), Some(Format::Text));
        assert_eq!(sniff("\u{FEFF}bom".as_bytes()), Some(Format::Text));
        assert_eq!(sniff(b"   "), Some(Format::Text));
        // A character cut by the end of the head is fine; a broken one inside is not.
        let text = "prix: 12 €".as_bytes();
        assert_eq!(sniff(&text[..text.len() - 1]), Some(Format::Text));
        assert_eq!(sniff(b"\xe2\x82 x"), None);
        // A file that only looks like a magic number at first is judged as text.
        assert_eq!(sniff(b"OggS is a word"), Some(Format::Text));
        assert_eq!(sniff(b"ID3"), Some(Format::Text));
    }

    #[test]
    fn text_check_streams_across_chunk_boundaries() {
        let body = fixture("note.txt");
        for size in 1..=7 {
            let mut check = TextCheck::default();
            assert!(body.chunks(size).all(|c| check.feed(c)), "chunks of {size}");
            assert!(check.finish(), "chunks of {size}");
        }
        let mut check = TextCheck::default();
        assert!(check.feed("ab\u{1F642}".as_bytes().split_at(4).0));
        assert!(!check.finish(), "a character cut at the very end");
        let mut check = TextCheck::default();
        assert!(check.feed(b"fine"));
        assert!(!check.feed(b"\0"));
        assert!(!check.feed(b"fine again"), "invalid stays invalid");
        assert!(!check.finish());
        let mut check = TextCheck::default();
        assert!(check.feed(b"\xc2"));
        assert!(
            !check.feed(b"\x85"),
            "U+0085, a C1 control, across a boundary"
        );
        let mut check = TextCheck::default();
        assert!(check.feed(b"\xe2"));
        assert!(!check.feed(b"(x"), "a broken sequence across a boundary");
        assert!(
            TextCheck::default().finish(),
            "an empty body holds nothing invalid"
        );
    }

    #[test]
    fn mimetypes_round_trip() {
        for format in Format::ALL {
            assert_eq!(Format::from_mimetype(format.mimetype()), Some(format));
            assert!(declared_agrees(Some(format.mimetype()), format));
            assert_eq!(format.inline(), format.is_image() || format.is_audio());
        }
        assert_eq!(Format::from_mimetype("image/jpg"), None);
        assert_eq!(Format::from_mimetype("IMAGE/JPEG"), None);
        assert!(Format::Jpeg.inline() && Format::Ogg.inline());
        assert!(!Format::Pdf.inline() && !Format::Text.inline());
    }

    #[test]
    fn declared_types_agree_only_with_their_format() {
        use Format::*;
        for format in Format::ALL {
            assert!(declared_agrees(None, format));
            assert!(declared_agrees(Some(""), format));
            assert!(declared_agrees(Some("application/octet-stream"), format));
            assert!(declared_agrees(Some(" Application/Octet-Stream "), format));
        }
        assert!(declared_agrees(Some("image/jpg"), Jpeg));
        assert!(declared_agrees(Some("image/pjpeg"), Jpeg));
        assert!(declared_agrees(Some("IMAGE/JPEG"), Jpeg));
        assert!(!declared_agrees(Some("image/png"), Jpeg));
        assert!(!declared_agrees(Some("image/jpeg"), Png));
        assert!(declared_agrees(Some("text/plain; charset=utf-8"), Text));
        assert!(declared_agrees(Some("text/markdown"), Text));
        assert!(declared_agrees(Some("text/csv"), Text));
        assert!(!declared_agrees(Some("text/html"), Text));
        assert!(!declared_agrees(Some("text/html; charset=utf-8"), Text));
        assert!(!declared_agrees(Some("image/svg+xml"), Text));
        assert!(!declared_agrees(Some("application/javascript"), Text));
        assert!(declared_agrees(Some("audio/webm;codecs=opus"), Webm));
        assert!(declared_agrees(Some("video/webm"), Webm));
        assert!(!declared_agrees(Some("audio/ogg"), Webm));
        assert!(declared_agrees(Some("audio/ogg; codecs=opus"), Ogg));
        assert!(declared_agrees(Some("audio/opus"), Ogg));
        assert!(declared_agrees(Some("application/ogg"), Ogg));
        assert!(declared_agrees(Some("audio/x-m4a"), Mp4));
        assert!(declared_agrees(Some("audio/m4a"), Mp4));
        assert!(declared_agrees(Some("video/mp4"), Mp4));
        assert!(!declared_agrees(Some("audio/aac"), Mp4));
        assert!(declared_agrees(Some("audio/mp3"), Mp3));
        assert!(declared_agrees(Some("audio/mpeg"), Mp3));
        assert!(!declared_agrees(Some("audio/mpeg"), Mp4));
        assert!(declared_agrees(Some("application/pdf"), Pdf));
        assert!(!declared_agrees(Some("application/x-msdownload"), Pdf));
    }

    #[test]
    fn safe_filenames() {
        use Format::*;
        let name = |raw: &str, format| safe_filename(Some(raw), format);
        assert_eq!(name("../../etc/passwd", Text), "passwd");
        assert_eq!(name("C:\\Users\\a\\photo.jpg", Jpeg), "photo.jpg");
        assert_eq!(name("<script>.pdf", Pdf), "script.pdf");
        assert_eq!(name("a:b|c?d*e\"f.txt", Text), "abcdef.txt");
        assert_eq!(
            name("  my \t\n  holiday   photo .jpg ", Jpeg),
            "my holiday photo .jpg"
        );
        assert_eq!(name("bell\x07\x00.txt", Text), "bell.txt");
        assert_eq!(name(".bashrc", Text), "bashrc");
        assert_eq!(name("report.pdf...", Pdf), "report.pdf");
        assert_eq!(name("Résumé 🙂.pdf", Pdf), "Résumé 🙂.pdf");
        // The right-to-left override would show "invoice\u{202E}fdp.exe" as "invoiceexe.pdf".
        assert_eq!(name("invoice\u{202E}fdp.exe", Pdf), "invoicefdp.exe");
        assert_eq!(
            name("\u{2066}a\u{2069}\u{202A}b\u{202C}.txt", Text),
            "ab.txt"
        );
        for nothing in [
            "", ".", "..", "...", " . . ", "/", "dir/", "\\", "\u{202E}", "<>",
        ] {
            assert_eq!(name(nothing, Jpeg), "file.jpg", "{nothing:?}");
        }
        assert_eq!(safe_filename(None, Mp4), "file.m4a");
        let extensions: Vec<String> = Format::ALL
            .iter()
            .map(|&f| safe_filename(None, f))
            .collect();
        assert_eq!(
            extensions,
            [
                "file.jpg",
                "file.png",
                "file.gif",
                "file.webp",
                "file.pdf",
                "file.txt",
                "file.ogg",
                "file.webm",
                "file.m4a",
                "file.mp3"
            ]
        );
        // 300 characters: the stem is cut, the extension kept.
        let long = format!("{}.jpg", "a".repeat(296));
        let short = name(&long, Jpeg);
        assert_eq!(short, format!("{}.jpg", "a".repeat(251)));
        // Multi-byte characters are cut whole, within 255 bytes.
        let long = format!("{}.pdf", "é".repeat(200));
        let short = name(&long, Pdf);
        assert!(short.len() <= MAX_FILENAME_BYTES, "{}", short.len());
        assert_eq!(short, format!("{}.pdf", "é".repeat(125)));
        // No extension to keep: just cut.
        assert_eq!(name(&"b".repeat(300), Pdf), "b".repeat(255));
        // A cut that ends on spaces or dots is trimmed again.
        let long = format!("{}{}.txt", "c".repeat(240), ". ".repeat(30));
        assert_eq!(name(&long, Text), format!("{}.txt", "c".repeat(240)));
    }

    #[test]
    fn audio_durations_as_the_containers_state_them() {
        let cases: &[(&str, Format, Option<u64>)] = &[
            // Opus: last granule 96312 − pre-skip 312 = 96000 samples at 48 kHz.
            ("voice.ogg", Format::Ogg, Some(2000)),
            // Vorbis: last granule 96000 samples at the identification header's 48 kHz.
            ("voice-vorbis.ogg", Format::Ogg, Some(2000)),
            // mvhd: timescale 1000, duration 2000 (the AAC priming cut by the edit list).
            ("voice.m4a", Format::Mp4, Some(2000)),
            ("voice-faststart.m4a", Format::Mp4, Some(2000)),
            // CBR without Xing: (16345 − 45 bytes of ID3v2) × 8 / 64 kbit/s = 2037.5 ms.
            ("voice.mp3", Format::Mp3, Some(2038)),
            // Xing (VBR) and Info (CBR): 78 frames × 1152 / 44100 Hz = 2037.55 ms, whole frames.
            ("voice-vbr.mp3", Format::Mp3, Some(2038)),
            ("voice-noid3.mp3", Format::Mp3, Some(2038)),
            // ffmpeg's Duration: the last block's end, 2008 × the 1 ms TimecodeScale.
            ("voice-duration.webm", Format::Webm, Some(2008)),
            // Streamed as MediaRecorder does: no Duration.
            ("voice.webm", Format::Webm, None),
            ("photo.jpg", Format::Jpeg, None),
            ("note.txt", Format::Text, None),
        ];
        for &(name, format, expected) in cases {
            assert_eq!(duration(format, &fixture(name)), expected, "{name}");
        }
    }

    /// What ffmpeg does not write: a VBRI header, an ID3v1 tag, a version 1 mvhd.
    #[test]
    fn audio_durations_from_handmade_headers() {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo: 417-byte frames; VBRI states 100.
        let mut vbri = vec![0u8; 417];
        vbri[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x04]);
        vbri[36..40].copy_from_slice(b"VBRI");
        vbri[50..54].copy_from_slice(&100u32.to_be_bytes());
        vbri.extend_from_slice(&vbri.clone());
        assert_eq!(sniff(&vbri), Some(Format::Mp3));
        // 100 × 1152 / 44100 = 2612.24 ms.
        assert_eq!(duration(Format::Mp3, &vbri), Some(2612));
        // An ID3v1 tag at the end is not audio.
        let mut tagged = fixture("voice.mp3");
        tagged.extend_from_slice(b"TAG");
        tagged.extend_from_slice(&[b' '; 125]);
        assert_eq!(duration(Format::Mp3, &tagged), Some(2038));
        // ftyp, then moov holding a version 1 mvhd: 88200 at 44100 a second.
        let mut mp4 = Vec::new();
        mp4.extend_from_slice(&20u32.to_be_bytes());
        mp4.extend_from_slice(b"ftypM4A \0\0\0\0M4A ");
        mp4.extend_from_slice(&48u32.to_be_bytes());
        mp4.extend_from_slice(b"moov");
        mp4.extend_from_slice(&40u32.to_be_bytes());
        mp4.extend_from_slice(b"mvhd\x01\0\0\0");
        mp4.extend_from_slice(&[0; 16]);
        mp4.extend_from_slice(&44_100u32.to_be_bytes());
        mp4.extend_from_slice(&88_200u64.to_be_bytes());
        assert_eq!(sniff(&mp4), Some(Format::Mp4));
        assert_eq!(duration(Format::Mp4, &mp4), Some(2000));
        // An unknown duration (all ones) is no duration.
        let n = mp4.len();
        mp4[n - 8..].copy_from_slice(&[0xFF; 8]);
        assert_eq!(duration(Format::Mp4, &mp4), None);
    }

    /// A file longer than head and tail together: moov, the last Ogg page and the MP3 size are
    /// found across a gap that neither holds.
    #[test]
    fn audio_durations_across_a_gap() {
        let m4a = fixture("voice.m4a");
        let (head, tail) = (&m4a[..100], &m4a[m4a.len() - 1200..]);
        assert_eq!(
            audio_duration_ms(Format::Mp4, head, tail, m4a.len() as u64),
            Some(2000)
        );
        // mdat's header cut off: the walk cannot reach moov.
        assert_eq!(
            audio_duration_ms(Format::Mp4, &m4a[..40], tail, m4a.len() as u64),
            None
        );
        let ogg = fixture("voice.ogg");
        let (head, tail) = (&ogg[..2000], &ogg[ogg.len() - 500..]);
        assert_eq!(
            audio_duration_ms(Format::Ogg, head, tail, ogg.len() as u64),
            Some(2000)
        );
        let mp3 = fixture("voice.mp3");
        let (head, tail) = (&mp3[..500], &mp3[mp3.len() - 500..]);
        assert_eq!(
            audio_duration_ms(Format::Mp3, head, tail, mp3.len() as u64),
            Some(2038)
        );
        // A head longer than the file is a contradiction, not a duration.
        assert_eq!(audio_duration_ms(Format::Mp3, &mp3, &mp3, 10), None);
    }

    #[test]
    fn images_are_measured_and_thumbnailed() {
        // (fixture, format, size as displayed, thumbnail's size, thumbnail's type)
        type Case = (&'static str, Format, (u32, u32), (u32, u32), &'static str);
        let cases: &[Case] = &[
            (
                "photo.jpg",
                Format::Jpeg,
                (640, 480),
                (320, 240),
                "image/jpeg",
            ),
            ("alpha.png", Format::Png, (100, 50), (100, 50), "image/png"),
            ("anim.gif", Format::Gif, (120, 90), (120, 90), "image/jpeg"),
            (
                "photo.webp",
                Format::Webp,
                (200, 150),
                (200, 150),
                "image/jpeg",
            ),
            // EXIF orientation 6 (rotate 90°): stored 64x32, displayed 32x64.
            (
                "rotated.jpg",
                Format::Jpeg,
                (32, 64),
                (32, 64),
                "image/jpeg",
            ),
        ];
        for &(name, format, size, thumb, mimetype) in cases {
            let info = image_info(format, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((info.width, info.height), size, "{name}");
            let t = &info.thumbnail;
            assert_eq!((t.width, t.height), thumb, "{name}");
            assert_eq!(t.mimetype, mimetype, "{name}");
            let sniffed = sniff(&t.bytes).unwrap();
            assert_eq!(sniffed.mimetype(), mimetype, "{name}");
            let decoded = image::load_from_memory(&t.bytes).unwrap();
            assert_eq!((decoded.width(), decoded.height()), thumb, "{name}");
        }
    }

    #[test]
    fn thumbnail_sizes_keep_the_aspect_and_never_grow() {
        assert_eq!(thumbnail_size(640, 480), (320, 240));
        assert_eq!(thumbnail_size(480, 640), (240, 320));
        assert_eq!(thumbnail_size(100, 50), (100, 50));
        assert_eq!(thumbnail_size(320, 320), (320, 320));
        assert_eq!(thumbnail_size(10_000, 1), (320, 1));
        assert_eq!(thumbnail_size(1, 40_000_000), (1, 320));
        assert_eq!(thumbnail_size(1000, 333), (320, 107));
    }

    #[test]
    fn bombs_are_refused_before_decoding_and_garbage_is_undecodable() {
        match image_info(Format::Png, &fixture("bomb.png")) {
            Err(e @ ImageError::TooLarge { .. }) => assert_eq!(
                e.to_string(),
                "the image is 100000x100000 pixels, more than 40 megapixels"
            ),
            other => panic!("{other:?}"),
        }
        match image_info(Format::Jpeg, &fixture("broken.jpg")) {
            Err(e @ ImageError::Undecodable(_)) => {
                assert!(
                    e.to_string()
                        .starts_with("the image could not be decoded: "),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            image_info(Format::Pdf, &fixture("doc.pdf")),
            Err(ImageError::Undecodable(_))
        ));
        // The JPEG is not a PNG, whatever the caller says.
        assert!(matches!(
            image_info(Format::Png, &fixture("photo.jpg")),
            Err(ImageError::Undecodable(_))
        ));
    }

    /// Every function over random bytes, every fixture cut short and every fixture with bytes
    /// flipped: answers, never a panic.
    #[test]
    fn no_input_makes_anything_panic() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in [0, 1, 2, 3, 4, 7, 8, 12, 16, 27, 64, 100, 1000, 5000] {
            for _ in 0..8 {
                inputs.push(rng.bytes(len));
            }
        }
        for &(name, _) in FIXTURES {
            let bytes = fixture(name);
            let cuts = (0..bytes.len()).step_by((bytes.len() / 40).max(1));
            inputs.extend(cuts.map(|n| bytes[..n].to_vec()));
            for _ in 0..12 {
                let mut flipped = bytes.clone();
                for _ in 0..1 + rng.next() % 8 {
                    let at = (rng.next() % flipped.len() as u64) as usize;
                    flipped[at] = rng.next() as u8;
                }
                inputs.push(flipped);
            }
        }
        // Magic numbers followed by random bytes reach each parser's depths.
        for magic in [
            &b"OggS\0"[..],
            b"\x1a\x45\xdf\xa3",
            b"\0\0\0\x1cftypM4A ",
            b"ID3\x04\0\0\0\0\0\x05",
            b"\xff\xfb\x50\xc4",
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8\xff",
            b"GIF89a",
            b"RIFF\0\0\0\0WEBP",
        ] {
            for len in [0, 10, 100, 3000] {
                let mut b = magic.to_vec();
                b.extend(rng.bytes(len));
                inputs.push(b);
            }
        }
        for bytes in &inputs {
            let format = sniff(bytes);
            let mut check = TextCheck::default();
            for chunk in bytes.chunks(3) {
                check.feed(chunk);
            }
            check.finish();
            let text = String::from_utf8_lossy(bytes);
            for f in Format::ALL {
                safe_filename(Some(&text), f);
                declared_agrees(Some(&text), f);
                let total = bytes.len() as u64;
                duration(f, bytes);
                let half = &bytes[..bytes.len() / 2];
                audio_duration_ms(f, half, half, total);
                audio_duration_ms(f, bytes, half, total + rng.next() % 100_000);
                audio_duration_ms(f, half, bytes, total);
            }
            for f in [Format::Jpeg, Format::Png, Format::Gif, Format::Webp] {
                if format == Some(f) || bytes.len() <= 100 {
                    let _ = image_info(f, bytes);
                }
            }
        }
    }
}
