//! The in-memory index of helpers and the ranked, explained search over it.
//!
//! Invariants: a helper's home location stays inside this module (results carry a
//! [`DistanceBucket`], never metres or coordinates); the indexed search returns exactly what the
//! brute-force scan [`MatchIndex::search_brute_force`] returns, in the same order.
//!
//! Layout: helpers live in a slab; a map from H3 resolution-7 cells to the slab slots of the
//! helpers living in them gives the spatial prefilter. Distances use unit vectors (n-vectors):
//! `dot(a, b) >= cos(r / R)` is exact for "within r" and costs a few multiplications.

use std::collections::{HashMap, HashSet};

use h3o::{CellIndex, LatLng, Resolution};
use jiff::Timestamp;
use quartier_domain::{GeoPoint, Locale, UserId};

use crate::DistanceBucket;
use crate::availability::{Booking, Calendar, Schedule, ZoneTable};

/// Mean Earth radius in metres (the same sphere as `GeoPoint::distance_m`).
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// The index resolution: cells of about 5 km², so a 15 km disk is about 270 cells.
const INDEX_RES: Resolution = Resolution::Seven;
/// The longest travel radius a helper can choose.
pub const MAX_RADIUS_KM: u8 = 15;

/// Everything the index needs to know about one helper.
#[derive(Debug, Clone)]
pub struct HelperRecord {
    /// The helper.
    pub id: UserId,
    /// Private home location.
    pub home: GeoPoint,
    /// Travel radius, 1..=15 km.
    pub radius_km: u8,
    /// Skill names.
    pub skills: Vec<String>,
    /// Languages spoken.
    pub languages: Vec<Locale>,
    /// When the helper works.
    pub schedule: Schedule,
    /// Active bookings (busy time).
    pub bookings: Vec<Booking>,
    /// Track record for ranking.
    pub stats: HelperStats,
    /// Skills with an earned badge (at least the first tier of signed-off jobs): proven skill.
    pub proven: Vec<String>,
}

/// A helper's track record, as counted by the store.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HelperStats {
    /// Sum of ratings received (1-5 each).
    pub rating_sum: u32,
    /// Number of ratings received.
    pub rating_count: u32,
    /// Jobs completed.
    pub completed: u32,
    /// Jobs the helper let down (cancelled late, declined after accepting, no-show).
    pub let_down: u32,
    /// Requests offered to the helper in the last 7 days.
    pub recent_offers: u32,
    /// The helper's level: 0 new, 1 trusted, 2 super-helper (see [`crate::reputation`]).
    pub level: u8,
}

/// A search for helpers.
#[derive(Debug, Clone)]
pub struct Query {
    /// The customer's place.
    pub place: GeoPoint,
    /// The skill the job needs.
    pub skill: String,
    /// Earliest start.
    pub from: Timestamp,
    /// The job must end by then.
    pub to: Timestamp,
    /// Length of the job.
    pub duration_minutes: u32,
    /// Only helpers at most this far (km), on top of their own travel radius.
    pub max_distance_km: Option<f64>,
    /// The customer's language, to prefer helpers who speak it.
    pub locale: Option<Locale>,
    /// How many results.
    pub limit: usize,
    /// The present (for minimum notice).
    pub now: Timestamp,
    /// Only helpers of at least this level (2 for a preview service: super-helpers only).
    pub min_level: u8,
}

/// One component of a ranking score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    /// `distance`, `language`, `rating`, `reliability`, `fairness`, `level` or `proven_skill`.
    pub name: &'static str,
    /// The helper's value, 0..=1 (higher is better).
    pub value: f64,
    /// The weight of this component; the weights sum to 1.
    pub weight: f64,
}

/// A ranked helper.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The helper.
    pub helper: UserId,
    /// How far, as customers may see it.
    pub distance: DistanceBucket,
    /// Earliest free start inside the window.
    pub earliest_start: Timestamp,
    /// Weighted sum of the components, 0..=1.
    pub score: f64,
    /// Why this rank: every component with its weight.
    pub explanation: Vec<Component>,
}

/// The ranking weights, in the order the explanation lists them (published: they sum to 1).
///
/// - `distance`: from the distance bucket (never the exact distance).
/// - `language`: 1 when the helper speaks the customer's language, else 0.7.
/// - `rating`: the average customer rating, shrunk towards 4 for few ratings.
/// - `reliability`: completed jobs against let-downs, shrunk towards 0.9.
/// - `fairness`: 1 for new helpers (fewer than 5 jobs done, so they get first jobs although
///   `level` and `proven_skill` are still 0 for them), else falling with offers in the last 7 days.
/// - `level`: 0 new, 0.5 trusted, 1 super-helper.
/// - `proven_skill`: 1 with a badge for the job's skill (signed-off jobs of that service).
pub const WEIGHTS: [(&str, f64); 7] = [
    ("distance", 0.30),
    ("language", 0.10),
    ("rating", 0.18),
    ("reliability", 0.14),
    ("fairness", 0.13),
    ("level", 0.08),
    ("proven_skill", 0.07),
];

