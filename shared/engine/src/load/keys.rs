//! The keys of one node type a load has met, each with a number (the line that loaded it,
//! or the stored row's address): looked up once per node line and twice per edge line.
//!
//! Each key's text is kept once, in one buffer, and the hash table holds 16-byte slots
//! pointing into it: about 17 bytes per slot plus the text. A map of inline strings
//! (`SmolStr`, 24 bytes, and the number) took 33 bytes per slot, and a hash table has a
//! power of two of slots above its keys: at 10M keys that was 528 MiB for one map (800 MiB
//! while it grew), the whole difference between a 10M-node load's peak memory and a 1M one's.

use std::hash::BuildHasher;

/// Bits of a slot's `place` that hold the key's length; the rest hold where it starts.
const LEN_BITS: u32 = 24;
/// Longer keys (a line of more than 16 MiB) are kept apart, in `long`.
const MAX_LEN: usize = (1 << LEN_BITS) - 1;
/// Text the buffer may hold: 2^40 bytes.
const MAX_TEXT: usize = 1 << (64 - LEN_BITS);

#[derive(Default)]
pub(super) struct KeyTable {
    text: Vec<u8>,
    slots: hashbrown::HashTable<Slot>,
    /// Seeded per process: the keys come from the caller, who must not be able to choose
    /// keys that all fall into one bucket.
    hasher: foldhash::fast::RandomState,
    long: foldhash::HashMap<Box<str>, u64>,
}

#[derive(Clone, Copy)]
struct Slot {
    /// Where the key starts in `text` (high 40 bits) and its length (low 24 bits).
    place: u64,
    value: u64,
}

fn key_of<'t>(text: &'t [u8], slot: &Slot) -> &'t [u8] {
    let start = (slot.place >> LEN_BITS) as usize;
    let len = (slot.place & MAX_LEN as u64) as usize;
    &text[start..start + len]
}

impl KeyTable {
    /// The number kept with `key`, if it was met.
    pub fn get(&self, key: &str) -> Option<u64> {
        let hash = self.hasher.hash_one(key.as_bytes());
        let found = self
            .slots
            .find(hash, |s| key_of(&self.text, s) == key.as_bytes())
            .map(|s| s.value);
        match found {
            None if !self.long.is_empty() => self.long.get(key).copied(),
            found => found,
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Keeps `value` with `key` (replacing the number of a key met before).
    pub fn insert(&mut self, key: &str, value: u64) {
        let hash = self.hasher.hash_one(key.as_bytes());
        let text = &self.text;
        if let Some(slot) = self
            .slots
            .find_mut(hash, |s| key_of(text, s) == key.as_bytes())
        {
            slot.value = value;
            return;
        }
        if key.len() > MAX_LEN || self.text.len() + key.len() > MAX_TEXT {
            // Replaces the number of a long key met before.
            self.long.insert(key.into(), value);
            return;
        }
        let place = ((self.text.len() as u64) << LEN_BITS) | key.len() as u64;
        self.text.extend_from_slice(key.as_bytes());
        let (text, hasher) = (&self.text, &self.hasher);
        self.slots.insert_unique(hash, Slot { place, value }, |s| {
            hasher.hash_one(key_of(text, s))
        });
    }

    /// Every key met, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        // Each slot spans exactly the bytes of one `&str` appended whole: valid UTF-8.
        let kept = self
            .slots
            .iter()
            .filter_map(|s| std::str::from_utf8(key_of(&self.text, s)).ok());
        kept.chain(self.long.keys().map(|k| &**k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_replaced_and_listed() {
        let mut t = KeyTable::default();
        for i in 0..10_000u64 {
            t.insert(&format!("k{i}"), i);
        }
        t.insert("", 7);
        t.insert("k5", 55);
        assert_eq!(t.get("k5"), Some(55));
        assert_eq!(t.get("k9999"), Some(9999));
        assert_eq!(t.get(""), Some(7));
        assert_eq!(t.get("k10000"), None);
        assert!(t.contains_key("k0"));
        assert!(!t.contains_key("k"));
        let mut keys: Vec<&str> = t.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys.len(), 10_001);
        assert_eq!(keys[0], "");
    }

    #[test]
    fn a_key_longer_than_a_slot_can_say_is_kept_apart() {
        let mut t = KeyTable::default();
        let long = "x".repeat(MAX_LEN + 1);
        t.insert(&long, 1);
        t.insert("short", 2);
        assert_eq!(t.get(&long), Some(1));
        assert_eq!(t.get(&long[..MAX_LEN]), None);
        assert_eq!(t.get("short"), Some(2));
        t.insert(&long, 3);
        assert_eq!(t.get(&long), Some(3));
        assert_eq!(t.keys().count(), 2);
    }
}
