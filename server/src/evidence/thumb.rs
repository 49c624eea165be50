//! Photo thumbnails, made by the center with the `image` crate (JPEG, PNG and WebP
//! decoders only). The original is only read: its hash is the evidence.

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// The longer side of a thumbnail, in pixels.
pub(crate) const MAX_SIDE: u32 = 320;

/// A JPEG thumbnail of `original`, upright (EXIF orientation applied), or `None` when the
/// bytes are not a photo these decoders read.
pub(crate) fn make(original: &[u8]) -> Option<Vec<u8>> {
    let reader = ImageReader::new(std::io::Cursor::new(original))
        .with_guessed_format()
        .ok()?;
    let mut decoder = reader.into_decoder().ok()?;
    // A hostile "photo" may declare any size: refuse to decode a bomb.
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 << 20);
    decoder.set_limits(limits).ok()?;
    let orientation = decoder.orientation().ok()?;
    let mut img = DynamicImage::from_decoder(decoder).ok()?;
    img.apply_orientation(orientation);
    let small = img.thumbnail(MAX_SIDE, MAX_SIDE).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .ok()?;
    Some(out)
}
