//! An in-memory [`SharedData`] with Envoy's exact semantics, for tests and for tools that run
//! the ledger outside Envoy: one global lock, a CAS token per write drawn from one global
//! counter that skips zero, and a write to an absent key stored whatever CAS it carries.

use super::{SetError, SharedData};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryHost {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
}

impl Inner {
    fn next_cas(&mut self) -> u32 {
        self.next_cas = self.next_cas.wrapping_add(1);
        if self.next_cas == 0 {
            self.next_cas = 1;
        }
        self.next_cas
    }
}

impl SharedData for MemoryHost {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        let inner = self.inner.lock().ok()?;
        inner.map.get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SetError> {
        let mut inner = self.inner.lock().map_err(|_| SetError::Failed)?;
        if let Some((_, current)) = inner.map.get(key) {
            if cas != 0 && cas != *current {
                return Err(SetError::CasMismatch);
            }
        }
        let token = inner.next_cas();
        inner.map.insert(key.to_owned(), (value.to_vec(), token));
        Ok(())
    }
}
