//! The operators' figures, computed from raw rows so both backends count alike: KPIs per week and
//! per neighbourhood (H3 resolution 7), and the coverage map of supply, demand and unfilled
//! requests drawn as SVG by our own code.
//!
//! Definitions (also in docs/ARCHITECTURE.md):
//! - a *request* is a booking asked of a chosen helper or a request to "any helper nearby";
//! - *accepted*: a helper took it; *fill rate* = accepted / requests;
//! - *accept within 15 min / 1 h / 2 h*: share of all requests accepted within that time of
//!   being made (unfilled requests count as not within); the median is over accepted ones;
//! - *completion*, *cancellation* and *no-show* rates are shares of accepted requests;
//! - *dispute rate* = disputes / completed; *rating* = customers' ratings of helpers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use h3o::{CellIndex, LatLng, Resolution};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use quartier_domain::GeoPoint;
use serde::Serialize;
use utoipa::ToSchema;

/// One request with what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// When it was made (epoch ms).
    pub created_at: i64,
    /// Where, if known.
    pub place: Option<GeoPoint>,
    /// When a helper accepted (epoch ms).
    pub accepted_at: Option<i64>,
    /// The booking's state once accepted.
    pub state: Option<String>,
    /// The customer's rating of the helper.
    pub rating: Option<u8>,
    /// Whether a dispute was opened.
    pub disputed: bool,
}

/// The KPIs of a set of requests. Rates are shares 0..1; `None` when nothing to divide by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Kpis {
    requests: u64,
    accepted: u64,
    fill_rate: Option<f64>,
    accept_within_15m: Option<f64>,
    accept_within_1h: Option<f64>,
    accept_within_2h: Option<f64>,
    median_minutes_to_accept: Option<f64>,
    completed: u64,
    completion_rate: Option<f64>,
    cancelled: u64,
    cancellation_rate: Option<f64>,
    no_shows: u64,
    no_show_rate: Option<f64>,
    disputes: u64,
    dispute_rate: Option<f64>,
    ratings: u64,
    rating_avg: Option<f64>,
}

fn share(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

impl Kpis {
    /// Counts a set of requests.
    pub fn of<'a>(items: impl IntoIterator<Item = &'a Demand>) -> Self {
        let mut k = Kpis::default();
        let mut waits = Vec::new();
        let (mut within15, mut within60, mut within120) = (0, 0, 0);
        let mut rating_sum = 0u64;
        for d in items {
            k.requests += 1;
            if let Some(at) = d.accepted_at {
                k.accepted += 1;
                let minutes = (at - d.created_at).max(0) as f64 / 60_000.0;
                waits.push(minutes);
                within15 += u64::from(minutes <= 15.0);
                within60 += u64::from(minutes <= 60.0);
                within120 += u64::from(minutes <= 120.0);
            }
            match d.state.as_deref() {
                Some("done") => k.completed += 1,
                Some(s) if s.starts_with("cancelled") => k.cancelled += 1,
                Some(s) if s.starts_with("no_show") => k.no_shows += 1,
                _ => {}
            }
            k.disputes += u64::from(d.disputed);
            if let Some(r) = d.rating {
                k.ratings += 1;
                rating_sum += u64::from(r);
            }
        }
        k.fill_rate = share(k.accepted, k.requests);
        k.accept_within_15m = share(within15, k.requests);
        k.accept_within_1h = share(within60, k.requests);
        k.accept_within_2h = share(within120, k.requests);
        waits.sort_by(f64::total_cmp);
        k.median_minutes_to_accept = match waits.len() {
            0 => None,
            n if n % 2 == 1 => Some(waits[n / 2]),
            n => Some((waits[n / 2 - 1] + waits[n / 2]) / 2.0),
        };
        k.completion_rate = share(k.completed, k.accepted);
        k.cancellation_rate = share(k.cancelled, k.accepted);
        k.no_show_rate = share(k.no_shows, k.accepted);
        k.dispute_rate = share(k.disputes, k.completed);
        k.rating_avg = share(rating_sum, k.ratings);
        k
    }
}

