//! The server's Ed25519 key (PROTOCOL §6.5, §7.1, §12.9, §12.10): webhook signatures, the
//! JWK Set that publishes the public half, and the callback and claim tokens it signs.
//!
//! One key per simulator, made at start and never written anywhere: a test server has no
//! restart to survive, so there is no rotation and the JWK Set holds one key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

pub(crate) struct Signer {
    pair: Ed25519KeyPair,
    /// The public key, base64url: the JWK's `x`.
    x: String,
    kid: String,
}

/// What a callback or claim token vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The subscription, with the incarnation that issued the token (a subscription deleted
    /// and created again under the same id does not honour the old one's tokens).
    pub sub: String,
    pub generation: u64,
    /// Unix seconds after which the token is refused.
    pub exp: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    Invalid,
    Expired,
}

impl Signer {
    pub(crate) fn generate() -> Signer {
        let rng = ring::rand::SystemRandom::new();
        // Key generation fails only without a system random source, which no supported
        // platform lacks; 32 zero bytes would be no key at all, so there is no fallback.
        let pair = Ed25519KeyPair::generate_pkcs8(&rng)
            .and_then(|doc| {
                Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| ring::error::Unspecified)
            })
            .expect("the system random source makes an Ed25519 key");
        let x = B64.encode(pair.public_key().as_ref());
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let digest = ring::digest::digest(&ring::digest::SHA256, members.as_bytes());
        let kid = format!("ds_{}", B64.encode(digest.as_ref()));
        Signer { pair, x, kid }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK Set served at `__ds/jwks.json`.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": self.kid,
                "use": "sig",
                "alg": "EdDSA",
                "x": self.x,
            }]
        })
    }

    /// The `Webhook-Signature` header for `body` sent at `now` (Unix seconds): the signature
    /// covers `<now>.<body>`.
    pub(crate) fn webhook_signature(&self, body: &[u8], now: u64) -> String {
        let mut signed = format!("{now}.").into_bytes();
        signed.extend_from_slice(body);
        let signature = B64.encode(self.pair.sign(&signed).as_ref());
        format!("t={now},kid={},ed25519={signature}", self.kid)
    }

    /// A token: the claims as base64url JSON, a dot, and the signature over that first part.
    pub(crate) fn token(&self, claims: &Claims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signature = B64.encode(self.pair.sign(payload.as_bytes()).as_ref());
        format!("{payload}.{signature}")
    }

    /// The claims of a token this key signed, if it has not expired at `now`.
    pub(crate) fn open(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let signature = B64.decode(signature).map_err(|_| TokenError::Invalid)?;
        UnparsedPublicKey::new(&ED25519, self.pair.public_key().as_ref())
            .verify(payload.as_bytes(), &signature)
            .map_err(|_| TokenError::Invalid)?;
        let json = B64.decode(payload).map_err(|_| TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
        match claims.exp < now {
            true => Err(TokenError::Expired),
            false => Ok(claims),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "a/sub-1".into(),
            generation: 3,
            exp,
        }
    }

    #[test]
    fn a_token_opens_with_its_claims_until_it_expires() {
        let signer = Signer::generate();
        let token = signer.token(&claims(100));
        assert_eq!(signer.open(&token, 100), Ok(claims(100)));
        assert_eq!(signer.open(&token, 101), Err(TokenError::Expired));
    }

    #[test]
    fn a_changed_or_foreign_token_is_refused() {
        let signer = Signer::generate();
        let token = signer.token(&claims(100));
        let (payload, signature) = token.split_once('.').unwrap();
        let other = B64.encode(
            serde_json::to_vec(&Claims {
                generation: 4,
                ..claims(100)
            })
            .unwrap(),
        );
        for bad in [
            format!("{other}.{signature}"),
            format!("{payload}.{}", &signature[1..]),
            payload.to_owned(),
            Signer::generate().token(&claims(100)),
        ] {
            assert_eq!(signer.open(&bad, 0), Err(TokenError::Invalid), "{bad}");
        }
    }

    #[test]
    fn the_webhook_signature_verifies_with_the_published_key() {
        let signer = Signer::generate();
        let header = signer.webhook_signature(b"{\"a\":1}", 1_700_000_000);
        let parts: Vec<&str> = header.split(',').collect();
        assert_eq!(parts[0], "t=1700000000");
        assert_eq!(parts[1], format!("kid={}", signer.kid()));
        let signature = B64
            .decode(parts[2].strip_prefix("ed25519=").unwrap())
            .unwrap();
        let jwks = signer.jwks();
        let x = B64.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
        let key = UnparsedPublicKey::new(&ED25519, x);
        assert!(key.verify(b"1700000000.{\"a\":1}", &signature).is_ok());
        assert!(key.verify(b"1700000001.{\"a\":1}", &signature).is_err());
        assert_eq!(jwks["keys"][0]["kid"], signer.kid());
    }
}
