//! The SVG plots: one figure against the number of clients, one line per series, with the
//! points where clients were lost marked by a cross.

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::Program;
use crate::report::{Summary, thousands};

/// One plot.
pub struct Chart {
    pub file: &'static str,
    pub title: &'static str,
    pub y_desc: &'static str,
    /// A logarithmic y axis, for figures that span several orders of magnitude.
    pub log_y: bool,
    pub value: fn(&Summary) -> Option<f64>,
}

/// The plots the chapter shows.
pub fn charts() -> [Chart; 4] {
    [
        Chart {
            file: "round-trips.svg",
            title: "Round trips per second (higher is better)",
            y_desc: "round trips per second",
            log_y: false,
            value: |s| Some(s.rate),
        },
        Chart {
            file: "p99-latency.svg",
            title: "p99 latency of a round trip (lower is better)",
            y_desc: "milliseconds (log scale)",
            log_y: true,
            value: |s| s.p99_ms,
        },
        Chart {
            file: "greeting.svg",
            title: "Slowest time from connect to greeting (lower is better)",
            y_desc: "milliseconds (log scale)",
            log_y: true,
            value: |s| s.greeting_ms,
        },
        Chart {
            file: "server-cpu.svg",
            title: "Server CPU time per round trip (lower is better)",
            y_desc: "microseconds",
            log_y: false,
            value: |s| s.cpu_us,
        },
    ]
}

const FONT: &str = "DejaVu Sans, Arial, sans-serif";
const SIZE: (u32, u32) = (960, 600);

/// A series' colour and whether its line is dashed: lesson 03 in blues, darker for more
/// workers; the original in red, dashed when its clients are paced.
fn look(key: &str, program: Program) -> (RGBColor, bool) {
    let color = match program {
        Program::Lesson02 => RGBColor(140, 86, 75),
        Program::Lesson03 { workers: ..=4 } => RGBColor(86, 160, 211),
        Program::Lesson03 { workers: 5..=16 } => RGBColor(60, 120, 190),
        Program::Lesson03 { workers: 17..=64 } => RGBColor(31, 78, 153),
        Program::Lesson03 { .. } => RGBColor(90, 50, 140),
        Program::Tokio => RGBColor(44, 140, 44),
        Program::Lesson05 => RGBColor(230, 140, 20),
        Program::Original => RGBColor(200, 30, 40),
    };
    (color, key == "original-paced")
}

/// One series' points: x = log2(clients), the value, and whether clients were lost there.
struct Line {
    key: String,
    program: Program,
    label: String,
    points: Vec<(f64, f64, bool)>,
}

/// Draws `chart` from `summaries` into an SVG file at `path`; `clients` are the x axis' ticks.
pub fn draw(
    chart: &Chart,
    summaries: &[Summary],
    clients: &[usize],
    path: &Path,
) -> Result<(), String> {
    let mut lines: Vec<Line> = Vec::new();
    for s in summaries {
        let Some(value) = (chart.value)(s).filter(|v| v.is_finite()) else {
            continue;
        };
        // A log axis cannot show zero: such a point is left out.
        if chart.log_y && value <= 0.0 {
            continue;
        }
        let point = ((s.clients as f64).log2(), value, s.lost() > 0);
        match lines.iter_mut().find(|l| l.key == s.key) {
            Some(line) => line.points.push(point),
            None => lines.push(Line {
                key: s.key.clone(),
                program: s.program,
                label: s.label.clone(),
                points: vec![point],
            }),
        }
    }
    let xs = clients.iter().map(|&c| (c.max(1) as f64).log2());
    let lo = xs.clone().fold(f64::INFINITY, f64::min).floor();
    let hi = xs.fold(f64::NEG_INFINITY, f64::max).ceil();
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.06).max(0.3);
    let x = lo - pad..hi + pad;
    // Grid lines at every power of two: 1, 2, 4, 8 ... clients.
    let x_labels = (hi - lo) as usize + 1;

    let values = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (min, max) = values.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let result = if chart.log_y {
        let (min, max) = if min.is_finite() {
            (min, max)
        } else {
            (0.1, 1.0)
        };
        render(
            chart,
            &lines,
            (x, x_labels),
            (min / 2.0..max * 3.0).log_scale(),
            path,
        )
    } else {
        render(
            chart,
            &lines,
            (x, x_labels),
            0.0..(max * 1.15).max(1.0),
            path,
        )
    };
    result.map_err(|e| e.to_string())
}