/// Jobs done below which a helper counts as new for the fairness term.
pub const NEW_HELPER_JOBS: u32 = 5;

struct Entry {
    id: UserId,
    nvec: [f64; 3],
    cos_reach: f64,
    cell: CellIndex,
    skills: u64,
    proven: u64,
    languages: u8,
    calendar: Calendar,
    stats: HelperStats,
}

impl Entry {
    /// The indexed form of a helper whose skills are already numbered and whose home lies in
    /// `cell`.
    fn build(h: &HelperRecord, skills: u64, proven: u64, cell: CellIndex, table: &ZoneTable) -> Entry {
        Entry {
            id: h.id,
            nvec: nvec(h.home),
            cos_reach: cos_of_km(f64::from(h.radius_km.clamp(1, MAX_RADIUS_KM))),
            cell,
            skills,
            proven,
            languages: h.languages.iter().fold(0u8, |acc, l| acc | lang_bit(*l)),
            calendar: Calendar::build(&h.schedule, &h.bookings, table),
            stats: h.stats,
        }
    }
}

/// The index. Not thread-safe by itself: the API wraps it in a lock.
pub struct MatchIndex {
    table: ZoneTable,
    skills: HashMap<String, u8>,
    slab: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<UserId, u32>,
    cells: HashMap<CellIndex, Vec<u32>>,
}

