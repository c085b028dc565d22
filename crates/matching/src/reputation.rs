//! Reputation: a helper's figures over a rolling 90 days, the level they earn with published
//! thresholds, and skill badges for signed-off jobs. Pure functions over the helper's history, so
//! the figures, their definitions and the bookings behind each are the same wherever shown.

use serde::Serialize;

/// The rolling window of the figures, in days.
pub const WINDOW_DAYS: i64 = 90;

/// Signed-off jobs of one service for each badge tier.
pub const BADGE_TIERS: [u32; 4] = [5, 20, 50, 100];

/// A helper's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Everyone starts here.
    New,
    /// Proven and reliable.
    Trusted,
    /// The few who carry the neighbourhood: first to try preview services.
    Super,
}

impl Level {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::New => "new",
            Level::Trusted => "trusted",
            Level::Super => "super",
        }
    }

    /// The level with this name.
    pub fn parse(s: &str) -> Option<Self> {
        [Level::New, Level::Trusted, Level::Super].into_iter().find(|l| l.as_str() == s)
    }

    /// 0, 1, 2 (for the match index).
    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// The published thresholds of a level (all must hold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// The level.
    pub level: Level,
    /// Jobs completed in the window, at least.
    pub min_completed: u32,
    /// Average rating, at least (over the window's ratings).
    pub min_rating: f64,
    /// Ratings needed before the average counts.
    pub min_ratings: u32,
    /// Median minutes to answer an offer, at most (`None`: not required).
    pub max_response_minutes: Option<f64>,
    /// Share of offers accepted, at least (`None`: not required).
    pub min_acceptance: Option<f64>,
    /// Helper cancellations, no-shows and failed visits the helper caused, at most.
    pub max_incidents: u32,
    /// Disputes decided against the helper, at most.
    pub max_disputes_lost: u32,
}

/// The thresholds, lowest level first (published at `GET /v1/levels`).
pub const LEVELS: [Thresholds; 2] = [
    Thresholds {
        level: Level::Trusted,
        min_completed: 5,
        min_rating: 4.3,
        min_ratings: 3,
        max_response_minutes: None,
        min_acceptance: None,
        max_incidents: 1,
        max_disputes_lost: 1,
    },
    Thresholds {
        level: Level::Super,
        min_completed: 20,
        min_rating: 4.7,
        min_ratings: 10,
        max_response_minutes: Some(30.0),
        min_acceptance: Some(0.7),
        max_incidents: 0,
        max_disputes_lost: 0,
    },
];

/// One booking or offer in the helper's history (inside the window).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// The booking or request id.
    pub id: String,
    /// The booking's state (`None` for an offer of a request someone else took or that expired).
    pub state: Option<String>,
    /// Minutes from the offer to the helper's answer (accept or decline), if they answered.
    pub answer_minutes: Option<f64>,
    /// Whether the helper accepted the offer.
    pub accepted: bool,
    /// Whether the offer counts for acceptance (answered, or left to expire; not taken by others first).
    pub counts_for_acceptance: bool,
    /// The customer's rating, if given.
    pub rating: Option<u8>,
    /// The failure cause of a failed visit.
    pub failure_cause: Option<String>,
    /// A dispute's outcome, if decided.
    pub dispute_outcome: Option<String>,
    /// The dispute's penalty, Rappen.
    pub dispute_penalty: i64,
}

/// A figure with how it is computed and the bookings it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Stable name.
    pub name: &'static str,
    /// The value (`None` when there is nothing to compute it from).
    pub value: Option<f64>,
    /// How it is computed, in words.
    pub definition: &'static str,
    /// The booking (or request) ids it counts.
    pub from: Vec<String>,
}

/// Failure causes the helper is responsible for (the others, like an inactive line, are not).
const HELPER_CAUSES: [&str; 2] = ["material_missing", "other"];

/// The figures over a window's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Every figure, in a fixed order.
    pub figures: Vec<Figure>,
}

impl Metrics {
    /// The value of a figure by name (0 when absent).
    pub fn get(&self, name: &str) -> Option<f64> {
        self.figures.iter().find(|f| f.name == name).and_then(|f| f.value)
    }

    fn count(&self, name: &str) -> u32 {
        self.get(name).map_or(0, |v| v as u32)
    }
}

fn ids<'a>(items: impl Iterator<Item = &'a HistoryItem>) -> Vec<String> {
    items.map(|i| i.id.clone()).collect()
}