fn render<Y>(
    chart: &Chart,
    lines: &[Line],
    (x, x_labels): (Range<f64>, usize),
    y: Y,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let text = |px: f64| (FONT, px * 1.24).into_font();
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    // An opaque light background: the plot stays readable in the book's dark themes too.
    root.fill(&WHITE)?;
    let lost_anywhere = lines.iter().any(|l| l.points.iter().any(|p| p.2));
    let entries = lines.len() + usize::from(lost_anywhere);
    let legend_rows = entries.div_ceil(LEGEND_COLUMNS) as u32;
    let (top, bottom) = root.split_vertically(SIZE.1 - 16 - legend_rows * LEGEND_ROW);

    let mut plot = ChartBuilder::on(&top)
        .caption(chart.title, text(20.0))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(96)
        .build_cartesian_2d(x, y)?;
    plot.configure_mesh()
        .x_desc("clients at once (log scale)")
        .y_desc(chart.y_desc)
        .x_labels(x_labels)
        // x is log2(clients): label whole powers of two only.
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{}", 2f64.powf(x.round()))
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| number(*y))
        .label_style(text(15.0))
        .axis_desc_style(text(15.0))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;

    for line in lines {
        let (color, dashed) = look(&line.key, line.program);
        let style = color.stroke_width(2);
        let path_points: Vec<(f64, f64)> = line.points.iter().map(|p| (p.0, p.1)).collect();
        if dashed {
            plot.draw_series(DashedLineSeries::new(path_points, 8, 5, style))?;
        } else {
            plot.draw_series(LineSeries::new(path_points, style))?;
        }
        plot.draw_series(
            line.points
                .iter()
                .filter(|p| !p.2)
                .map(|p| Circle::new((p.0, p.1), 4, color.filled())),
        )?;
        plot.draw_series(
            line.points
                .iter()
                .filter(|p| p.2)
                .map(|p| Cross::new((p.0, p.1), 7, color.stroke_width(3))),
        )?;
    }

    // The legend, in columns below the plot, so that it never hides a line.
    for (i, line) in lines.iter().enumerate() {
        let (color, dashed) = look(&line.key, line.program);
        let (x, y) = legend_slot(i);
        let segments: &[(i32, i32)] = if dashed {
            &[(0, 9), (15, 24), (30, 36)]
        } else {
            &[(0, 36)]
        };
        for &(from, to) in segments {
            bottom.draw(&PathElement::new(
                vec![(x + from, y), (x + to, y)],
                color.stroke_width(2),
            ))?;
        }
        bottom.draw(&Circle::new((x + 18, y), 4, color.filled()))?;
        bottom.draw(&Text::new(line.label.clone(), (x + 46, y - 9), text(15.0)))?;
    }
    if lost_anywhere {
        let (x, y) = legend_slot(lines.len());
        bottom.draw(&Cross::new((x + 18, y), 7, BLACK.stroke_width(3)))?;
        bottom.draw(&Text::new(
            "clients were lost here",
            (x + 46, y - 9),
            text(15.0),
        ))?;
    }
    root.present()?;
    Ok(())
}

const LEGEND_COLUMNS: usize = 3;
const LEGEND_ROW: u32 = 28;

/// Where legend entry `i` starts (the middle of its marker's left end), below the plot.
fn legend_slot(i: usize) -> (i32, i32) {
    let column = (i % LEGEND_COLUMNS) as i32;
    let row = (i / LEGEND_COLUMNS) as i32;
    (24 + column * 290, 10 + row * LEGEND_ROW as i32)
}

/// A number for an axis: 0.01, 0.5, 2.5, 10, 1,000, 120,000.
fn number(value: f64) -> String {
    if value >= 10.0 {
        thousands(value)
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
