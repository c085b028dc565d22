//! Access tokens (HS256 JWT, short-lived), refresh tokens (random, stored hashed) and Argon2id
//! passwords (hashed off the async runtime).

use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use quartier_domain::{Role, UserId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::Caller;

const ISSUER: &str = "quartier";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iss: String,
    /// Who the token is for: this API only.
    aud: String,
    /// `access`: a link or any other token of ours is never taken for one.
    typ: String,
    iat: u64,
    exp: u64,
}

/// The audience of access tokens.
const AUDIENCE: &str = "quartier-api";
/// The type claim of access tokens.
const ACCESS_TYPE: &str = "access";

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    /// The key's id in token headers: a fingerprint of the key, so a token naming any other key
    /// (or none) is refused before its signature is even looked at.
    kid: String,
}

impl Tokens {
    /// Tokens signed with `key` (at least 32 bytes), valid for `access_ttl`.
    pub fn new(key: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(key);
        let kid = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key), validation, access_ttl, kid }
    }

    /// Lifetime of an access token.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// A new access token for a user.
    pub fn issue_access(&self, user: UserId, role: Role) -> Result<String, ApiError> {
        let now = jiff::Timestamp::now().as_second().max(0).unsigned_abs();
        let claims = Claims {
            sub: user.to_string(),
            role: role.as_str().to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            typ: ACCESS_TYPE.to_owned(),
            iat: now,
            exp: now + self.access_ttl.as_secs(),
        };
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Checks an access token: HS256 only (no `none`, no other algorithm), our key, our issuer, not expired.
    pub fn verify_access(&self, token: &str) -> Result<Caller, ApiError> {
        // Only our own key id: no `jku`, `x5u` or `jwk` is ever followed, an unknown `kid` is refused.
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| ApiError::invalid_token("The access token is not valid; sign in again."))?;
        if header.kid.as_deref() != Some(self.kid.as_str()) || header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() {
            return Err(ApiError::invalid_token("The access token is not valid; sign in again."));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => {
                ApiError::invalid_token("The access token has expired; get a new one with POST /v1/auth/refresh.")
            }
            _ => ApiError::invalid_token("The access token is not valid; sign in again."),
        })?;
        if data.claims.typ != ACCESS_TYPE {
            return Err(ApiError::invalid_token("The access token is not valid; sign in again."));
        }
        let id = data.claims.sub.parse::<UserId>().map_err(|_| ApiError::invalid_token("The access token is not valid."))?;
        let role = data.claims.role.parse::<Role>().map_err(|_| ApiError::invalid_token("The access token is not valid."))?;
        Ok(Caller { id, role })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LinkClaims {
    sub: String,
    booking: String,
    action: String,
    iss: String,
    exp: u64,
}

/// What a signed e-mail link lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The person the link was sent to.
    pub user: UserId,
    /// The booking (or request) it is about.
    pub booking: String,
    /// The step it takes, e.g. `accept`.
    pub action: String,
}

const LINK_ISSUER: &str = "quartier-link";

impl Tokens {
    /// A signed, expiring token for one step on one booking by one person (for links in e-mails).
    pub fn sign_link(&self, user: &str, booking: &str, action: &str, valid_for: Duration) -> Result<String, ApiError> {
        let exp = jiff::Timestamp::now().as_second().max(0).unsigned_abs() + valid_for.as_secs();
        let claims =
            LinkClaims { sub: user.to_owned(), booking: booking.to_owned(), action: action.to_owned(), iss: LINK_ISSUER.to_owned(), exp };
        jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Checks a link token: our key, the link issuer (an access token is not a link), not expired.
    pub fn verify_link(&self, token: &str) -> Result<Link, ApiError> {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[LINK_ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<LinkClaims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => {
                ApiError::invalid_token("This link has expired; open the booking in the app instead.").with_code("link_expired")
            }
            _ => ApiError::invalid_token("This link is not valid; open the booking in the app instead.").with_code("invalid_link"),
        })?;
        let user =
            data.claims.sub.parse::<UserId>().map_err(|_| ApiError::invalid_token("This link is not valid.").with_code("invalid_link"))?;
        Ok(Link { user, booking: data.claims.booking, action: data.claims.action })
    }
}

/// A new refresh token and the hash under which it is stored.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
}