fn nvec(p: GeoPoint) -> [f64; 3] {
    let (lat, lon) = (p.lat().to_radians(), p.lon().to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cos_of_km(km: f64) -> f64 {
    (km * 1000.0 / EARTH_RADIUS_M).cos()
}

fn metres_of_dot(d: f64) -> f64 {
    d.clamp(-1.0, 1.0).acos() * EARTH_RADIUS_M
}

fn cell_of(p: GeoPoint) -> Option<CellIndex> {
    // A GeoPoint is always finite and in range, which is all LatLng::new checks.
    LatLng::new(p.lat(), p.lon()).ok().map(|ll| ll.to_cell(INDEX_RES))
}

/// The grid distance k whose disk around the query's cell holds every point within `km`:
/// every point outside the k-disk lies at least e·(1.5k + 0.5) from the cell centre, and the
/// query lies at most e from it (with 10% margins for H3's irregular hexagons).
fn disk_k(cell: CellIndex, km: f64) -> u32 {
    let lengths: Vec<f64> = cell.edges().map(|e| e.length_km()).collect();
    let e_min = lengths.iter().copied().fold(f64::INFINITY, f64::min) * 0.9;
    let e_max = lengths.iter().copied().fold(0.0, f64::max) * 1.1;
    let k = (((km + e_max) / e_min - 0.5) / 1.5).ceil();
    if k.is_finite() && k > 0.0 { k as u32 } else { 1 }
}

impl MatchIndex {
    /// An empty index whose calendars cover `days` local dates from `first` in `zone`.
    pub fn new(zone: &jiff::tz::TimeZone, first: jiff::civil::Date, days: u16) -> Self {
        Self {
            table: ZoneTable::new(zone, first, days),
            skills: HashMap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            cells: HashMap::new(),
        }
    }

    /// Number of helpers indexed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no helper is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// First local date the calendars cover.
    pub fn horizon(&self) -> (jiff::civil::Date, u16) {
        (self.table.first(), self.table.days())
    }

    /// Approximate memory held by the calendars and the spatial map, in bytes.
    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self.slab.iter().flatten().map(|e| std::mem::size_of::<Entry>() + e.calendar.heap_bytes()).sum();
        let cells: usize = self.cells.values().map(|v| v.capacity() * 4 + 48).sum();
        entries + cells + self.by_id.capacity() * 24
    }

    fn skill_bits(&mut self, skills: &[String]) -> u64 {
        let mut bits = 0u64;
        for s in skills {
            let next = u8::try_from(self.skills.len()).unwrap_or(63).min(63);
            let bit = *self.skills.entry(s.clone()).or_insert(next);
            bits |= 1u64 << bit;
        }
        bits
    }

    /// Adds a helper or replaces what the index knows about them.
    pub fn upsert(&mut self, h: &HelperRecord) {
        self.remove(h.id);
        let skills = self.skill_bits(&h.skills);
        let proven = h.proven.iter().filter_map(|s| self.skills.get(s)).fold(0u64, |acc, &bit| acc | 1u64 << bit);
        let Some(cell) = cell_of(h.home) else { return };
        let entry = Entry::build(h, skills, proven, cell, &self.table);
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(place) = self.slab.get_mut(s as usize) {
                    *place = Some(entry);
                }
                s
            }
            None => {
                self.slab.push(Some(entry));
                u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.by_id.insert(h.id, slot);
        self.cells.entry(cell).or_default().push(slot);
    }

    /// Adds many helpers at once: the same index as upserting `records` one by one in order (a
    /// later record replaces an earlier one, or an indexed helper, with the same id), so every
    /// search answers the same, only built faster. Cells, unit vectors and calendars are
    /// computed on all available cores (`std::thread::scope`) while this thread fills the maps,
    /// and the new helpers are built and stored in cell order, so a search reads the helpers of
    /// one cell, and their calendars, from adjacent memory.
    pub fn bulk_load(&mut self, records: &[HelperRecord]) {
        let n = records.len();
        if n == 0 {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).clamp(1, n);
        // 1. Workers: each home's cell, and each chunk's new skill names in order of first
        //    sight. This thread meanwhile: which record of each id wins (the last one).
        let known = &self.skills;
        let (cells, fresh, wins) = std::thread::scope(|scope| {
            let workers: Vec<_> = records
                .chunks(n.div_ceil(threads))
                .map(|part| {
                    scope.spawn(move || {
                        let mut seen = HashSet::new();
                        let mut fresh: Vec<&String> = Vec::new();
                        let cells: Vec<Option<CellIndex>> = part
                            .iter()
                            .map(|h| {
                                for s in &h.skills {
                                    if !known.contains_key(s) && seen.insert(s) {
                                        fresh.push(s);
                                    }
                                }
                                cell_of(h.home)
                            })
                            .collect();
                        (cells, fresh)
                    })
                })
                .collect();
            let wins = last_of_each_id(records);
            let (mut cells, mut fresh) = (Vec::with_capacity(n), Vec::new());
            for worker in workers {
                let (c, f) = joined(worker);
                cells.extend(c);
                fresh.extend(f);
            }
            (cells, fresh, wins)
        });
        // Skill bits are numbered in order of first sight, exactly as upserts number them.
        for name in fresh {
            self.skill_bits(std::slice::from_ref(name));
        }
        if !self.is_empty() {
            for (h, _) in records.iter().zip(&wins).filter(|(_, w)| **w) {
                self.remove(h.id);
            }
        }
        // 2. The winners that have a cell, in cell order, take the next slab slots.
        let mut order: Vec<(u64, usize)> =
            cells.iter().zip(&wins).enumerate().filter_map(|(i, (c, &w))| c.filter(|_| w).map(|c| (u64::from(c), i))).collect();
        order.sort_unstable();
        let base = self.slab.len();
        self.slab.resize_with(base + order.len(), || None);
        // 3. Workers: the entries, straight into their slots. This thread meanwhile: the maps.
        let (skills, table, cells) = (&self.skills, &self.table, &cells);
        let (by_id, cell_map) = (&mut self.by_id, &mut self.cells);
        let slots = self.slab.get_mut(base..).unwrap_or_default();
        let per = order.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = slots
                .chunks_mut(per)
                .zip(order.chunks(per))
                .map(|(slots, part)| {
                    scope.spawn(move || {
                        for (slot, &(_, i)) in slots.iter_mut().zip(part) {
                            if let (Some(h), Some(Some(cell))) = (records.get(i), cells.get(i)) {
                                let bits = h.skills.iter().filter_map(|s| skills.get(s)).fold(0u64, |acc, &bit| acc | 1u64 << bit);
                                let proven = h.proven.iter().filter_map(|s| skills.get(s)).fold(0u64, |acc, &bit| acc | 1u64 << bit);
                                *slot = Some(Entry::build(h, bits, proven, *cell, table));
                            }
                        }
                    })
                })
                .collect();
            by_id.reserve(order.len());
            for (k, &(_, i)) in order.iter().enumerate() {
                if let Some(h) = records.get(i) {
                    by_id.insert(h.id, slot_number(base + k));
                }
            }
            let mut k = base;
            for run in order.chunk_by(|a, b| a.0 == b.0) {
                if let Some(Some(cell)) = run.first().and_then(|&(_, i)| cells.get(i)) {
                    let list = cell_map.entry(*cell).or_default();
                    list.extend((k..k + run.len()).map(slot_number));
                }
                k += run.len();
            }
            for worker in workers {
                joined(worker);
            }
        });
    }

    /// Forgets a helper (no profile any more, suspended, erased).
    pub fn remove(&mut self, id: UserId) {
        let Some(slot) = self.by_id.remove(&id) else {
            return;
        };
        if let Some(entry) = self.slab.get_mut(slot as usize).and_then(Option::take) {
            if let Some(list) = self.cells.get_mut(&entry.cell) {
                list.retain(|s| *s != slot);
                if list.is_empty() {
                    self.cells.remove(&entry.cell);
                }
            }
            self.free.push(slot);
        }
    }

    /// Free starts of one helper inside a window (for the slots endpoint). `None` if not indexed.
    pub fn free_starts(&self, id: UserId, from: Timestamp, to: Timestamp, duration_minutes: u32, now: Timestamp) -> Option<Vec<Timestamp>> {
        let slot = *self.by_id.get(&id)?;
        let e = self.slab.get(slot as usize)?.as_ref()?;
        Some(e.calendar.free_starts(from, to, duration_minutes, now))
    }

    /// Everything but the calendar: reach, distance and the component values. The score does not
    /// depend on the start, so calendars are only asked for the best candidates.
    fn rank(&self, e: &Entry, q: &Query, p: &Prepared) -> Option<([f64; 7], DistanceBucket)> {
        if e.skills & p.skill == 0 || e.stats.level < q.min_level {
            return None;
        }
        // Reach: the customer's area cell lies in the helper's service area.
        if dot(p.area, e.nvec) < e.cos_reach {
            return None;
        }
        let d = dot(p.place, e.nvec);
        if d < p.cos_max {
            return None;
        }
        let bucket = DistanceBucket::of_metres(metres_of_dot(d));
        let speaks = q.locale.is_none_or(|l| e.languages & lang_bit(l) != 0);
        let s = e.stats;
        let rating = (f64::from(s.rating_sum) + 4.0 * 5.0) / (f64::from(s.rating_count) + 5.0);
        let values = [
            // From the bucket, not the metres: an exact score would reveal the exact distance.
            crate::distance_score(bucket),
            if speaks { 1.0 } else { 0.7 },
            ((rating - 1.0) / 4.0).clamp(0.0, 1.0),
            (f64::from(s.completed) + 0.9 * 5.0) / (f64::from(s.completed + s.let_down) + 5.0),
            if s.completed < NEW_HELPER_JOBS { 1.0 } else { 1.0 / (1.0 + f64::from(s.recent_offers) / 3.0) },
            f64::from(s.level.min(2)) / 2.0,
            if e.proven & p.skill != 0 { 1.0 } else { 0.0 },
        ];
        Some((values, bucket))
    }

    fn score(values: &[f64; 7]) -> f64 {
        WEIGHTS.iter().zip(values).map(|(&(_, weight), value)| value * weight).sum()
    }

    fn explain(values: [f64; 7]) -> Vec<Component> {
        WEIGHTS.iter().zip(values).map(|(&(name, weight), value)| Component { name, value, weight }).collect()
    }

    fn consider(&self, e: &Entry, q: &Query, p: &Prepared) -> Option<Match> {
        let (values, distance) = self.rank(e, q, p)?;
        let start = e.calendar.earliest_start(q.from, q.to, q.duration_minutes, q.now)?;
        Some(Match { helper: e.id, distance, earliest_start: start, score: Self::score(&values), explanation: Self::explain(values) })
    }

    fn finish(mut found: Vec<Match>, limit: usize) -> Vec<Match> {
        found.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then(a.earliest_start.cmp(&b.earliest_start)).then(a.helper.uuid().cmp(&b.helper.uuid()))
        });
        found.truncate(limit);
        found
    }

    fn prepare(&self, q: &Query) -> Option<Prepared> {
        let bit = *self.skills.get(&q.skill)?;
        let max_km = q.max_distance_km.unwrap_or(f64::from(MAX_RADIUS_KM)).clamp(0.0, f64::from(MAX_RADIUS_KM));
        let area = area_cell(q.place).map(LatLng::from).and_then(|ll| GeoPoint::new(ll.lat(), ll.lng()).ok())?;
        Some(Prepared { place: nvec(q.place), area: nvec(area), skill: 1u64 << bit, cos_max: cos_of_km(max_km), max_km })
    }

    /// The best `q.limit` helpers who reach the place, have the skill and a free start of the
    /// job's length inside the window, ranked by score (then earliest start, then id).
    pub fn search(&self, q: &Query) -> Vec<Match> {
        let Some(p) = self.prepare(q) else {
            return Vec::new();
        };
        let Some(centre) = cell_of(q.place) else {
            return Vec::new();
        };
        // The area cell's centre is within half a res-8 cell of the place: widen the disk by 1 km.
        let k = disk_k(centre, p.max_km + 1.0);
        // A cell can only hold a helper within `max_km` of the place if its centre lies within
        // `max_km` plus the cell's circumradius (at most its longest edge); skip the others.
        let edge_km = centre.edges().map(|e| e.length_km()).fold(0.0, f64::max) * 1.2;
        let cos_cell = cos_of_km(p.max_km + edge_km);
        let mut ranked: Vec<(f64, u32, DistanceBucket, [f64; 7])> = Vec::new();
        for cell in centre.grid_disk::<Vec<_>>(k) {
            let Some(slots) = self.cells.get(&cell) else {
                continue;
            };
            let ll = LatLng::from(cell);
            if GeoPoint::new(ll.lat(), ll.lng()).is_ok_and(|c| dot(p.place, nvec(c)) < cos_cell) {
                continue;
            }
            for &slot in slots {
                if let Some(Some(e)) = self.slab.get(slot as usize)
                    && let Some((values, bucket)) = self.rank(e, q, &p)
                {
                    ranked.push((Self::score(&values), slot, bucket, values));
                }
            }
        }
        // Ask calendars best score first; once `limit` helpers are free, only candidates tied with
        // the last of them can still enter (ties are broken by earliest start).
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut found: Vec<Match> = Vec::new();
        for (score, slot, distance, values) in ranked {
            if found.len() >= q.limit && found.last().is_some_and(|m| score < m.score) {
                break;
            }
            let Some(Some(e)) = self.slab.get(slot as usize) else { continue };
            if let Some(start) = e.calendar.earliest_start(q.from, q.to, q.duration_minutes, q.now) {
                found.push(Match { helper: e.id, distance, earliest_start: start, score, explanation: Self::explain(values) });
            }
        }
        Self::finish(found, q.limit)
    }

    /// The same search by scanning every helper: the reference the index must agree with.
    pub fn search_brute_force(&self, q: &Query) -> Vec<Match> {
        let Some(p) = self.prepare(q) else {
            return Vec::new();
        };
        let found = self.slab.iter().flatten().filter_map(|e| self.consider(e, q, &p)).collect();
        Self::finish(found, q.limit)
    }
}

