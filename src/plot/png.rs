//! PNG encoding of an [`RgbImage`] with the `png` crate (8-bit RGB, default compression).

use super::{PlotError, RgbImage};

/// The PNG file content of `img`.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width, img.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| PlotError::Png(e.to_string()))?;
        writer
            .write_image_data(&img.pixels)
            .map_err(|e| PlotError::Png(e.to_string()))?;
        writer.finish().map_err(|e| PlotError::Png(e.to_string()))?;
    }
    Ok(out)
}
