//! The SVG plots: one figure against the number of clients, one colour per series, a mark at
//! each point measured (a cross where clients were lost) and, for round trips per second, a bar
//! from the slowest round to the fastest. No line joins the marks: between two client counts
//! nothing was measured, and a line would draw values there as if it had been.

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::report::{Summary, thousands};
use crate::{Program, Unmeasured};

/// One plot.
pub struct Chart {
    pub file: &'static str,
    pub title: &'static str,
    pub y_desc: &'static str,
    /// A logarithmic y axis, for figures that span several orders of magnitude.
    pub log_y: bool,
    pub value: fn(&Summary) -> Option<f64>,
    /// The lowest and highest value of the rounds, drawn as a bar, where the chart has one.
    pub range: fn(&Summary) -> Option<(f64, f64)>,
}

/// The plots the chapter shows.
pub fn charts() -> [Chart; 4] {
    [
        Chart {
            file: "round-trips.svg",
            title: "Round trips per second (higher is better; bars: slowest to fastest round)",
            y_desc: "round trips per second",
            log_y: false,
            value: |s| Some(s.rate),
            range: |s| (s.rounds > 1).then_some((s.rate_min, s.rate_max)),
        },
        Chart {
            file: "p99-latency.svg",
            title: "p99 latency of a round trip (lower is better)",
            y_desc: "milliseconds (log scale)",
            log_y: true,
            value: |s| s.p99_ms,
            range: |_| None,
        },
        Chart {
            file: "greeting.svg",
            title: "Slowest time from connect to greeting (lower is better)",
            y_desc: "milliseconds (log scale)",
            log_y: true,
            value: |s| s.greeting_ms,
            range: |_| None,
        },
        Chart {
            file: "server-cpu.svg",
            title: "Server CPU time per round trip (lower is better)",
            y_desc: "microseconds",
            log_y: false,
            value: |s| s.cpu_us,
            range: |_| None,
        },
    ]
}

const FONT: &str = "DejaVu Sans, Arial, sans-serif";
const SIZE: (u32, u32) = (960, 600);

/// A series' colour and whether its marks are hollow: lesson 03 in blues, darker for more
/// workers; the original in red, hollow when its clients are paced.
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

/// One measured point: x = log2(clients), the value, whether clients were lost there, and the
/// range of the rounds.
type Mark = (f64, f64, bool, Option<(f64, f64)>);

/// One series' points.
struct Line {
    key: String,
    program: Program,
    label: String,
    points: Vec<Mark>,
}

/// Draws `chart` from `summaries` into an SVG file at `path`; `clients` are the x axis' ticks.
/// Each series in `missing` gets a line under the legend: `not measured: <reason>`.
pub fn draw(
    chart: &Chart,
    summaries: &[Summary],
    missing: &[Unmeasured],
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
        let range = (chart.range)(s).filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
        let point = ((s.clients as f64).log2(), value, s.lost() > 0, range);
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

    let values = lines.iter().flat_map(|l| {
        l.points
            .iter()
            .map(|p| p.3.map_or(p.1, |(_, hi)| hi.max(p.1)))
    });
    let (min, max) = values.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let result = if chart.log_y {
        let (min, max) = if min.is_finite() {
            (min, max)
        } else {
            (0.1, 1.0)
        };
        render(
            chart,
            (&lines, missing),
            (x, x_labels),
            (min / 2.0..max * 3.0).log_scale(),
            path,
        )
    } else {
        render(
            chart,
            (&lines, missing),
            (x, x_labels),
            0.0..(max * 1.15).max(1.0),
            path,
        )
    };
    result.map_err(|e| e.to_string())
}

fn render<Y>(
    chart: &Chart,
    (lines, missing): (&[Line], &[Unmeasured]),
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
    let legend_rows = (entries.div_ceil(LEGEND_COLUMNS) + missing.len()) as u32;
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

    for (i, line) in lines.iter().enumerate() {
        let (color, hollow) = look(&line.key, line.program);
        // Each series a little to the side of the others, so that marks and bars at the same
        // client count do not hide each other.
        let shift = (i as f64 - (lines.len() as f64 - 1.0) / 2.0) * 0.05;
        let mark = if hollow {
            color.stroke_width(2)
        } else {
            color.filled()
        };
        for &(x, value, lost, range) in &line.points {
            let x = x + shift;
            if let Some((lo, hi)) = range {
                plot.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    color.stroke_width(2),
                )))?;
                for end in [lo, hi] {
                    plot.draw_series(std::iter::once(PathElement::new(
                        vec![(x - 0.025, end), (x + 0.025, end)],
                        color.stroke_width(2),
                    )))?;
                }
            }
            if lost {
                plot.draw_series(std::iter::once(Cross::new(
                    (x, value),
                    7,
                    color.stroke_width(3),
                )))?;
            } else {
                plot.draw_series(std::iter::once(Circle::new((x, value), 5, mark)))?;
            }
        }
    }

    // The legend, in columns below the plot, so that it never hides a line.
    for (i, line) in lines.iter().enumerate() {
        let (color, hollow) = look(&line.key, line.program);
        let (x, y) = legend_slot(i);
        let mark = if hollow {
            color.stroke_width(2)
        } else {
            color.filled()
        };
        bottom.draw(&Circle::new((x + 18, y), 5, mark))?;
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
    // A series that lacks: a whole row each, since the reason is long.
    let first_row = entries.div_ceil(LEGEND_COLUMNS) as i32;
    for (i, series) in missing.iter().enumerate() {
        let (x, y) = (24, 10 + (first_row + i as i32) * LEGEND_ROW as i32);
        let note = format!("{}: not measured: {}", series.label, series.why);
        bottom.draw(&Text::new(
            note,
            (x, y - 9),
            text(15.0).color(&RGBColor(110, 110, 110)),
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