/// KPIs of one ISO week (Europe/Zurich).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeekKpis {
    /// ISO week, e.g. 2026-W47.
    week: String,
    /// Its Monday, 00:00 Zurich time.
    from: Timestamp,
    #[serde(flatten)]
    kpis: Kpis,
}

/// KPIs of one neighbourhood.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AreaKpis {
    /// H3 resolution-7 cell.
    cell: String,
    /// The nearest known place.
    name: String,
    #[serde(flatten)]
    kpis: Kpis,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    from: Timestamp,
    to: Timestamp,
    overall: Kpis,
    /// Oldest first, every week of the period (empty weeks included).
    weeks: Vec<WeekKpis>,
    /// Most requests first.
    neighbourhoods: Vec<AreaKpis>,
}

/// The neighbourhood of a place: its H3 resolution-7 cell.
pub fn neighbourhood(p: GeoPoint) -> Option<CellIndex> {
    LatLng::new(p.lat(), p.lon()).ok().map(|ll| ll.to_cell(Resolution::Seven))
}

/// The name of the known place nearest to a cell's centre.
pub fn place_name(cell: CellIndex) -> String {
    let c = LatLng::from(cell);
    quartier_matching::postcodes::all()
        .filter_map(quartier_matching::postcodes::lookup)
        .min_by(|(_, a), (_, b)| {
            let da = (a.lat() - c.lat()).powi(2) + ((a.lon() - c.lng()) * c.lat().to_radians().cos()).powi(2);
            let db = (b.lat() - c.lat()).powi(2) + ((b.lon() - c.lng()) * c.lat().to_radians().cos()).powi(2);
            da.total_cmp(&db)
        })
        .map(|(name, _)| name.to_owned())
        .unwrap_or_default()
}

/// Monday 00:00 (in `zone`) of the week holding `t`.
fn week_start(t: Timestamp, zone: &TimeZone) -> Option<jiff::Zoned> {
    let z = t.to_zoned(zone.clone());
    let back = i64::from(z.weekday().to_monday_zero_offset());
    z.date().checked_sub(jiff::Span::new().days(back)).ok()?.to_zoned(zone.clone()).ok()
}

/// KPIs of `items` (made in `[from, to)`), overall, per week and per neighbourhood.
pub fn dashboard(items: &[Demand], from: Timestamp, to: Timestamp, zone: &TimeZone) -> Dashboard {
    let mut weeks: BTreeMap<i64, (String, Timestamp, Vec<&Demand>)> = BTreeMap::new();
    let mut cursor = week_start(from, zone);
    while let Some(w) = cursor {
        if w.timestamp() >= to {
            break;
        }
        let iso = w.date().iso_week_date();
        weeks.insert(w.timestamp().as_millisecond(), (format!("{}-W{:02}", iso.year(), iso.week()), w.timestamp(), Vec::new()));
        cursor = w.date().checked_add(jiff::Span::new().days(7)).ok().and_then(|d| d.to_zoned(zone.clone()).ok());
    }
    let mut areas: BTreeMap<CellIndex, Vec<&Demand>> = BTreeMap::new();
    for d in items {
        if let Some(w) = Timestamp::from_millisecond(d.created_at).ok().and_then(|t| week_start(t, zone))
            && let Some(slot) = weeks.get_mut(&w.timestamp().as_millisecond())
        {
            slot.2.push(d);
        }
        if let Some(cell) = d.place.and_then(neighbourhood) {
            areas.entry(cell).or_default().push(d);
        }
    }
    let mut neighbourhoods: Vec<AreaKpis> = areas
        .into_iter()
        .map(|(cell, ds)| AreaKpis { cell: cell.to_string(), name: place_name(cell), kpis: Kpis::of(ds.iter().copied()) })
        .collect();
    neighbourhoods.sort_by(|a, b| b.kpis.requests.cmp(&a.kpis.requests).then_with(|| a.cell.cmp(&b.cell)));
    Dashboard {
        from,
        to,
        overall: Kpis::of(items),
        weeks: weeks.into_values().map(|(week, from, ds)| WeekKpis { week, from, kpis: Kpis::of(ds.iter().copied()) }).collect(),
        neighbourhoods,
    }
}

