//! Keeping helpers' levels current: recomputed from the 90-day history after every completed,
//! cancelled or disputed booking, inside the same transaction; every change is stored with its
//! reason and announced to the helper (a move down is never silent).

use jiff::Timestamp;
use quartier_domain::UserId;
use quartier_matching::reputation::{self as rep, Level, Metrics};
use quartier_store::{Conn, Tx, users};

use crate::error::ApiResult;
use crate::state::{AppState, now_ms};

/// The helper's figures over the window ending now, and the level they earn.
pub async fn compute(conn: &mut Conn, helper_id: &str, now: i64) -> ApiResult<(Metrics, Level, Option<String>)> {
    let since = now - rep::WINDOW_DAYS * 86_400_000;
    let history = quartier_store::reputation::history(conn, helper_id, since).await?;
    let m = rep::metrics(&history);
    let (level, why_not_next) = rep::level_of(&m);
    Ok((m, level, why_not_next))
}

/// Recomputes a helper's level and, if it changed, stores and announces the change.
pub async fn refresh(tx: &mut Tx, app: &AppState, helper_id: &str) -> ApiResult<()> {
    let now = now_ms();
    let (m, level, why_not_next) = compute(tx, helper_id, now).await?;
    let before = quartier_store::reputation::level(tx, helper_id).await?.and_then(|(l, ..)| Level::parse(&l)).unwrap_or(Level::New);
    let reason = if level < before {
        // Down: name the threshold of the old level that no longer holds.
        rep::LEVELS
            .iter()
            .find(|t| t.level == before)
            .and_then(|t| rep::meets(&m, t).err())
            .map(|why| format!("{} no longer met: {why}", before.as_str()))
            .unwrap_or_else(|| "thresholds no longer met".to_owned())
    } else if level > before {
        format!("{} thresholds met", level.as_str())
    } else {
        why_not_next.map(|w| format!("next level {w}")).unwrap_or_else(|| "top level".to_owned())
    };
    quartier_store::reputation::set_level(tx, &UserId::new().to_string(), helper_id, level.as_str(), &reason, now).await?;
    if level != before {
        announce(tx, app, helper_id, before, level, &reason, now).await?;
        tracing::info!(helper.id = %helper_id, from = before.as_str(), to = level.as_str(), %reason, "level changed");
    }
    Ok(())
}

async fn announce(tx: &mut Tx, app: &AppState, helper_id: &str, from: Level, to: Level, reason: &str, now: i64) -> ApiResult<()> {
    let Some(user) = users::by_id(tx, helper_id).await? else { return Ok(()) };
    let data = quartier_notifications::LevelChangeData {
        recipient_name: user.name.clone(),
        from: from.as_str().into(),
        to: to.as_str().into(),
        reason: reason.to_owned(),
        link: format!("{}/helper.html#progress", app.config().public_url.trim_end_matches('/')),
    };
    let words = quartier_notifications::render_level_change(user.locale.parse().unwrap_or_default(), &data);
    crate::process::queue_mail(tx, &user, quartier_notifications::LEVEL_CHANGED, &data, now).await?;
    // The feed gets every paragraph but the greeting, the link and the signature: the change and
    // its reason (and, going down, how to contest a figure).
    let paragraphs: Vec<&str> = words.text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
    let body = paragraphs.get(1..paragraphs.len().saturating_sub(2)).unwrap_or_default().join(" ");
    quartier_store::feed::insert(tx, &user.id, quartier_notifications::LEVEL_CHANGED, None, &words.subject, &body, now).await?;
    Ok(())
}

/// Milliseconds as a timestamp.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or_default()
}