impl Default for PasswordCost {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self { memory_kib: Params::DEFAULT_M_COST, iterations: Params::DEFAULT_T_COST }
    }
}

/// Password hashes computed at once, at most.
pub const MAX_CONCURRENT_HASHES: usize = 4;
/// How long a password check waits for a slot before the server says it is busy.
pub const HASH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Hashes and checks passwords on the blocking pool.
#[derive(Clone)]
pub struct Passwords {
    cost: PasswordCost,
    /// Hashes running at once: Argon2 costs memory and a core each, so a burst of logins must
    /// queue (briefly) rather than exhaust the machine.
    slots: Arc<tokio::sync::Semaphore>,
    /// A hash of a random password, checked when the e-mail is unknown so that an unknown e-mail
    /// costs the same time as a wrong password.
    dummy: Arc<String>,
}

impl Passwords {
    /// A hasher with these costs.
    pub fn new(cost: PasswordCost) -> Result<Self, ApiError> {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let dummy = hash_with(cost, &URL_SAFE_NO_PAD.encode(bytes))?;
        Ok(Self { cost, dummy: Arc::new(dummy), slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_HASHES)) })
    }

    /// A hashing slot, waiting at most [`HASH_QUEUE_WAIT`]; then 503 `password_hashing_busy`.
    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(HASH_QUEUE_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "password_hashing_busy",
                "Too many sign-ins at once; try again in a second.",
            )
            .with_retry_after(1)),
        }
    }

    /// The PHC string for a password.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let cost = self.cost;
        let permit = self.slot().await?;
        let r = tokio::task::spawn_blocking(move || hash_with(cost, &password)).await.map_err(ApiError::internal)?;
        drop(permit);
        r
    }

    /// Whether `password` matches `phc`; with `None`, checks against the dummy and says no.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, ApiError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.as_str().to_owned());
        let _permit = self.slot().await?;
        let ok = tokio::task::spawn_blocking(move || {
            // The hash string carries its own parameters; the hasher's are only for new hashes.
            Argon2::default().verify_password(password.as_bytes(), phc.as_str()).is_ok()
        })
        .await
        .map_err(ApiError::internal)?;
        Ok(ok && known)
    }
}

fn hash_with(cost: PasswordCost, password: &str) -> Result<String, ApiError> {
    let params =
        Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(|e| ApiError::internal(anyhow::anyhow!("argon2 params: {e}")))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordCost {
        PasswordCost { memory_kib: 1024, iterations: 1 }
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let p = Passwords::new(cheap()).expect("hasher");
        let h = p.hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse".into(), Some(h.clone())).await.expect("verify"));
        assert!(!p.verify("wrong horse".into(), Some(h)).await.expect("verify"));
        assert!(!p.verify("correct horse".into(), None).await.expect("verify"));
    }

    #[test]
    fn access_tokens_round_trip_and_foreign_keys_fail() {
        let t = Tokens::new(&[7u8; 32], Duration::from_secs(900));
        let id = UserId::new();
        let tok = t.issue_access(id, Role::Helper).expect("issue");
        let caller = t.verify_access(&tok).expect("valid");
        assert_eq!((caller.id, caller.role), (id, Role::Helper));
        let other = Tokens::new(&[8u8; 32], Duration::from_secs(900));
        assert_eq!(other.verify_access(&tok).map(|_| ()).map_err(|e| e.code()), Err("invalid_token"));
    }

    #[test]
    fn links_round_trip_expire_and_are_not_access_tokens() {
        let t = Tokens::new(&[7u8; 32], Duration::from_secs(900));
        let user = UserId::new();
        let link = t.sign_link(&user.to_string(), "b1", "accept", Duration::from_secs(60)).expect("sign");
        assert_eq!(t.verify_link(&link).expect("valid"), Link { user, booking: "b1".into(), action: "accept".into() });
        assert!(t.verify_access(&link).is_err(), "a link is not an access token");
        let access = t.issue_access(user, Role::Helper).expect("issue");
        assert!(t.verify_link(&access).is_err(), "an access token is not a link");
        let other = Tokens::new(&[8u8; 32], Duration::from_secs(900));
        assert_eq!(other.verify_link(&link).map_err(|e| e.code()), Err("invalid_link"));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), ha);
        assert_ne!(a, ha);
    }
}
