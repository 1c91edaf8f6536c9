//! An in-memory [`ExecutionStore`], for tests and benchmarks.

use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{
    Change, Commit, Created, ExecutionRecord, ExecutionStatus, ExecutionStore, StoreError, StoreFuture, apply_change,
};
use crate::history::HistoryEvent;

/// Keeps executions in a map; nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    executions: Mutex<HashMap<String, Entry>>,
    forget_finished: bool,
}

#[derive(Debug)]
struct Entry {
    record: ExecutionRecord,
    /// The events, one chunk per commit (appending never moves earlier events).
    events: Vec<Vec<HistoryEvent>>,
}

impl MemoryStore {
    /// An empty store that keeps every execution and its history.
    pub fn new() -> Self {
        Self::default()
    }

    fn apply(&self, name: &str, commit: Commit) -> Result<(), StoreError> {
        let mut executions = self.executions.lock();
        if self.forget_finished && matches!(commit.change, Change::Finish(_)) {
            return executions.remove(name).map(drop).ok_or_else(|| StoreError::NotFound(name.to_owned()));
        }
        let entry = executions.get_mut(name).ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        if let Some(last) = commit.events.iter().map(|e| e.id).max() {
            entry.record.last_event_id = entry.record.last_event_id.max(last);
        }
        if !commit.events.is_empty() {
            entry.events.push(commit.events);
        }
        apply_change(&mut entry.record, commit.change);
        Ok(())
    }

    /// An empty store that forgets an execution, history included, as soon as it ends: memory
    /// stays bounded by the running executions. The engine still reports the end to
    /// [`Engine::wait`](crate::Engine::wait), but `describe`, `history` and idempotent restarts
    /// no longer know the name afterwards.
    pub fn forgetting_finished() -> Self {
        Self { executions: Mutex::default(), forget_finished: true }
    }
}

#[async_trait]
impl ExecutionStore for MemoryStore {
    async fn create(&self, record: ExecutionRecord, events: Vec<HistoryEvent>) -> Result<Created, StoreError> {
        let mut executions = self.executions.lock();
        if let Some(existing) = executions.get(&record.name) {
            return Ok(Created::Existing(Box::new(existing.record.clone())));
        }
        let mut chunks = Vec::with_capacity(16);
        chunks.push(events);
        executions.insert(record.name.clone(), Entry { record, events: chunks });
        Ok(Created::New)
    }

    fn commit(&self, name: &str, commit: Commit) -> StoreFuture<()> {
        StoreFuture::ready(self.apply(name, commit))
    }

    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.executions.lock().get(name).map(|e| e.record.clone()))
    }

    async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let mut events: Vec<HistoryEvent> =
            self.executions.lock().get(name).map(|e| e.events.iter().flatten().cloned().collect()).unwrap_or_default();
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn running(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        Ok(self
            .executions
            .lock()
            .values()
            .filter(|e| e.record.status == ExecutionStatus::Running)
            .map(|e| e.record.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;

    #[tokio::test]
    async fn creating_twice_returns_the_existing_execution() {
        contract::creating_twice_returns_the_existing_execution(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn commits_move_the_cursor_and_finish_the_execution() {
        contract::commits_move_the_cursor_and_finish_the_execution(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn committing_to_an_unknown_execution_fails() {
        contract::committing_to_an_unknown_execution_fails(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn a_forgetting_store_drops_an_execution_when_it_finishes() {
        let store = MemoryStore::forgetting_finished();
        store.create(contract::record("brief"), vec![]).await.unwrap();
        let finish = super::super::Finish {
            status: ExecutionStatus::Succeeded,
            output: None,
            error: None,
            cause: None,
            stop_date: crate::clock::VIRTUAL_EPOCH,
        };
        store.commit("brief", Commit { events: vec![], change: Change::Finish(finish) }).await.unwrap();
        assert!(store.load("brief").await.unwrap().is_none());
        assert!(store.history("brief").await.unwrap().is_empty());
    }
}