struct Prepared {
    place: [f64; 3],
    area: [f64; 3],
    skill: u64,
    cos_max: f64,
    max_km: f64,
}

/// The resolution of service-area cells: about 0.7 km² each.
pub const AREA_RES: Resolution = Resolution::Eight;

fn area_cell(p: GeoPoint) -> Option<CellIndex> {
    LatLng::new(p.lat(), p.lon()).ok().map(|ll| ll.to_cell(AREA_RES))
}

/// A helper's service area: the resolution-8 cells whose centre lies within `radius_km` of home
/// (always including the home cell), compacted to coarser cells where whole parents are covered.
pub fn service_area(home: GeoPoint, radius_km: u8) -> Vec<CellIndex> {
    let Some(home_cell) = area_cell(home) else {
        return Vec::new();
    };
    let km = f64::from(radius_km.clamp(1, MAX_RADIUS_KM));
    let hv = nvec(home);
    let cos_r = cos_of_km(km);
    let mut cells: Vec<CellIndex> = home_cell
        .grid_disk::<Vec<_>>(disk_k(home_cell, km))
        .into_iter()
        .filter(|c| {
            *c == home_cell || {
                let ll = LatLng::from(*c);
                GeoPoint::new(ll.lat(), ll.lng()).is_ok_and(|g| dot(hv, nvec(g)) >= cos_r)
            }
        })
        .collect();
    cells.sort_unstable();
    cells.dedup();
    if CellIndex::compact(&mut cells).is_err() {
        cells.sort_unstable();
    }
    cells
}

