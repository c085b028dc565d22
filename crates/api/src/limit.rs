//! Fixed-window counters for login attempts, per account and per address.
//!
//! These live in the process: with several replicas each one counts on its own, so the effective
//! limit is the configured one times the number of replicas (noted in docs/ARCHITECTURE.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events per key within a window and says when a key is over its limit.
#[derive(Debug)]
pub struct RateLimiter {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `max` events per `window` for each key.
    pub fn new(max: u32, window: Duration) -> Self {
        Self { max, window, counts: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds)` until the key may try again, when it is at its limit; `Ok` otherwise.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(&(start, n)) if n >= self.max && now.duration_since(start) < self.window => {
                let left = self.window.saturating_sub(now.duration_since(start));
                Err(left.as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for the key.
    pub fn hit(&self, key: &str) {
        let now = Instant::now();
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Forgets a key (after a successful login).
    pub fn reset(&self, key: &str) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_limited_after_max_hits_and_others_are_not() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        l.hit("a");
        assert!(l.check("a").is_ok());
        l.hit("a");
        let wait = l.check("a").expect_err("limited");
        assert!((1..=60).contains(&wait));
        assert!(l.check("b").is_ok());
        l.reset("a");
        assert!(l.check("a").is_ok());
    }

    #[test]
    fn the_window_expires() {
        let l = RateLimiter::new(1, Duration::from_millis(1));
        l.hit("a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check("a").is_ok());
    }
}
