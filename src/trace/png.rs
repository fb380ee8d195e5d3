//! trace.png: trace.svg drawn again as a bitmap through plotters (the run plots' bundled
//! font), for viewers and documents that take no SVG. It reads back the small SVG subset
//! `svg.rs` writes (one element per line: rect, line with an optional arrow and dashes,
//! circle, text, the two-stroke cross path), so the two pictures cannot drift apart.

use crate::report::font;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The PNG of `svg` (as `svg::render` writes it).
pub fn render(svg: &str) -> Result<Vec<u8>, String> {
    font::ensure_registered();
    let head = svg
        .lines()
        .find(|l| l.starts_with("<svg"))
        .ok_or("no <svg> element")?;
    let size = |name: &str, max: f64| {
        let v = attr(head, name).filter(|v| v.is_finite());
        v.map(|v| v.clamp(1.0, max) as u32)
            .ok_or(format!("no {name}"))
    };
    let (w, h) = (size("width", 8000.0)?, size("height", 20000.0)?);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        for line in svg.lines() {
            draw(&root, line.trim()).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type Failed = Box<dyn std::error::Error>;

fn draw(root: &Area, line: &str) -> Result<(), Failed> {
    let p = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
    let num = |name: &str| attr(line, name).unwrap_or(0.0);
    if line.starts_with("<rect") {
        let fill = colour(line, "fill").unwrap_or(WHITE.to_rgba());
        let opacity = attr(line, "fill-opacity").unwrap_or(1.0);
        let (x, y) = (num("x"), num("y"));
        let corners = [p(x, y), p(x + num("width"), y + num("height"))];
        root.draw(&Rectangle::new(corners, fill.mix(opacity).filled()))?;
    } else if line.starts_with("<line") {
        let stroke = colour(line, "stroke").unwrap_or(BLACK.to_rgba());
        let width = attr(line, "stroke-width").unwrap_or(1.0).round().max(1.0) as u32;
        let (a, b) = ((num("x1"), num("y1")), (num("x2"), num("y2")));
        let style = stroke.stroke_width(width);
        if line.contains("stroke-dasharray") {
            dashed(root, a, b, style)?;
        } else {
            root.draw(&PathElement::new(vec![p(a.0, a.1), p(b.0, b.1)], style))?;
        }
        if line.contains("marker-end") {
            arrow_head(root, a, b, stroke)?;
        }
    } else if line.starts_with("<circle") {
        let fill = colour(line, "fill").unwrap_or(BLACK.to_rgba());
        root.draw(&Circle::new(
            p(num("cx"), num("cy")),
            num("r").round() as i32,
            fill.filled(),
        ))?;
    } else if line.starts_with("<path d=\"M") {
        let stroke = colour(line, "stroke").unwrap_or(BLACK.to_rgba());
        let d = value(line, "d").unwrap_or_default();
        let numbers: Vec<f64> = d
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        for segment in numbers.chunks_exact(4) {
            let points = vec![p(segment[0], segment[1]), p(segment[2], segment[3])];
            root.draw(&PathElement::new(points, stroke.stroke_width(2)))?;
        }
    } else if line.starts_with("<text") {
        let size = attr(line, "font-size").unwrap_or(10.0);
        let fill = colour(line, "fill").unwrap_or(BLACK.to_rgba());
        let anchor = match value(line, "text-anchor").as_deref() {
            Some("end") => HPos::Right,
            Some("middle") => HPos::Center,
            _ => HPos::Left,
        };
        let style = TextStyle::from((font::FAMILY, size).into_font())
            .color(&fill)
            .pos(Pos::new(anchor, VPos::Bottom));
        let body = line.split_once('>').map(|(_, rest)| rest).unwrap_or("");
        let body = body.strip_suffix("</text>").unwrap_or(body);
        root.draw(&Text::new(
            unescape(body),
            p(num("x"), num("y") + 2.0),
            style,
        ))?;
    }
    Ok(())
}

fn dashed(root: &Area, a: (f64, f64), b: (f64, f64), style: ShapeStyle) -> Result<(), Failed> {
    let length = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let steps = (length / 7.0).floor() as usize;
    for i in 0..=steps {
        let (t0, t1) = (
            (i as f64 * 7.0) / length,
            ((i as f64 * 7.0 + 4.0) / length).min(1.0),
        );
        let at = |t: f64| {
            (
                (a.0 + (b.0 - a.0) * t).round() as i32,
                (a.1 + (b.1 - a.1) * t).round() as i32,
            )
        };
        root.draw(&PathElement::new(vec![at(t0), at(t1)], style))?;
    }
    Ok(())
}

fn arrow_head(root: &Area, a: (f64, f64), b: (f64, f64), colour: RGBAColor) -> Result<(), Failed> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (ux, uy) = (dx / length, dy / length);
    let corner = |side: f64| {
        let (x, y) = (
            b.0 - ux * 7.0 - uy * 3.5 * side,
            b.1 - uy * 7.0 + ux * 3.5 * side,
        );
        (x.round() as i32, y.round() as i32)
    };
    let tip = (b.0.round() as i32, b.1.round() as i32);
    root.draw(&Polygon::new(
        vec![tip, corner(1.0), corner(-1.0)],
        colour.filled(),
    ))?;
    Ok(())
}

/// The text of attribute `name` (` name="..."`).
fn value(line: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = line.find(&key)? + key.len();
    Some(line[start..].split('"').next()?.to_string())
}

fn attr(line: &str, name: &str) -> Option<f64> {
    value(line, name)?.parse().ok()
}

fn colour(line: &str, name: &str) -> Option<RGBAColor> {
    let v = value(line, name)?;
    let named = match v.as_str() {
        "white" => Some(WHITE),
        "black" => Some(BLACK),
        _ => None,
    };
    if let Some(c) = named {
        return Some(c.to_rgba());
    }
    let hex = v.strip_prefix('#')?;
    let full: String = if hex.len() == 3 {
        hex.chars().flat_map(|c| [c, c]).collect()
    } else {
        hex.to_string()
    };
    let n = u32::from_str_radix(&full, 16).ok()?;
    Some(RGBColor((n >> 16) as u8, (n >> 8) as u8, n as u8).to_rgba())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_attributes_read_back() {
        let line =
            r##"<rect x="1.5" y="2" width="10" height="4" fill="#a33" fill-opacity="0.35"/>"##;
        assert_eq!(attr(line, "x"), Some(1.5));
        assert_eq!(attr(line, "fill-opacity"), Some(0.35));
        assert_eq!(
            colour(line, "fill"),
            Some(RGBColor(0xaa, 0x33, 0x33).to_rgba())
        );
        assert_eq!(unescape("a &lt;b&gt; &amp; c"), "a <b> & c");
    }
}
