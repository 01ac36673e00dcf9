//! Request bodies as the simulator keeps them: copied out of the connection's read buffer
//! into large blocks, one current block per worker thread.
//!
//! A body as received is a slice of hyper's read buffer. Held on to (the store keeps a
//! stream's messages as slices of their body, the transcript keeps the body), it would keep
//! that whole buffer alive, often several times the body's size, and hyper would allocate a
//! fresh buffer for the next request: every append a new piece of heap to map and fault in.
//! Copied into a block, bodies share a few large allocations, the read buffer is reused, and
//! the store and the transcript share the one copy.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// A block's size.
const BLOCK: usize = 1 << 20;
/// Larger bodies are kept as received: they arrive over several reads and are collected
/// into an allocation of their own, which holds nothing else.
const LARGEST_COPIED: usize = BLOCK / 8;

thread_local! {
    /// The unused end of this thread's current block.
    static FREE: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// `body` as it is to be kept.
pub(crate) fn keep(body: Bytes) -> Bytes {
    if body.is_empty() || body.len() > LARGEST_COPIED {
        return body;
    }
    FREE.with_borrow_mut(|free| {
        if free.capacity() < body.len() {
            *free = BytesMut::with_capacity(BLOCK);
        }
        free.extend_from_slice(&body);
        free.split().freeze()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_kept_byte_for_byte_whatever_their_size() {
        let sizes = [
            0,
            1,
            100,
            LARGEST_COPIED,
            LARGEST_COPIED + 1,
            BLOCK - 10,
            50_000,
        ];
        let bodies: Vec<Bytes> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Bytes::from(vec![i as u8 + 1; n]))
            .collect();
        // Many in a row, so blocks fill up and are replaced while earlier ones are held.
        let kept: Vec<Bytes> = (0..40)
            .flat_map(|_| bodies.iter().cloned())
            .map(keep)
            .collect();
        for (k, original) in kept.iter().zip(bodies.iter().cycle()) {
            assert_eq!(k, original);
        }
    }
}