/// Computes the figures of a helper's history.
pub fn metrics(history: &[HistoryItem]) -> Metrics {
    let done: Vec<&HistoryItem> = history.iter().filter(|i| i.state.as_deref() == Some("done")).collect();
    let rated: Vec<&HistoryItem> = history.iter().filter(|i| i.rating.is_some()).collect();
    let answered: Vec<&HistoryItem> = history.iter().filter(|i| i.answer_minutes.is_some()).collect();
    let counted: Vec<&HistoryItem> = history.iter().filter(|i| i.counts_for_acceptance).collect();
    let cancelled: Vec<&HistoryItem> = history.iter().filter(|i| i.state.as_deref() == Some("cancelled_by_helper")).collect();
    let no_shows: Vec<&HistoryItem> = history.iter().filter(|i| i.state.as_deref() == Some("no_show_helper")).collect();
    let failed: Vec<&HistoryItem> = history
        .iter()
        .filter(|i| i.state.as_deref() == Some("failed_visit") && i.failure_cause.as_deref().is_some_and(|c| HELPER_CAUSES.contains(&c)))
        .collect();
    let lost: Vec<&HistoryItem> = history
        .iter()
        .filter(|i| matches!(i.dispute_outcome.as_deref(), Some("refund" | "partial_refund")) || i.dispute_penalty > 0)
        .collect();
    let mut waits: Vec<f64> = answered.iter().filter_map(|i| i.answer_minutes).collect();
    waits.sort_by(f64::total_cmp);
    let median = match waits.len() {
        0 => None,
        n if n % 2 == 1 => Some(waits[n / 2]),
        n => Some((waits[n / 2 - 1] + waits[n / 2]) / 2.0),
    };
    let rating = (!rated.is_empty()).then(|| rated.iter().filter_map(|i| i.rating).map(f64::from).sum::<f64>() / rated.len() as f64);
    let acceptance = (!counted.is_empty()).then(|| counted.iter().filter(|i| i.accepted).count() as f64 / counted.len() as f64);
    let n = |v: &Vec<&HistoryItem>| Some(v.len() as f64);
    Metrics {
        figures: vec![
            Figure {
                name: "jobs_completed",
                value: n(&done),
                definition: "Visits signed off by the customer in the last 90 days.",
                from: ids(done.iter().copied()),
            },
            Figure {
                name: "average_rating",
                value: rating,
                definition: "The average of the customers' ratings (1 to 5) of visits in the last 90 days.",
                from: ids(rated.iter().copied()),
            },
            Figure {
                name: "ratings",
                value: n(&rated),
                definition: "How many of those visits were rated.",
                from: ids(rated.iter().copied()),
            },
            Figure {
                name: "response_minutes",
                value: median,
                definition: "The median minutes from a request or offer reaching you to your answer (accept or decline).",
                from: ids(answered.iter().copied()),
            },
            Figure {
                name: "acceptance_rate",
                value: acceptance,
                definition: "Requests and offers you accepted, as a share of those you answered or let expire (offers someone else took first do not count).",
                from: ids(counted.iter().copied()),
            },
            Figure {
                name: "helper_cancellations",
                value: n(&cancelled),
                definition: "Visits you cancelled after accepting.",
                from: ids(cancelled.iter().copied()),
            },
            Figure {
                name: "no_shows",
                value: n(&no_shows),
                definition: "Visits where the customer reported that you did not come.",
                from: ids(no_shows.iter().copied()),
            },
            Figure {
                name: "failed_visits",
                value: n(&failed),
                definition: "Failed visits with a cause on your side (material missing, other); a line not active or a faulty device does not count.",
                from: ids(failed.iter().copied()),
            },
            Figure {
                name: "disputes_lost",
                value: n(&lost),
                definition: "Disputes an operator decided with a refund to the customer or a penalty for you.",
                from: ids(lost.iter().copied()),
            },
        ],
    }
}