/// One cell of the coverage map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CoverageCell {
    /// H3 resolution-7 cell.
    cell: String,
    /// The nearest known place.
    name: String,
    /// Approved helpers whose service area reaches into the cell.
    supply: u32,
    /// Requests made from the cell.
    demand: u32,
    /// Of those, requests no helper took.
    unfilled: u32,
}

/// The coverage of a region.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Coverage {
    from: Timestamp,
    to: Timestamp,
    /// Cells with unfilled demand first, then by demand.
    cells: Vec<CoverageCell>,
}

/// Supply (each helper's service area as resolution-7 cells), demand and unfilled requests per cell.
pub fn coverage(helper_areas: &[Vec<CellIndex>], items: &[Demand], from: Timestamp, to: Timestamp) -> Coverage {
    let mut cells: BTreeMap<CellIndex, (u32, u32, u32)> = BTreeMap::new();
    for area in helper_areas {
        let mut mine: Vec<CellIndex> = Vec::new();
        for c in area {
            match c.resolution().cmp(&Resolution::Seven) {
                std::cmp::Ordering::Greater => mine.extend(c.parent(Resolution::Seven)),
                std::cmp::Ordering::Equal => mine.push(*c),
                std::cmp::Ordering::Less => mine.extend(c.children(Resolution::Seven)),
            }
        }
        mine.sort_unstable();
        mine.dedup();
        for c in mine {
            cells.entry(c).or_default().0 += 1;
        }
    }
    for d in items {
        if let Some(c) = d.place.and_then(neighbourhood) {
            let e = cells.entry(c).or_default();
            e.1 += 1;
            e.2 += u32::from(d.accepted_at.is_none());
        }
    }
    let mut out: Vec<CoverageCell> = cells
        .into_iter()
        .map(|(c, (supply, demand, unfilled))| CoverageCell { cell: c.to_string(), name: place_name(c), supply, demand, unfilled })
        .collect();
    out.sort_by(|a, b| b.unfilled.cmp(&a.unfilled).then(b.demand.cmp(&a.demand)).then_with(|| a.cell.cmp(&b.cell)));
    Coverage { from, to, cells: out }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Fill colours for supply (no helpers to many), light to dark teal; AA against the text used.
const SUPPLY_FILLS: [&str; 5] = ["#f1f5f9", "#ccfbf1", "#99f6e4", "#5eead4", "#2dd4bf"];

fn supply_class(n: u32) -> usize {
    match n {
        0 => 0,
        1..=2 => 1,
        3..=5 => 2,
        6..=10 => 3,
        _ => 4,
    }
}

/// The coverage as an SVG map: hexagons shaded by supply, a dot sized by demand, a red ring and
/// count where requests went unfilled, a legend, and a `<title>` per cell for screen readers and
/// tooltips. No map tiles: the cells are the map.
pub fn coverage_svg(c: &Coverage) -> String {
    const W: f64 = 960.0;
    const H: f64 = 640.0;
    const LEGEND: f64 = 200.0;
    let cells: Vec<(CellIndex, &CoverageCell)> = c.cells.iter().filter_map(|x| x.cell.parse::<CellIndex>().ok().map(|i| (i, x))).collect();
    let mut svg = String::new();
    let total_unfilled: u32 = c.cells.iter().map(|x| x.unfilled).sum();
    let total_demand: u32 = c.cells.iter().map(|x| x.demand).sum();
    let covered = c.cells.iter().filter(|x| x.supply > 0).count();
    let summary = format!(
        "Coverage map: {} neighbourhoods, {covered} with helpers; {total_demand} requests, {total_unfilled} unfilled.",
        c.cells.len()
    );
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="cov-title cov-desc" font-family="system-ui, sans-serif">"#
    );
    let _ = write!(svg, r#"<title id="cov-title">Helper coverage and demand</title><desc id="cov-desc">{}</desc>"#, escape(&summary));
    let _ = write!(svg, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
    // Projection: equirectangular around the region's middle latitude, fitted to the map area.
    let rings: Vec<Vec<(f64, f64)>> =
        cells.iter().map(|(i, _)| i.boundary().iter().map(|ll| (ll.lng(), ll.lat())).collect::<Vec<_>>()).collect();
    let all = rings.iter().flatten();
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        min_x = min_x.min(x);
        max_x = max_x.max(x);
        min_y = min_y.min(y);
        max_y = max_y.max(y);
    }
    let map_w = W - LEGEND - 40.0;
    let map_h = H - 60.0;
    if cells.is_empty() {
        let _ = write!(svg, r##"<text x="40" y="80" font-size="18" fill="#0f172a">No helpers and no requests yet.</text></svg>"##);
        return svg;
    }
    let k = ((min_y + max_y) / 2.0).to_radians().cos();
    let span_x = ((max_x - min_x) * k).max(1e-9);
    let span_y = (max_y - min_y).max(1e-9);
    let scale = (map_w / span_x).min(map_h / span_y);
    let off_x = 20.0 + (map_w - span_x * scale) / 2.0;
    let off_y = 40.0 + (map_h - span_y * scale) / 2.0;
    let project = |x: f64, y: f64| (off_x + (x - min_x) * k * scale, off_y + (max_y - y) * scale);
    let _ = write!(
        svg,
        r##"<text x="20" y="26" font-size="18" font-weight="600" fill="#0f172a">Helpers, requests and unfilled requests per neighbourhood</text>"##
    );
    // Three layers, so dots and rings are never hidden under a later cell.
    let (mut dots, mut rings_layer) = (String::new(), String::new());
    for ((cell, info), ring) in cells.iter().zip(&rings) {
        let points: Vec<String> = ring
            .iter()
            .map(|&(x, y)| {
                let (px, py) = project(x, y);
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let fill = SUPPLY_FILLS[supply_class(info.supply)];
        let _ = write!(
            svg,
            r##"<polygon points="{}" fill="{fill}" stroke="#64748b" stroke-width="0.6"><title>{}: {} helpers, {} requests, {} unfilled</title></polygon>"##,
            points.join(" "),
            escape(&info.name),
            info.supply,
            info.demand,
            info.unfilled
        );
        let centre = LatLng::from(*cell);
        let (cx, cy) = project(centre.lng(), centre.lat());
        if info.demand > 0 {
            let r = 2.5 + f64::from(info.demand).sqrt() * 2.0;
            let _ = write!(dots, r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="#1d4ed8" fill-opacity="0.75"/>"##);
        }
        if info.unfilled > 0 {
            let r = 6.0 + f64::from(info.unfilled).sqrt() * 3.0;
            let _ = write!(
                rings_layer,
                r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="none" stroke="#b91c1c" stroke-width="2.5"/><text x="{:.1}" y="{:.1}" font-size="12" font-weight="700" fill="#7f1d1d" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                cx + r + 2.0,
                cy + 4.0,
                info.unfilled
            );
        }
    }
    svg.push_str(&dots);
    svg.push_str(&rings_layer);
    // Legend.
    let lx = W - LEGEND;
    let _ = write!(svg, r##"<g font-size="13" fill="#0f172a"><text x="{lx}" y="60" font-weight="600">Helpers reaching</text>"##);
    for (i, (label, fill)) in ["none", "1–2", "3–5", "6–10", "11+"].iter().zip(SUPPLY_FILLS).enumerate() {
        let y = 72.0 + i as f64 * 24.0;
        let _ = write!(
            svg,
            r##"<rect x="{lx}" y="{y}" width="18" height="18" fill="{fill}" stroke="#64748b"/><text x="{}" y="{}">{label}</text>"##,
            lx + 26.0,
            y + 14.0
        );
    }
    let _ = write!(
        svg,
        r##"<circle cx="{}" cy="212" r="7" fill="#1d4ed8" fill-opacity="0.75"/><text x="{}" y="217">requests (area ∝ count)</text><circle cx="{}" cy="246" r="9" fill="none" stroke="#b91c1c" stroke-width="2.5"/><text x="{}" y="251">unfilled (count beside)</text></g>"##,
        lx + 9.0,
        lx + 26.0,
        lx + 9.0,
        lx + 26.0
    );
    let _ = write!(
        svg,
        r##"<text x="{lx}" y="290" font-size="12" fill="#334155">{}</text>"##,
        escape(&format!("{total_demand} requests, {total_unfilled} unfilled"))
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(created_min: i64, accepted_min: Option<i64>, state: Option<&str>, rating: Option<u8>, disputed: bool) -> Demand {
        Demand {
            created_at: created_min * 60_000,
            place: GeoPoint::new(47.3769, 8.5417).ok(),
            accepted_at: accepted_min.map(|m| m * 60_000),
            state: state.map(str::to_owned),
            rating,
            disputed,
        }
    }

    #[test]
    fn kpis_count_by_hand() {
        let items = [
            d(0, Some(10), Some("done"), Some(5), false),
            d(0, Some(50), Some("done"), Some(4), true),
            d(0, Some(110), Some("cancelled_by_customer"), None, false),
            d(0, Some(300), Some("no_show_helper"), None, false),
            d(0, None, None, None, false),
        ];
        let k = Kpis::of(&items);
        assert_eq!((k.requests, k.accepted, k.completed, k.cancelled, k.no_shows, k.disputes, k.ratings), (5, 4, 2, 1, 1, 1, 2));
        assert_eq!(k.fill_rate, Some(0.8));
        assert_eq!(k.accept_within_15m, Some(0.2));
        assert_eq!(k.accept_within_1h, Some(0.4));
        assert_eq!(k.accept_within_2h, Some(0.6));
        assert_eq!(k.median_minutes_to_accept, Some(80.0));
        assert_eq!(k.completion_rate, Some(0.5));
        assert_eq!(k.dispute_rate, Some(0.5));
        assert_eq!(k.rating_avg, Some(4.5));
        assert_eq!(Kpis::of(&[]).fill_rate, None);
    }

    #[test]
    fn weeks_cover_the_period_and_the_map_draws_every_cell() {
        let zone = TimeZone::get("Europe/Zurich").expect("zone");
        let from: Timestamp = "2026-11-02T00:00:00+01:00[Europe/Zurich]".parse::<jiff::Zoned>().expect("from").timestamp();
        let to = from.checked_add(jiff::SignedDuration::from_hours(24 * 14)).expect("to");
        let mut a = d(0, Some(5), Some("done"), None, false);
        a.created_at = from.as_millisecond() + 3_600_000;
        a.accepted_at = Some(a.created_at + 300_000);
        let dash = dashboard(&[a.clone()], from, to, &zone);
        assert_eq!(dash.weeks.len(), 2);
        assert_eq!(dash.weeks[0].week, "2026-W45");
        assert_eq!(dash.weeks[0].kpis.requests, 1);
        assert_eq!(dash.weeks[1].kpis.requests, 0);
        assert_eq!(dash.neighbourhoods.len(), 1);
        let home = neighbourhood(GeoPoint::new(47.37, 8.54).expect("p")).expect("cell");
        let mut unfilled = a;
        unfilled.accepted_at = None;
        let cov = coverage(&[vec![home]], &[unfilled], from, to);
        assert_eq!(cov.cells.iter().map(|c| c.unfilled).sum::<u32>(), 1);
        let svg = coverage_svg(&cov);
        assert_eq!(svg.matches("<polygon").count(), cov.cells.len());
        assert!(svg.contains("1 requests, 1 unfilled"), "{svg}");
    }
}
