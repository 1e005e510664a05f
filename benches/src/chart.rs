//! Percentile distributions of several runs on one chart, the way
//! HdrHistogram's plotter draws them: x is the percentile on the
//! `1/(1-p)` log axis (labelled 0%, 90%, 99%, 99.9%, …), y the latency on a
//! log scale. PNG (plotters' bitmap backend) and SVG; text is rendered with
//! ab_glyph from the bundled DejaVu Sans (the `dejavu` crate), so no system
//! fonts or fontconfig are needed.

use std::path::Path;
use std::sync::Once;

use corelog_perf::hgrm::Hgrm;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// One run's curve: (1/(1-p), latency ms) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// The rows of a percentile distribution that a log-log chart can show
    /// (below 100%, positive latency).
    pub fn from_hgrm(label: &str, hgrm: &Hgrm) -> Series {
        let points = hgrm
            .rows
            .iter()
            .filter_map(|r| r.inverse.map(|x| (x, r.value)))
            .filter(|&(x, v)| x.is_finite() && x >= 1.0 && v > 0.0)
            .collect();
        Series { label: label.into(), points }
    }
}

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (1200, 720);

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                // DejaVu Sans parses; a failure would only leave text out.
                let _ = plotters::style::register_font(family, style, dejavu::sans::regular());
            }
        }
    });
}

/// The x-axis label of `x = 1/(1-p)`: `0%`, `90%`, `99%`, `99.9%`, …
pub fn percentile_label(x: f64) -> String {
    if x <= 1.0 + 1e-9 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let decimals = ((x.log10() - 1e-9).ceil() as i32 - 2).max(0) as usize;
    format!("{p:.decimals$}%")
}

/// The y-axis label of a latency in ms: `0.05`, `1`, `20`.
pub fn ms_label(y: f64) -> String {
    let s = format!("{y:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.into()
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Axis ranges covering every series: x from 1 to the next power of ten
/// above the largest `1/(1-p)`, y from a bit below the smallest latency to
/// a bit above the largest.
fn ranges(series: &[Series]) -> Option<((f64, f64), (f64, f64))> {
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let x_max = points().map(|(x, _)| x).fold(f64::NAN, f64::max);
    let y_min = points().map(|(_, y)| y).fold(f64::NAN, f64::min);
    let y_max = points().map(|(_, y)| y).fold(f64::NAN, f64::max);
    if x_max.is_nan() {
        return None;
    }
    let x_max = 10f64.powf(x_max.max(10.0).log10().ceil());
    Some(((1.0, x_max), (y_min / 1.5, y_max * 1.5)))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, series: &[Series], title: &str) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    register_fonts();
    let ((x0, x1), (y0, y1)) = ranges(series).ok_or("no data points to chart")?;
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(24)
        .margin_right(64)
        .x_label_area_size(56)
        .y_label_area_size(76)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .y_labels(12)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| ms_label(*y))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draws `series` into `png` and `svg`.
pub fn render(series: &[Series], title: &str, png: &Path, svg: &Path) -> Result<(), String> {
    draw(BitMapBackend::new(png, SIZE).into_drawing_area(), series, title)
        .map_err(|e| format!("drawing {}: {e}", png.display()))?;
    draw(SVGBackend::new(svg, SIZE).into_drawing_area(), series, title)
        .map_err(|e| format!("drawing {}: {e}", svg.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_perf::hgrm::{format_hgrm, parse_hgrm};
    use corelog_perf::latency::new_histogram;

    #[test]
    fn axis_labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(10_000.0), "99.99%");
        assert_eq!(percentile_label(1e6), "99.9999%");
        assert_eq!(ms_label(0.05), "0.05");
        assert_eq!(ms_label(1.0), "1");
        assert_eq!(ms_label(20.0), "20");
        assert_eq!(ms_label(0.0001), "0");
    }

    fn series(label: &str, scale: u64) -> Series {
        let mut h = new_histogram();
        for v in 1..=20_000u64 {
            h.record(scale * (200 + v % 1000) + if v % 997 == 0 { 40_000 } else { 0 }).unwrap();
        }
        Series::from_hgrm(label, &parse_hgrm(&format_hgrm(&h)).unwrap())
    }

    #[test]
    fn series_come_from_hgrm_rows() {
        let s = series("a", 1);
        assert!(s.points.len() > 20);
        assert_eq!(s.points[0].0, 1.0);
        assert!(s.points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let ((x0, x1), (y0, y1)) = ranges(std::slice::from_ref(&s)).unwrap();
        let x_last = s.points.last().unwrap().0;
        assert_eq!(x0, 1.0);
        assert!(x1 >= x_last && x1 < 10.0 * x_last && x1.log10().fract() == 0.0, "{x1} for {x_last}");
        assert!(y0 < s.points[0].1 && y1 > s.points.last().unwrap().1);
        assert!(ranges(&[]).is_none());
    }

    #[test]
    fn renders_png_and_svg() {
        let dir = std::env::temp_dir().join(format!("corelog-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (png, svg) = (dir.join("latency.png"), dir.join("latency.svg"));
        let all = [series("A: fast 20261122T040743Z", 1), series("B: slow 20261122T041000Z", 3)];
        render(&all, "produce latency by percentile", &png, &svg).unwrap();
        if let Ok(keep) = std::env::var("CORELOG_BENCH_KEEP_CHART") {
            std::fs::copy(&png, Path::new(&keep).with_extension("png")).unwrap();
            std::fs::copy(&svg, Path::new(&keep).with_extension("svg")).unwrap();
        }
        let png_bytes = std::fs::read(&png).unwrap();
        assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
        assert!(png_bytes.len() > 10_000, "a PNG with something drawn: {} bytes", png_bytes.len());
        let svg_text = std::fs::read_to_string(&svg).unwrap();
        assert!(svg_text.contains("<svg"));
        assert!(svg_text.contains("produce latency by percentile"));
        assert!(svg_text.contains("B: slow 20261122T041000Z"));
        assert!(svg_text.contains("99.9%"), "percentile tick labels");
        assert!(svg_text.matches("<polyline").count() >= 2, "one line per run");
        assert!(render(&[], "empty", &png, &svg).unwrap_err().contains("no data"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