/// Whether the figures meet a level's thresholds, and the first reason why not.
pub fn meets(m: &Metrics, t: &Thresholds) -> Result<(), String> {
    let completed = m.count("jobs_completed");
    if completed < t.min_completed {
        return Err(format!("{completed} of {} jobs completed in 90 days", t.min_completed));
    }
    let ratings = m.count("ratings");
    let rating = m.get("average_rating").unwrap_or(0.0);
    if ratings < t.min_ratings {
        return Err(format!("{ratings} of {} ratings", t.min_ratings));
    }
    if rating + 1e-9 < t.min_rating {
        return Err(format!("average rating {rating:.2}, below {}", t.min_rating));
    }
    if let Some(max) = t.max_response_minutes {
        match m.get("response_minutes") {
            Some(r) if r <= max => {}
            Some(r) => return Err(format!("median answer after {r:.0} minutes, more than {max:.0}")),
            None => return Err("no answered offers yet".to_owned()),
        }
    }
    if let Some(min) = t.min_acceptance {
        let a = m.get("acceptance_rate").unwrap_or(0.0);
        if a + 1e-9 < min {
            return Err(format!("{:.0} % of offers accepted, below {:.0} %", a * 100.0, min * 100.0));
        }
    }
    let incidents = m.count("helper_cancellations") + m.count("no_shows") + m.count("failed_visits");
    if incidents > t.max_incidents {
        return Err(format!("{incidents} cancellations, no-shows or failed visits, more than {}", t.max_incidents));
    }
    let lost = m.count("disputes_lost");
    if lost > t.max_disputes_lost {
        return Err(format!("{lost} disputes lost, more than {}", t.max_disputes_lost));
    }
    Ok(())
}

/// The level the figures earn, and in words why not the next one up (`None` at the top).
pub fn level_of(m: &Metrics) -> (Level, Option<String>) {
    let mut level = Level::New;
    for t in LEVELS {
        match meets(m, &t) {
            Ok(()) => level = t.level,
            Err(why) => return (level, Some(format!("{}: {why}", t.level.as_str()))),
        }
    }
    (level, None)
}

/// The badge a count of signed-off jobs of one service earns: the highest tier reached.
pub fn badge_tier(jobs: u32) -> Option<u32> {
    BADGE_TIERS.iter().copied().filter(|t| jobs >= *t).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, state: &str, answer: Option<f64>, rating: Option<u8>) -> HistoryItem {
        HistoryItem {
            id: id.into(),
            state: Some(state.into()),
            answer_minutes: answer,
            accepted: state != "declined" && state != "expired",
            counts_for_acceptance: true,
            rating,
            failure_cause: None,
            dispute_outcome: None,
            dispute_penalty: 0,
        }
    }

    #[test]
    fn levels_follow_the_published_thresholds() {
        // Four done and rated 5: still new (4 of 5 jobs).
        let mut h: Vec<HistoryItem> = (0..4).map(|i| item(&format!("b{i}"), "done", Some(10.0), Some(5))).collect();
        assert_eq!(level_of(&metrics(&h)).0, Level::New);
        h.push(item("b4", "done", Some(10.0), Some(4)));
        let (level, why) = level_of(&metrics(&h));
        assert_eq!(level, Level::Trusted);
        assert!(why.expect("why not super").starts_with("super: 5 of 20 jobs"));
        // 20 done, 10+ ratings averaging 4.8, quick answers, all accepted: super.
        let mut s: Vec<HistoryItem> =
            (0..20).map(|i| item(&format!("s{i}"), "done", Some(12.0), Some(if i % 5 == 0 { 4 } else { 5 }))).collect();
        assert_eq!(level_of(&metrics(&s)), (Level::Super, None));
        // One no-show drops them to trusted, with the reason.
        s.push(item("x", "no_show_helper", Some(5.0), None));
        let (level, why) = level_of(&metrics(&s));
        assert_eq!(level, Level::Trusted);
        assert!(why.expect("why").contains("1 cancellations, no-shows or failed visits"));
        // A lost dispute and a slow median count too.
        let m = metrics(&s);
        assert_eq!(m.get("no_shows"), Some(1.0));
        assert_eq!(m.get("average_rating"), Some(4.8));
        assert_eq!(m.get("response_minutes"), Some(12.0));
        assert_eq!(m.figures.iter().find(|f| f.name == "no_shows").expect("figure").from, vec!["x".to_owned()]);
    }

    #[test]
    fn only_helper_side_failures_and_lost_disputes_count() {
        let mut a = item("a", "failed_visit", Some(1.0), None);
        a.failure_cause = Some("line_not_active".into());
        let mut b = item("b", "failed_visit", Some(1.0), None);
        b.failure_cause = Some("material_missing".into());
        let mut c = item("c", "done", Some(1.0), Some(3));
        c.dispute_outcome = Some("payout".into());
        let mut d = item("d", "done", Some(1.0), Some(2));
        d.dispute_outcome = Some("partial_refund".into());
        let m = metrics(&[a, b, c, d]);
        assert_eq!(m.get("failed_visits"), Some(1.0));
        assert_eq!(m.get("disputes_lost"), Some(1.0));
        assert_eq!(badge_tier(4), None);
        assert_eq!(badge_tier(20), Some(20));
        assert_eq!(badge_tier(99), Some(50));
    }
}