/// A slab position as a slot number (as `upsert` numbers them).
fn slot_number(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// For each record, whether it is the last one with its id (the one an upsert loop keeps).
fn last_of_each_id(records: &[HelperRecord]) -> Vec<bool> {
    let mut ids: Vec<(u128, usize)> = records.iter().enumerate().map(|(i, h)| (h.id.uuid().as_u128(), i)).collect();
    ids.sort_unstable();
    let mut wins = vec![true; records.len()];
    for pair in ids.windows(2) {
        if let [(a, earlier), (b, _)] = pair
            && a == b
            && let Some(w) = wins.get_mut(*earlier)
        {
            *w = false;
        }
    }
    wins
}

/// The result of a scoped worker; a worker's panic goes on in the caller.
fn joined<T>(worker: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match worker.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn lang_bit(l: Locale) -> u8 {
    match l {
        Locale::De => 1,
        Locale::Fr => 2,
        Locale::It => 4,
        Locale::En => 8,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::{Date, Weekday};
    use jiff::tz::TimeZone;

    use super::*;
    use crate::availability::WeeklyRule;

    /// SplitMix64: a tiny deterministic generator for synthetic worlds.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const SKILLS: [&str; 4] = ["wifi", "tv", "router", "apps"];
    const DAYS: [Weekday; 7] =
        [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday, Weekday::Saturday, Weekday::Sunday];

    fn zurich() -> TimeZone {
        TimeZone::get("Europe/Zurich").expect("zone")
    }

    fn world(n: usize, seed: u64) -> (MatchIndex, Date) {
        let first = Date::new(2026, 3, 20).expect("date");
        let mut index = MatchIndex::new(&zurich(), first, 28);
        let mut rng = Rng(seed);
        for _ in 0..n {
            let lat = 47.3769 + (rng.unit() - 0.5) * 0.4;
            let lon = 8.5417 + (rng.unit() - 0.5) * 0.6;
            let rules = (0..rng.below(6) + 1)
                .map(|_| {
                    let start = (rng.below(80) * 15) as u16;
                    WeeklyRule {
                        weekday: DAYS[rng.below(7) as usize],
                        start_min: start,
                        end_min: (start + 60 + (rng.below(32) * 15) as u16).min(1440),
                    }
                })
                .collect();
            let base = first.to_zoned(zurich()).expect("zoned").timestamp();
            let bookings = (0..rng.below(12))
                .map(|_| {
                    let start = base.checked_add(jiff::SignedDuration::from_mins((rng.below(28 * 96) * 15) as i64)).expect("ts");
                    Booking { start, end: start.checked_add(jiff::SignedDuration::from_mins(60 + (rng.below(8) * 15) as i64)).expect("ts") }
                })
                .collect();
            let skills: Vec<String> = SKILLS.iter().filter(|_| rng.below(2) == 0).map(|s| (*s).to_owned()).collect();
            let proven: Vec<String> = skills.iter().filter(|_| rng.below(3) == 0).cloned().collect();
            index.upsert(&HelperRecord {
                id: UserId::new(),
                home: GeoPoint::new(lat, lon).expect("point"),
                radius_km: (rng.below(15) + 1) as u8,
                skills,
                languages: vec![[Locale::De, Locale::Fr, Locale::It, Locale::En][rng.below(4) as usize]],
                schedule: Schedule {
                    zone: zurich(),
                    rules,
                    exceptions: Vec::new(),
                    holidays: Vec::new(),
                    paused: rng.below(20) == 0,
                    min_notice_minutes: 60,
                    max_jobs_per_day: if rng.below(3) == 0 { Some(2) } else { None },
                    buffer_before_minutes: 15,
                    buffer_after_minutes: 15,
                },
                bookings,
                stats: HelperStats {
                    rating_sum: rng.below(50) as u32,
                    rating_count: rng.below(12) as u32,
                    completed: rng.below(30) as u32,
                    let_down: rng.below(3) as u32,
                    recent_offers: rng.below(10) as u32,
                    level: rng.below(3) as u8,
                },
                proven,
            });
        }
        (index, first)
    }

    fn random_query(rng: &mut Rng, first: Date) -> Query {
        let base = first.to_zoned(zurich()).expect("zoned").timestamp();
        let from = base.checked_add(jiff::SignedDuration::from_mins((rng.below(25 * 96) * 15) as i64)).expect("ts");
        let to = from.checked_add(jiff::SignedDuration::from_mins(60 + (rng.below(4 * 96) * 15) as i64)).expect("ts");
        Query {
            place: GeoPoint::new(47.3769 + (rng.unit() - 0.5) * 0.5, 8.5417 + (rng.unit() - 0.5) * 0.7).expect("point"),
            skill: SKILLS[rng.below(4) as usize].to_owned(),
            from,
            to,
            duration_minutes: [45, 60, 90, 120][rng.below(4) as usize],
            max_distance_km: if rng.below(2) == 0 { Some(1.0 + rng.unit() * 14.0) } else { None },
            locale: Some(Locale::De),
            limit: [1, 10, 50][rng.below(3) as usize],
            now: base,
            min_level: [0, 0, 2][rng.below(3) as usize],
        }
    }

    #[test]
    fn the_index_agrees_with_a_brute_force_scan_on_1000_random_queries() {
        let (index, first) = world(3_000, 7);
        let mut rng = Rng(99);
        let mut non_empty = 0;
        for i in 0..1_000 {
            let q = random_query(&mut rng, first);
            let fast = index.search(&q);
            let slow = index.search_brute_force(&q);
            assert_eq!(fast, slow, "query {i} differs: {q:?}");
            non_empty += usize::from(!fast.is_empty());
        }
        assert!(non_empty > 300, "the queries must actually find helpers ({non_empty} of 1000 did)");
    }

    #[test]
    fn results_are_ranked_by_score_and_explained() {
        let (index, first) = world(2_000, 11);
        let mut rng = Rng(5);
        for _ in 0..50 {
            let q = random_query(&mut rng, first);
            let found = index.search(&q);
            assert!(found.len() <= q.limit);
            for w in found.windows(2) {
                assert!(w[0].score >= w[1].score);
            }
            for m in &found {
                let sum: f64 = m.explanation.iter().map(|c| c.value * c.weight).sum();
                assert!((sum - m.score).abs() < 1e-12);
                assert!(m.earliest_start >= q.from && m.earliest_start < q.to);
            }
        }
    }

    #[test]
    fn removing_and_moving_helpers_updates_the_index() {
        let (mut index, first) = world(500, 3);
        let mut rng = Rng(1);
        let q = loop {
            let q = random_query(&mut rng, first);
            if !index.search(&q).is_empty() {
                break q;
            }
        };
        let top = index.search(&q)[0].helper;
        index.remove(top);
        assert!(index.search(&q).iter().all(|m| m.helper != top));
        assert_eq!(index.search(&q), index.search_brute_force(&q));
        assert_eq!(index.len(), 499);
    }

    #[test]
    fn a_service_area_holds_the_cells_within_the_radius() {
        let home = GeoPoint::new(47.3769, 8.5417).expect("point");
        let small = service_area(home, 1);
        let large = service_area(home, 5);
        let count = |cells: &[CellIndex]| -> usize { CellIndex::uncompact(cells.iter().copied(), AREA_RES).count() };
        // A res-8 cell is about 0.7 km²: a 1 km disk is about 4.5 cells, a 5 km disk about 110.
        assert!((3..=10).contains(&count(&small)), "{}", count(&small));
        assert!((90..=135).contains(&count(&large)), "{}", count(&large));
        assert!(large.len() < count(&large), "compacted");
    }

    #[test]
    fn the_k_disk_covers_the_radius() {
        let home = GeoPoint::new(47.3769, 8.5417).expect("point");
        let cell = cell_of(home).expect("cell");
        let mut rng = Rng(17);
        for _ in 0..2_000 {
            // A random point within 15 km must fall in the disk.
            let bearing = rng.unit() * std::f64::consts::TAU;
            let d = rng.unit() * 15.0;
            let p = GeoPoint::new(
                home.lat() + d / 111.2 * bearing.cos(),
                home.lon() + d / (111.2 * home.lat().to_radians().cos()) * bearing.sin(),
            )
            .expect("point");
            if home.distance_m(p) > 15_000.0 {
                continue;
            }
            let disk: Vec<CellIndex> = cell.grid_disk(disk_k(cell, 15.0));
            assert!(disk.contains(&cell_of(p).expect("cell")));
        }
    }
}

#[cfg(test)]
mod bulk_load_tests {
    use jiff::civil::{Date, Weekday};
    use jiff::tz::TimeZone;
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::availability::{Exception, ExceptionKind, WeeklyRule};

    /// SplitMix64.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn mins(&mut self, n: u64) -> SignedDuration {
            SignedDuration::from_mins((self.below(n) * 15) as i64)
        }
    }

    const SKILLS: [&str; 5] = ["wifi", "tv", "router", "apps", "email"];

    fn zurich() -> TimeZone {
        TimeZone::get("Europe/Zurich").expect("zone")
    }

    fn first() -> Date {
        Date::new(2026, 3, 16).expect("date")
    }

    fn base() -> Timestamp {
        first().to_zoned(zurich()).expect("zoned").timestamp()
    }

    fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
        t.checked_add(d).expect("in range")
    }

    /// Helpers with rules, exceptions and bookings; ids drawn from `ids` so that some repeat.
    fn records(n: usize, ids: &[UserId], rng: &mut Rng) -> Vec<HelperRecord> {
        (0..n)
            .map(|_| {
                let rules = (0..rng.below(5) + 2)
                    .map(|_| {
                        let start = (rng.below(88) * 15) as u16;
                        WeeklyRule {
                            weekday: Weekday::from_monday_zero_offset(rng.below(7) as i8).expect("weekday"),
                            start_min: start,
                            end_min: (start + 60 + (rng.below(40) * 15) as u16).min(1440),
                        }
                    })
                    .collect();
                let exceptions = (0..rng.below(3))
                    .map(|_| Exception {
                        date: first().checked_add(SignedDuration::from_hours(24 * rng.below(28) as i64)).expect("date"),
                        kind: if rng.below(2) == 0 {
                            ExceptionKind::DayOff
                        } else {
                            ExceptionKind::ExtraHours { start_min: 1020, end_min: 1260 }
                        },
                    })
                    .collect();
                let bookings = (0..rng.below(16))
                    .map(|_| {
                        let start = after(base(), rng.mins(28 * 96));
                        let end = after(start, SignedDuration::from_mins(60) + rng.mins(9));
                        Booking { start, end }
                    })
                    .collect();
                HelperRecord {
                    id: ids[rng.below(ids.len() as u64) as usize],
                    home: GeoPoint::new(47.3779 + (rng.unit() - 0.5) * 0.4, 8.5403 + (rng.unit() - 0.5) * 0.6).expect("point"),
                    radius_km: (rng.below(15) + 1) as u8,
                    skills: SKILLS.iter().filter(|_| rng.below(3) == 0).map(|s| (*s).to_owned()).collect(),
                    languages: vec![Locale::De],
                    schedule: Schedule {
                        zone: zurich(),
                        rules,
                        exceptions,
                        holidays: Vec::new(),
                        paused: rng.below(30) == 0,
                        min_notice_minutes: 60,
                        max_jobs_per_day: (rng.below(4) == 0).then_some(2),
                        buffer_before_minutes: 15,
                        buffer_after_minutes: 15,
                    },
                    bookings,
                    stats: HelperStats {
                        rating_sum: rng.below(50) as u32,
                        rating_count: rng.below(12) as u32,
                        completed: rng.below(30) as u32,
                        let_down: rng.below(3) as u32,
                        recent_offers: rng.below(10) as u32,
                        level: rng.below(3) as u8,
                    },
                    proven: SKILLS.iter().filter(|_| rng.below(4) == 0).map(|s| (*s).to_owned()).collect(),
                }
            })
            .collect()
    }

    fn query(rng: &mut Rng) -> Query {
        let from = after(base(), rng.mins(26 * 96));
        Query {
            place: GeoPoint::new(47.3779 + (rng.unit() - 0.5) * 0.45, 8.5403 + (rng.unit() - 0.5) * 0.65).expect("point"),
            skill: SKILLS[rng.below(SKILLS.len() as u64) as usize].to_owned(),
            from,
            to: after(from, SignedDuration::from_mins(90) + rng.mins(24)),
            duration_minutes: [60, 90, 120][rng.below(3) as usize],
            max_distance_km: (rng.below(2) == 0).then_some(5.0),
            locale: Some(Locale::De),
            limit: [10, 1000][rng.below(2) as usize],
            now: base(),
            min_level: [0, 0, 2][rng.below(3) as usize],
        }
    }

    #[test]
    fn bulk_load_answers_exactly_like_upserts() {
        let mut rng = Rng(2026);
        let ids: Vec<UserId> = (0..2_500).map(|_| UserId::new()).collect();
        let mut upserted = MatchIndex::new(&zurich(), first(), 28);
        let mut bulk = MatchIndex::new(&zurich(), first(), 28);
        // Both start from the same helpers; the load then replaces some and repeats ids in it.
        let before = records(300, &ids, &mut rng);
        for h in &before {
            upserted.upsert(h);
        }
        bulk.bulk_load(&before);
        let load = records(3_000, &ids, &mut rng);
        for h in &load {
            upserted.upsert(h);
        }
        bulk.bulk_load(&load);
        assert_eq!(bulk.len(), upserted.len());
        assert!(bulk.len() < 2_500, "ids repeat");
        let mut found = 0;
        for i in 0..600 {
            let q = query(&mut rng);
            let expected = upserted.search(&q);
            assert_eq!(bulk.search(&q), expected, "query {i}: {q:?}");
            assert_eq!(bulk.search_brute_force(&q), expected, "query {i}: {q:?}");
            found += expected.len();
        }
        assert!(found > 1_000, "the queries find helpers ({found})");
        for &id in &ids {
            let (from, to) = (base(), after(base(), SignedDuration::from_hours(24 * 7)));
            assert_eq!(bulk.free_starts(id, from, to, 60, base()), upserted.free_starts(id, from, to, 60, base()));
        }
        // Removing and upserting still work on a bulk-loaded index.
        bulk.remove(ids[0]);
        upserted.remove(ids[0]);
        bulk.upsert(&load[1]);
        upserted.upsert(&load[1]);
        let q = query(&mut rng);
        assert_eq!(bulk.search(&q), upserted.search(&q));
    }

    #[test]
    fn bulk_load_of_nothing_changes_nothing() {
        let mut index = MatchIndex::new(&zurich(), first(), 28);
        index.bulk_load(&[]);
        assert!(index.is_empty());
    }
}
