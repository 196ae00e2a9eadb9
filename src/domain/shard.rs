//! Shards (PRODUCT.md section 12): a server belongs to one of [`SHARDS`] shards by a stable
//! hash of its id (FNV-1a, the same on every instance, build and platform), so instances can
//! split the fleet by leasing shards instead of servers.

/// The number of shards the fleet is split into.
pub const SHARDS: usize = 256;

/// The shard of a server id.
pub fn shard_of(server_id: &str) -> u8 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = server_id.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    // Fold the high bits in: FNV's low byte alone is weak for ids that differ only at the end.
    (hash ^ (hash >> 32) ^ (hash >> 16) ^ (hash >> 8)).to_le_bytes()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        // Pinned: a change here would move servers between instances during an upgrade.
        assert_eq!(shard_of("acme-eu-1"), shard_of("acme-eu-1"));
        let pinned: Vec<u8> = ["a", "acme-eu-1", "s-000042"].iter().map(|s| shard_of(s)).collect();
        assert_eq!(pinned, PINNED);
        let mut counts = [0usize; SHARDS];
        for i in 0..25_600 {
            counts[usize::from(shard_of(&format!("s-{i:06}")))] += 1;
        }
        let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
        assert!(min >= Some(60) && max <= Some(140), "100 expected per shard: {min:?}..{max:?}");
    }

    const PINNED: [u8; 3] = [45, 26, 161];
}
