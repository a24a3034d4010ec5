//! Tokens this instance has verified, so one seen again skips the RSA
//! signature check. Keyed by the SHA-256 of the whole token, so only the very
//! bytes that were verified hit; bounded, the least recently used going first;
//! an entry serves only before its token's `exp` and only under the key-set
//! generation it was verified with (a rotation that drops or changes a key
//! starts a new one). Revocation is no business of this cache: the device
//! session is checked on every request after it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use hashlink::LruCache;
use sha2::{Digest, Sha256};

use super::AuthUser;

/// Shards of a large cache, each under its own lock, so concurrent requests
/// rarely wait on each other.
const SHARDS: usize = 16;

/// The SHA-256 of a token.
pub(super) type TokenHash = [u8; 32];

/// The key of `token`.
pub(super) fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    user: AuthUser,
    /// The token's `exp` (seconds since the epoch): served strictly before it.
    exp: f64,
    /// The key-set generation the signature was checked under.
    generation: u64,
}

/// At most `capacity` verified tokens; every operation is O(1) under one
/// shard's lock.
pub(super) struct TokenCache {
    shards: Box<[Mutex<LruCache<TokenHash, Entry>>]>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; `None` for 0 (no cache).
    pub(super) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        // A small cache stays whole: split, each shard would hold too few.
        let shards = if capacity >= SHARDS * 64 { SHARDS } else { 1 };
        Some(Self {
            shards: (0..shards)
                .map(|_| Mutex::new(LruCache::new(capacity / shards)))
                .collect(),
        })
    }

    fn shard(&self, key: &TokenHash) -> MutexGuard<'_, LruCache<TokenHash, Entry>> {
        self.shards[usize::from(key[0]) % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The user of the token hashed to `key`, if it was verified under key-set
    /// `generation` and `now` is before its `exp`; an entry that no longer
    /// qualifies is dropped.
    pub(super) fn get(&self, key: &TokenHash, now: f64, generation: u64) -> Option<AuthUser> {
        let mut shard = self.shard(key);
        let entry = shard.get(key)?;
        if now < entry.exp && entry.generation == generation {
            return Some(entry.user.clone());
        }
        shard.remove(key);
        None
    }

    /// Remembers `user`, verified under key-set `generation`, until `exp`.
    pub(super) fn insert(&self, key: TokenHash, user: AuthUser, exp: f64, generation: u64) {
        self.shard(&key).insert(
            key,
            Entry {
                user,
                exp,
                generation,
            },
        );
    }

    /// Tokens held.
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn user(uid: &str) -> AuthUser {
        AuthUser {
            uid: uid.into(),
            email: None,
            role: Role::Standard,
            auth_time: 0,
        }
    }

    #[test]
    fn never_holds_more_than_its_capacity_and_drops_the_least_recently_used() {
        for capacity in [5, 10_000] {
            let cache = TokenCache::new(capacity).unwrap();
            let first = hash("token-0");
            cache.insert(first, user("u0"), 100.0, 0);
            for i in 1..capacity * 3 {
                cache.insert(hash(&format!("token-{i}")), user("u"), 100.0, 0);
                // Kept in use, the first token stays while the rest churn.
                assert!(cache.get(&first, 1.0, 0).is_some(), "{capacity}: {i}");
            }
            assert!(cache.len() <= capacity, "{capacity}: {}", cache.len());
            assert!(
                cache.len() >= capacity * 9 / 10,
                "{capacity}: {}",
                cache.len()
            );
            assert!(
                cache.get(&hash("token-1"), 1.0, 0).is_none(),
                "{capacity}: the oldest unused token went"
            );
        }
        assert!(TokenCache::new(0).is_none());
    }

    #[test]
    fn an_entry_serves_only_before_exp_and_under_its_key_generation() {
        let cache = TokenCache::new(10).unwrap();
        let key = hash("t");
        cache.insert(key, user("ada"), 100.0, 3);
        assert_eq!(
            cache.get(&key, 99.9, 3).map(|u| u.uid).as_deref(),
            Some("ada")
        );
        assert!(cache.get(&key, 99.9, 4).is_none(), "the keys rotated");
        assert!(cache.get(&key, 99.9, 3).is_none(), "and the entry went");
        cache.insert(key, user("ada"), 100.0, 3);
        assert!(cache.get(&key, 100.0, 3).is_none(), "exp is exclusive");
        assert_eq!(cache.len(), 0);
    }
}
