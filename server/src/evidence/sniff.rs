//! What a blob is, judged from its first bytes (never from the phone's `mime`, which is
//! only shown). Executables and archives are refused (docs/security.md, "Evidence"): a
//! phone is hostile until judged, and evidence is opened by staff on their own machines.
//! Anything else is kept; what is not recognised is served as `application/octet-stream`
//! (as an attachment, with `nosniff`), so no browser renders it as a page.

/// Bytes enough to judge (tar's magic sits at 257).
pub const SNIFF_LEN: usize = 512;

/// What the first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// Kept, served with this type.
    Allowed(&'static str),
    /// Refused: an executable or a script (the name of what it looks like).
    Executable(&'static str),
    /// Refused: an archive or a compressed file, which may hide either.
    Archive(&'static str),
}

/// Judges the first bytes of a blob (up to [`SNIFF_LEN`]; fewer only if the blob is
/// shorter).
pub fn sniff(head: &[u8]) -> Sniffed {
    use Sniffed::{Allowed, Archive, Executable};
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| {
        head.get(offset..offset + magic.len())
            .is_some_and(|s| s == magic)
    };
    // Executables and scripts.
    if starts(b"MZ") {
        return Executable("windows executable");
    }
    if starts(b"\x7fELF") {
        return Executable("elf executable");
    }
    if [
        &b"\xfe\xed\xfa\xce"[..],
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ]
    .iter()
    .any(|m| starts(m))
    {
        return Executable("mach-o or java class");
    }
    if starts(b"dex\n") {
        return Executable("android dex");
    }
    // AMR recordings begin with `#!AMR`: not a script.
    if starts(b"#!") && !starts(b"#!AMR") {
        return Executable("script");
    }
    if starts(b"\0asm") {
        return Executable("webassembly");
    }
    // Archives and compressed streams (an APK, a DOCX and a JAR are ZIPs too).
    for (magic, name) in [
        (&b"PK\x03\x04"[..], "zip"),
        (b"PK\x05\x06", "zip"),
        (b"PK\x07\x08", "zip"),
        (b"Rar!\x1a\x07", "rar"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"\x1f\x8b", "gzip"),
        (b"BZh", "bzip2"),
        (b"\xfd7zXZ\0", "xz"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"MSCF", "cab"),
        (b"!<arch>\n", "ar"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole compound file"),
    ] {
        if starts(magic) {
            return Archive(name);
        }
    }
    if at(257, b"ustar") {
        return Archive("tar");
    }
    // What evidence is: photos, recordings, documents.
    if starts(b"\xff\xd8\xff") {
        return Allowed("image/jpeg");
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Allowed("image/png");
    }
    if starts(b"RIFF") && at(8, b"WEBP") {
        return Allowed("image/webp");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Allowed("image/gif");
    }
    if starts(b"RIFF") && at(8, b"WAVE") {
        return Allowed("audio/wav");
    }
    if at(4, b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        return Allowed(match brand {
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"heim" | b"heis" => "image/heic",
            b"avif" => "image/avif",
            b"M4A " | b"M4B " => "audio/mp4",
            b"3gp4" | b"3gp5" | b"3gp6" | b"3g2a" => "video/3gpp",
            _ => "video/mp4",
        });
    }
    if starts(b"#!AMR") {
        return Allowed("audio/amr");
    }
    if starts(b"OggS") {
        return Allowed("audio/ogg");
    }
    if starts(b"ID3") || (head.len() > 1 && head[0] == 0xff && head[1] & 0xe0 == 0xe0) {
        // ADTS AAC (0xFFF1/0xFFF9) and MPEG audio frames share the sync word.
        return Allowed(if head.len() > 1 && head[1] & 0xf6 == 0xf0 {
            "audio/aac"
        } else {
            "audio/mpeg"
        });
    }
    if starts(b"%PDF-") {
        return Allowed("application/pdf");
    }
    if !head.is_empty() && !head.contains(&0) && utf8_prefix(head) {
        return Allowed("text/plain; charset=utf-8");
    }
    Allowed("application/octet-stream")
}

/// Valid UTF-8, allowing a sequence cut off at the end of the sniffed bytes.
fn utf8_prefix(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::{Sniffed, sniff};

    #[test]
    fn evidence_is_kept_and_executables_and_archives_are_not() {
        let cases: &[(&[u8], Sniffed)] = &[
            (
                b"\xff\xd8\xff\xe0\0\x10JFIF",
                Sniffed::Allowed("image/jpeg"),
            ),
            (b"\x89PNG\r\n\x1a\n\0\0", Sniffed::Allowed("image/png")),
            (b"RIFF\0\0\0\0WEBPVP8 ", Sniffed::Allowed("image/webp")),
            (b"\0\0\0\x18ftypheic", Sniffed::Allowed("image/heic")),
            (b"\0\0\0\x18ftypM4A ", Sniffed::Allowed("audio/mp4")),
            (b"#!AMR\n", Sniffed::Allowed("audio/amr")),
            (b"%PDF-1.7", Sniffed::Allowed("application/pdf")),
            (
                "借条 今借到".as_bytes(),
                Sniffed::Allowed("text/plain; charset=utf-8"),
            ),
            (
                b"\x01\x02\x00",
                Sniffed::Allowed("application/octet-stream"),
            ),
            (b"MZ\x90\0", Sniffed::Executable("windows executable")),
            (b"\x7fELF\x02", Sniffed::Executable("elf executable")),
            (b"#!/bin/sh\n", Sniffed::Executable("script")),
            (b"PK\x03\x04\x14\0", Sniffed::Archive("zip")),
            (b"\x1f\x8b\x08", Sniffed::Archive("gzip")),
            (b"Rar!\x1a\x07\0", Sniffed::Archive("rar")),
        ];
        for (head, want) in cases {
            assert_eq!(sniff(head), *want, "{head:?}");
        }
        let mut tar = vec![b'a'; 300];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), Sniffed::Archive("tar"));
    }
}
