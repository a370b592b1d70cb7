//! A small SVG line-chart writer, written here rather than taken from a plotting crate: the
//! five figures need axes, polylines, markers and labels, nothing more, and writing the SVG
//! text directly keeps the output byte-for-byte deterministic (every coordinate is printed with
//! two decimals, nothing is measured from a font, no timestamp or generator id is written) and
//! adds no dependency to the build.

use std::fmt::Write as _;

/// Canvas size and the plot area's margins, in SVG user units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// A colour-blind-safe palette (Okabe and Ito), cycled by series.
pub const PALETTE: [&str; 6] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
];

/// Which corner of the plot area the legend sits in: the one the data leave empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
}

/// A legend entry: a line (with the series' dash pattern) or a marker, and its name.
struct Entry {
    name: String,
    colour: String,
    dash: String,
    marker: bool,
}

/// One chart: linear axes over `x` and `y`, and the SVG elements drawn so far.
pub struct Chart {
    x: (f64, f64),
    y: (f64, f64),
    body: String,
    legend: Vec<Entry>,
    corner: Corner,
}

/// Formats a coordinate or a tick value: two decimals, no negative zero.
fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    if s == "-0.00" { "0.00".into() } else { s }
}

/// Escapes text for an SVG text node or attribute.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Chart {
    /// A chart with the given title, axis ranges and labels, axes and ticks drawn.
    pub fn new(title: &str, x: (f64, f64), y: (f64, f64), labels: (&str, &str)) -> Chart {
        let mut chart = Chart {
            x,
            y,
            body: String::new(),
            legend: Vec::new(),
            corner: Corner::TopLeft,
        };
        chart.frame(title, labels);
        chart
    }

    /// Puts the legend in `corner` (top left unless said).
    pub fn legend_at(&mut self, corner: Corner) {
        self.corner = corner;
    }

    /// The SVG x coordinate of a data value.
    pub fn px(&self, v: f64) -> f64 {
        LEFT + (v - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    /// The SVG y coordinate of a data value (up is larger).
    pub fn py(&self, v: f64) -> f64 {
        HEIGHT - BOTTOM - (v - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }

    fn frame(&mut self, title: &str, (xl, yl): (&str, &str)) {
        let (x0, y0) = (LEFT, HEIGHT - BOTTOM);
        let (x1, y1) = (WIDTH - RIGHT, TOP);
        let _ = writeln!(
            self.body,
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
            num(x0),
            num(y1),
            num(x1 - x0),
            num(y0 - y1)
        );
        self.text(WIDTH / 2.0, 22.0, "middle", 15, title);
        self.text((x0 + x1) / 2.0, HEIGHT - 14.0, "middle", 13, xl);
        let _ = writeln!(
            self.body,
            r#"<text x="16" y="{}" text-anchor="middle" font-size="13" transform="rotate(-90 16 {})">{}</text>"#,
            num((y0 + y1) / 2.0),
            num((y0 + y1) / 2.0),
            escape(yl)
        );
    }

    /// Ticks on the x axis at `values`, each labelled with its shortest decimal.
    pub fn x_ticks(&mut self, values: &[f64]) {
        values.iter().for_each(|&v| self.x_tick(v, &tick_label(v)));
    }

    /// Ticks on the y axis at `values`, each labelled with its shortest decimal.
    pub fn y_ticks(&mut self, values: &[f64]) {
        values.iter().for_each(|&v| self.y_tick(v, &tick_label(v)));
    }

    /// One tick mark on the x axis at data value `v`, with the caller's label.
    pub fn x_tick(&mut self, v: f64, label: &str) {
        let (x, y) = (self.px(v), HEIGHT - BOTTOM);
        self.line((x, y), (x, y + 5.0), "#444", "");
        self.text(x, y + 19.0, "middle", 12, label);
    }

    /// One tick mark on the y axis at data value `v`, with the caller's label.
    pub fn y_tick(&mut self, v: f64, label: &str) {
        let y = self.py(v);
        self.line((LEFT - 5.0, y), (LEFT, y), "#444", "");
        self.text(LEFT - 8.0, y + 4.0, "end", 12, label);
    }

    /// A line in SVG coordinates; `dash` is an SVG dash array or empty.
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), colour: &str, dash: &str) {
        let dash = dash_attr(dash);
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{colour}"{dash}/>"#,
            num(x0),
            num(y0),
            num(x1),
            num(y1)
        );
    }

    /// A horizontal reference line at data value `v`, labelled at its right end, above it.
    pub fn h_rule(&mut self, v: f64, colour: &str, label: &str) {
        let y = self.py(v);
        self.line((LEFT, y), (WIDTH - RIGHT, y), colour, "2 3");
        self.text(WIDTH - RIGHT - 4.0, y - 4.0, "end", 11, label);
    }

    /// A horizontal reference line at data value `v`, labelled at its right end, below it
    /// (where a curve rising past the line's end would strike a label above it through).
    pub fn h_rule_below(&mut self, v: f64, colour: &str, label: &str) {
        let y = self.py(v);
        self.line((LEFT, y), (WIDTH - RIGHT, y), colour, "2 3");
        self.text(WIDTH - RIGHT - 4.0, y + 14.0, "end", 11, label);
    }

    /// A vertical reference line at data value `v`, labelled by `label` at `(dx, y)` from it.
    pub fn v_rule(&mut self, v: f64, colour: &str, label: &str, (dx, y): (f64, f64)) {
        let x = self.px(v);
        self.line((x, TOP), (x, HEIGHT - BOTTOM), colour, "2 3");
        let anchor = if dx < 0.0 { "end" } else { "start" };
        self.text(x + dx, self.py(y), anchor, 11, label);
    }

    /// Text in SVG coordinates.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, size: u32, text: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="{anchor}" font-size="{size}">{}</text>"#,
            num(x),
            num(y),
            escape(text)
        );
    }

    /// Text at a data point, offset by `(dx, dy)` SVG units.
    pub fn label(&mut self, (x, y): (f64, f64), (dx, dy): (f64, f64), text: &str) {
        let (x, y) = (self.px(x) + dx, self.py(y) + dy);
        self.text(x, y, "start", 11, text);
    }

    /// A polyline through the finite points (a legend entry unless `name` is empty), split where a point is not finite or leaves the
    /// y range (a curve that runs off to -inf is drawn up to its last point in range).
    pub fn series(&mut self, name: &str, colour: &str, dash: &str, points: &[(f64, f64)]) {
        let in_range =
            |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && y >= self.y.0 && y <= self.y.1;
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for p in points {
            match (in_range(p), runs.last_mut()) {
                (true, Some(run)) => run.push(*p),
                (false, Some(run)) if !run.is_empty() => runs.push(Vec::new()),
                _ => {}
            }
        }
        for run in runs.iter().filter(|r| r.len() > 1) {
            let coords: Vec<String> = run
                .iter()
                .map(|&(x, y)| format!("{},{}", num(self.px(x)), num(self.py(y))))
                .collect();
            let _ = writeln!(
                self.body,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{} points="{}"/>"#,
                dash_attr(dash),
                coords.join(" ")
            );
        }
        if !name.is_empty() {
            self.legend.push(Entry {
                name: name.into(),
                colour: colour.into(),
                dash: dash.into(),
                marker: false,
            });
        }
    }

    /// Filled circles at data points, with a legend entry unless `name` is empty.
    pub fn markers(&mut self, name: &str, colour: &str, points: &[(f64, f64)]) {
        for &(x, y) in points {
            let _ = writeln!(
                self.body,
                r#"<circle cx="{}" cy="{}" r="4" fill="{colour}"/>"#,
                num(self.px(x)),
                num(self.py(y))
            );
        }
        if !name.is_empty() {
            self.legend.push(Entry {
                name: name.into(),
                colour: colour.into(),
                dash: String::new(),
                marker: true,
            });
        }
    }

    /// A translucent rectangle over the data intervals `xa..xb` and `ya..yb`.
    pub fn band(&mut self, (xa, xb): (f64, f64), (ya, yb): (f64, f64), colour: &str) {
        let (x0, x1) = (self.px(xa), self.px(xb));
        let (y0, y1) = (self.py(yb), self.py(ya));
        let _ = writeln!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}" fill-opacity="0.25"/>"#,
            num(x0),
            num(y0),
            num(x1 - x0),
            num(y1 - y0)
        );
    }

    /// The finished SVG document, the legend on a white box in its corner.
    pub fn finish(mut self) -> String {
        self.draw_legend();
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
            self.body
        )
    }

    /// The legend: one row per entry, its line drawn with the series' dash pattern. Its width is
    /// estimated from the names' lengths (nothing is measured from a font, so the output stays
    /// deterministic).
    fn draw_legend(&mut self) {
        let entries = std::mem::take(&mut self.legend);
        if entries.is_empty() {
            return;
        }
        let longest = entries.iter().map(|e| e.name.chars().count()).max();
        let width = 36.0 + 6.8 * longest.unwrap_or(0) as f64;
        let height = 8.0 + 16.0 * entries.len() as f64;
        let x = match self.corner {
            Corner::TopRight => WIDTH - RIGHT - 8.0 - width,
            Corner::TopLeft | Corner::BottomLeft => LEFT + 8.0,
        };
        let top = match self.corner {
            Corner::BottomLeft => HEIGHT - BOTTOM - 8.0 - height,
            Corner::TopLeft | Corner::TopRight => TOP + 8.0,
        };
        let _ = writeln!(
            self.body,
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="white" fill-opacity="0.92" stroke="#bbb"/>"##,
            num(x),
            num(top),
            num(width),
            num(height)
        );
        for (i, e) in entries.iter().enumerate() {
            let y = top + 18.0 + 16.0 * i as f64;
            if e.marker {
                let _ = writeln!(
                    self.body,
                    r#"<circle cx="{}" cy="{}" r="4" fill="{}"/>"#,
                    num(x + 17.0),
                    num(y - 4.0),
                    e.colour
                );
            } else {
                let _ = writeln!(
                    self.body,
                    r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/>"#,
                    num(x + 6.0),
                    num(y - 4.0),
                    num(x + 28.0),
                    num(y - 4.0),
                    e.colour,
                    dash_attr(&e.dash)
                );
            }
            self.text(x + 34.0, y, "start", 12, &e.name);
        }
    }
}

fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{dash}""#)
    }
}

/// A tick's label: Rust's shortest decimal for `v`, with a typographic minus.
fn tick_label(v: f64) -> String {
    format!("{v}").replace('-', "−")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_leaving_the_range_is_cut_there() {
        let mut chart = Chart::new("t", (0.0, 1.0), (0.0, 1.0), ("x", "y"));
        let pts = [
            (0.0, 0.0),
            (0.5, 0.5),
            (0.6, f64::NEG_INFINITY),
            (0.8, 0.2),
            (1.0, 0.1),
        ];
        chart.series("s", PALETTE[0], "", &pts);
        let svg = chart.finish();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(!svg.contains("inf") && !svg.contains("NaN"));
    }

    #[test]
    fn a_legend_line_keeps_its_series_dash() {
        let mut chart = Chart::new("t", (0.0, 1.0), (0.0, 1.0), ("x", "y"));
        chart.series("dashed", PALETTE[1], "6 4", &[(0.0, 0.0), (1.0, 1.0)]);
        let svg = chart.finish();
        assert_eq!(svg.matches(r#"stroke-dasharray="6 4""#).count(), 2, "{svg}");
    }

    #[test]
    fn numbers_have_two_decimals_and_no_negative_zero() {
        assert_eq!(num(-0.0001), "0.00");
        assert_eq!(num(1.0 / 3.0), "0.33");
    }
}
