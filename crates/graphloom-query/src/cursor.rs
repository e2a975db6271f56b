//! Opaque, tamper-checked cursors: an offset in an ordered list, signed with the
//! service's key (HMAC-SHA256) together with the type it belongs to.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn tag(key: &[u8], scope: &str, offset: u64) -> Option<[u8; 12]> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(scope.as_bytes());
    mac.update(&offset.to_be_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 12];
    out.copy_from_slice(&full[..12]);
    Some(out)
}

/// The cursor of the row at `offset` in a list of `scope` (a type name).
pub fn encode(key: &[u8], scope: &str, offset: u64) -> String {
    let mut raw = offset.to_be_bytes().to_vec();
    raw.extend_from_slice(&tag(key, scope, offset).unwrap_or_default());
    URL_SAFE_NO_PAD.encode(raw)
}

/// The offset of a cursor, or `None` if it was not made here for `scope`.
pub fn decode(key: &[u8], scope: &str, cursor: &str) -> Option<u64> {
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    if raw.len() != 20 {
        return None;
    }
    let offset = u64::from_be_bytes(raw[..8].try_into().ok()?);
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(scope.as_bytes());
    mac.update(&offset.to_be_bytes());
    // Constant-time comparison of the truncated tag.
    mac.verify_truncated_left(&raw[8..]).ok()?;
    Some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = b"secret";
        let c = encode(key, "Post", 41);
        assert_eq!(decode(key, "Post", &c), Some(41));
        assert_eq!(decode(key, "Comment", &c), None, "scoped to the type");
        assert_eq!(decode(b"other", "Post", &c), None, "signed with the key");
        let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        raw[7] ^= 1;
        assert_eq!(decode(key, "Post", &URL_SAFE_NO_PAD.encode(raw)), None);
        assert_eq!(decode(key, "Post", "not a cursor"), None);
        assert_eq!(decode(key, "Post", ""), None);
    }
}
