//! E-ticket links and codes. A link carries `<booking id>.<expiry>` and an
//! HMAC-SHA256 of it under `TICKET_SIGNING_KEY`, so it can be neither guessed
//! nor altered; the QR code on the ticket carries a code derived the same way,
//! which a conductor's scanner can check offline with the key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], domain: &str, message: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(domain.as_bytes());
    mac.update(b"\0");
    mac.update(message.as_bytes());
    mac
}

/// A signed link token for `booking`, valid until `expires`.
pub fn sign(key: &[u8], booking: Uuid, expires: DateTime<Utc>) -> String {
    let payload = format!("{}.{}", booking.simple(), expires.timestamp());
    let tag = mac(key, "ticket-link", &payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The booking a token names, if its signature holds and it has not expired
/// at `now`.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<Uuid> {
    if token.len() > 128 {
        return None;
    }
    let (payload, tag) = token.rsplit_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, "ticket-link", payload).verify_slice(&tag).ok()?;
    let (booking, expires) = payload.split_once('.')?;
    let expires: i64 = expires.parse().ok()?;
    (now.timestamp() < expires).then_some(())?;
    Uuid::try_parse(booking).ok()
}

/// The ticket's public path for `token` (served by `tickets-view`).
pub fn path(token: &str) -> String {
    format!("/tickets/{token}")
}

/// The code printed and encoded in the QR: `IMT-<booking>-<check>`, where the
/// check is the first 10 bytes of an HMAC of the booking id, in base32.
pub fn code(key: &[u8], booking: Uuid) -> String {
    let tag = mac(key, "ticket-code", &booking.simple().to_string())
        .finalize()
        .into_bytes();
    format!("IMT-{}-{}", booking.simple(), base32(&tag[..10]))
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let id = Uuid::new_v4();
        let now = Utc::now();
        let token = sign(KEY, id, now + Duration::hours(1));
        assert_eq!(verify(KEY, &token, now), Some(id));
        assert_eq!(verify(KEY, &token, now + Duration::hours(2)), None);
        assert_eq!(
            verify(b"another key, also thirty-two byte", &token, now),
            None
        );
    }

    #[test]
    fn altered_tokens_are_refused() {
        let id = Uuid::new_v4();
        let now = Utc::now();
        let token = sign(KEY, id, now + Duration::hours(1));
        let (payload, tag) = token.rsplit_once('.').unwrap();
        let (booking, exp) = payload.split_once('.').unwrap();
        let later: i64 = exp.parse::<i64>().unwrap() + 86_400;
        assert_eq!(verify(KEY, &format!("{booking}.{later}.{tag}"), now), None);
        let other = Uuid::new_v4().simple().to_string();
        assert_eq!(verify(KEY, &format!("{other}.{exp}.{tag}"), now), None);
        assert_eq!(verify(KEY, "nonsense", now), None);
        assert_eq!(verify(KEY, &format!("{payload}.AAAA"), now), None);
    }

    #[test]
    fn codes_are_stable_per_booking_and_key() {
        let id = Uuid::new_v4();
        assert_eq!(code(KEY, id), code(KEY, id));
        assert_ne!(code(KEY, id), code(KEY, Uuid::new_v4()));
        assert!(code(KEY, id).starts_with(&format!("IMT-{}-", id.simple())));
        assert_eq!(code(KEY, id).rsplit('-').next().unwrap().len(), 16);
    }
}
