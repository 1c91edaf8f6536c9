//! Time: an injectable [`Clock`], the real [`SystemClock`] (optionally scaled), and a
//! [`VirtualClock`] for tests, on which a 30-second retry wait takes no real time.
//!
//! One clock serves the whole system: the order domain and its adapters ask it for `now()`, and
//! the state-machine engine also asks it to sleep until a deadline (`Wait` states, retry delays,
//! timeouts). The engine tells the clock which execution fibers are busy through [`Activity`]
//! guards, so that a virtual clock can advance on its own exactly when every fiber is waiting on
//! time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use time::{Duration, OffsetDateTime};
use tokio::sync::oneshot;

/// A boxed, sendable future returned by clocks.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// Completes at `deadline`; the caller has nothing else to do meanwhile (a `Wait` state, a
    /// retry delay).
    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep;

    /// Completes at `deadline`, but the caller is busy meanwhile (a task's timeout races the
    /// task). Defaults to [`Clock::sleep_until`].
    fn timer(&self, deadline: OffsetDateTime) -> Sleep {
        self.sleep_until(deadline)
    }

    /// Registers a busy fiber until the returned guard drops. Only a virtual clock cares.
    fn track(&self) -> Activity {
        Activity::untracked()
    }
}

/// Hooks a clock installs to learn how many fibers are busy.
pub trait ActivityHooks: Send + Sync {
    /// A fiber became busy.
    fn busy(&self);
    /// A fiber stopped being busy (it ended, or waits on something that is not time).
    fn idle(&self);
}

/// A guard counting one busy fiber; see [`Clock::track`].
#[must_use = "the fiber counts as busy only while the guard lives"]
pub struct Activity {
    hooks: Option<Arc<dyn ActivityHooks>>,
}

impl fmt::Debug for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Activity").field("tracked", &self.hooks.is_some()).finish()
    }
}

impl Activity {
    /// Counts a busy fiber with `hooks` until dropped.
    pub fn new(hooks: Arc<dyn ActivityHooks>) -> Self {
        hooks.busy();
        Self { hooks: Some(hooks) }
    }

    /// A guard that counts nothing.
    pub fn untracked() -> Self {
        Self { hooks: None }
    }

    /// Marks the fiber as not busy while the returned guard lives: it waits for other fibers
    /// (its branches, a free task slot) rather than doing work or waiting on time.
    pub fn park(&self) -> Parked<'_> {
        if let Some(hooks) = &self.hooks {
            hooks.idle();
        }
        Parked { activity: self }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        if let Some(hooks) = &self.hooks {
            hooks.idle();
        }
    }
}

/// A parked [`Activity`]; the fiber is busy again when this drops.
#[derive(Debug)]
pub struct Parked<'a> {
    activity: &'a Activity,
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        if let Some(hooks) = &self.activity.hooks {
            hooks.busy();
        }
    }
}

/// The wall clock. With a time scale, the delays the state machine asks for (`Wait` states and
/// retry intervals) are multiplied by the scale: `SystemClock::with_time_scale(0.01)` makes a
/// 30-second retry wait last 0.3 s. Timeouts (`TimeoutSeconds`, `HeartbeatSeconds`) stay real:
/// they bound work that does not go any faster. Timestamps (`now()`, history) stay real too.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    scale: f64,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

impl SystemClock {
    /// The wall clock with real delays.
    pub fn new() -> Self {
        Self::default()
    }

    /// The wall clock with delays multiplied by `scale` (`TIME_SCALE`); a negative or NaN scale
    /// counts as 0 (no delays).
    pub fn with_time_scale(scale: f64) -> Self {
        Self { scale: if scale.is_finite() && scale > 0.0 { scale } else { 0.0 } }
    }

    /// The scale of delays.
    pub fn time_scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        sleep_real(deadline, self.scale)
    }

    fn timer(&self, deadline: OffsetDateTime) -> Sleep {
        sleep_real(deadline, 1.0)
    }
}

/// Sleeps until `deadline`, the time left multiplied by `scale`.
fn sleep_real(deadline: OffsetDateTime, scale: f64) -> Sleep {
    let remaining = (deadline - OffsetDateTime::now_utc()).max(Duration::ZERO);
    let mut real = std::time::Duration::try_from(remaining * scale).unwrap_or(std::time::Duration::MAX);
    Box::pin(async move {
        // Tokio timers reach about two years ahead: sleep in chunks of one year.
        const CHUNK: std::time::Duration = std::time::Duration::from_hours(365 * 24);
        while !real.is_zero() {
            let chunk = real.min(CHUNK);
            tokio::time::sleep(chunk).await;
            real -= chunk;
        }
    })
}

/// A clock for tests: time moves only when told to, or — in auto-advance mode — jumps to the
/// next deadline as soon as every tracked fiber is waiting on time.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    auto_advance: bool,
    state: Mutex<State>,
}

/// How many times the auto-advancer yields to other tasks before it advances time, so that a
/// fiber that is between two steps (one branch ended, the next not yet started) gets to run.
const ADVANCE_GRACE_YIELDS: usize = 8;

#[derive(Debug)]
struct State {
    now: OffsetDateTime,
    next_id: u64,
    sleepers: Vec<Sleeper>,
    /// Tracked fibers that are busy.
    busy: usize,
    /// Sleepers that make their fiber idle.
    idle_sleepers: usize,
    /// Whether an auto-advance is pending.
    advance_scheduled: bool,
}

#[derive(Debug)]
struct Sleeper {
    id: u64,
    deadline: OffsetDateTime,
    idle: bool,
    wake: oneshot::Sender<()>,
}

/// The instant a [`VirtualClock`] starts at unless told otherwise: 2024-01-01T00:00:00Z.
pub const VIRTUAL_EPOCH: OffsetDateTime = time::macros::datetime!(2024-01-01 00:00:00 UTC);

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualClock {
    /// An auto-advancing clock starting at [`VIRTUAL_EPOCH`].
    pub fn new() -> Self {
        Self::build(VIRTUAL_EPOCH, true)
    }

    /// A clock that moves only through [`VirtualClock::advance`].
    pub fn manual(start: OffsetDateTime) -> Self {
        Self::build(start, false)
    }

    fn build(start: OffsetDateTime, auto_advance: bool) -> Self {
        let state =
            State { now: start, next_id: 0, sleepers: Vec::new(), busy: 0, idle_sleepers: 0, advance_scheduled: false };
        Self { inner: Arc::new(Inner { auto_advance, state: Mutex::new(state) }) }
    }

    /// Moves time forward by `by`, waking every sleeper whose deadline has come.
    pub fn advance(&self, by: std::time::Duration) {
        let mut state = self.inner.state.lock();
        let target = state.now + by;
        state.wake_until(target);
    }

    /// How many sleeps and timers are pending.
    pub fn pending_sleepers(&self) -> usize {
        self.inner.state.lock().sleepers.len()
    }
}

impl State {
    /// Sets the time to `target` and wakes the sleepers due by then.
    fn wake_until(&mut self, target: OffsetDateTime) {
        self.now = self.now.max(target);
        let now = self.now;
        let (due, pending): (Vec<Sleeper>, Vec<Sleeper>) =
            std::mem::take(&mut self.sleepers).into_iter().partition(|s| s.deadline <= now);
        self.sleepers = pending;
        for sleeper in due {
            if sleeper.idle {
                self.idle_sleepers -= 1;
            }
            let _ = sleeper.wake.send(());
        }
    }

    /// Whether, in auto mode, time should jump: no tracked fiber is busy and someone sleeps.
    fn should_advance(&self) -> bool {
        self.busy <= self.idle_sleepers && !self.sleepers.is_empty()
    }

    /// Jumps to the earliest deadline.
    fn advance_to_earliest(&mut self) {
        if let Some(earliest) = self.sleepers.iter().map(|s| s.deadline).min() {
            self.wake_until(earliest);
        }
    }
}

impl Inner {
    /// In auto mode, schedules a jump to the earliest deadline once no tracked fiber is busy.
    ///
    /// The jump happens on a separate task after a few yields, and only if the condition still
    /// holds then: a fiber can look idle for an instant (a `Map` iteration ended, the next one
    /// is about to start; a task beat its heartbeat and sleeps again before the engine saw the
    /// beat), and time must not move in that instant.
    fn maybe_advance(self: &Arc<Self>, state: &mut State) {
        if !self.auto_advance || state.advance_scheduled || !state.should_advance() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            state.advance_to_earliest();
            return;
        };
        state.advance_scheduled = true;
        let inner = Arc::clone(self);
        runtime.spawn(async move {
            loop {
                for _ in 0..ADVANCE_GRACE_YIELDS {
                    tokio::task::yield_now().await;
                }
                let mut state = inner.state.lock();
                if !state.should_advance() {
                    state.advance_scheduled = false;
                    return;
                }
                state.advance_to_earliest();
            }
        });
    }
}

/// The activity hooks of a virtual clock.
#[derive(Debug)]
struct Hooks(Arc<Inner>);

impl ActivityHooks for Hooks {
    fn busy(&self) {
        self.0.state.lock().busy += 1;
    }

    fn idle(&self) {
        let mut state = self.0.state.lock();
        state.busy = state.busy.saturating_sub(1);
        self.0.maybe_advance(&mut state);
    }
}

impl VirtualClock {
    fn register(&self, deadline: OffsetDateTime, idle: bool) -> Sleep {
        let mut state = self.inner.state.lock();
        if deadline <= state.now {
            return Box::pin(std::future::ready(()));
        }
        let (wake, wait) = oneshot::channel();
        let id = state.next_id;
        state.next_id += 1;
        state.sleepers.push(Sleeper { id, deadline, idle, wake });
        if idle {
            state.idle_sleepers += 1;
        }
        self.inner.maybe_advance(&mut state);
        Box::pin(VirtualSleep { inner: Arc::clone(&self.inner), id, wait, done: false })
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> OffsetDateTime {
        self.inner.state.lock().now
    }

    fn sleep_until(&self, deadline: OffsetDateTime) -> Sleep {
        self.register(deadline, true)
    }

    fn timer(&self, deadline: OffsetDateTime) -> Sleep {
        self.register(deadline, false)
    }

    fn track(&self) -> Activity {
        Activity::new(Arc::new(Hooks(Arc::clone(&self.inner))))
    }
}

/// A pending virtual sleep; dropping it early unregisters it.
struct VirtualSleep {
    inner: Arc<Inner>,
    id: u64,
    wait: oneshot::Receiver<()>,
    done: bool,
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.wait).poll(cx) {
            Poll::Ready(_) => {
                self.done = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.inner.state.lock();
        if let Some(index) = state.sleepers.iter().position(|s| s.id == self.id) {
            let sleeper = state.sleepers.swap_remove(index);
            if sleeper.idle {
                state.idle_sleepers -= 1;
            }
            self.inner.maybe_advance(&mut state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_untracked_sleep_on_an_auto_clock_completes_at_once_in_virtual_time() {
        let clock = VirtualClock::new();
        let start = clock.now();
        clock.sleep_until(start + Duration::seconds(30)).await;
        assert_eq!(clock.now() - start, Duration::seconds(30));
    }

    #[tokio::test]
    async fn a_busy_fiber_holds_virtual_time_still() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let busy = clock.track();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move {
                let _me = clock.track();
                clock.sleep_until(start + Duration::seconds(5)).await;
            }
        });
        tokio::task::yield_now().await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(clock.now(), start, "time moved while a fiber was busy");
        drop(busy);
        sleeper.await.unwrap();
        assert_eq!(clock.now(), start + Duration::seconds(5));
    }

    #[tokio::test]
    async fn a_timer_does_not_count_as_idle() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let busy = clock.track();
        let timer = clock.timer(start + Duration::seconds(60));
        assert_eq!(clock.pending_sleepers(), 1);
        assert_eq!(clock.now(), start);
        drop(busy);
        timer.await;
        assert_eq!(clock.now(), start + Duration::seconds(60));
    }

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_advanced() {
        let clock = VirtualClock::manual(VIRTUAL_EPOCH);
        let sleep = clock.sleep_until(VIRTUAL_EPOCH + Duration::seconds(10));
        let handle = tokio::spawn(sleep);
        clock.advance(std::time::Duration::from_secs(9));
        assert_eq!(clock.pending_sleepers(), 1);
        clock.advance(std::time::Duration::from_secs(1));
        handle.await.unwrap();
        assert_eq!(clock.pending_sleepers(), 0);
    }

    #[tokio::test]
    async fn a_dropped_sleep_is_unregistered() {
        let clock = VirtualClock::manual(VIRTUAL_EPOCH);
        let sleep = clock.sleep_until(VIRTUAL_EPOCH + Duration::seconds(10));
        assert_eq!(clock.pending_sleepers(), 1);
        drop(sleep);
        assert_eq!(clock.pending_sleepers(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_time_scale_shortens_waits_but_not_timeouts() {
        let clock = SystemClock::with_time_scale(0.01);
        let deadline = clock.now() + Duration::seconds(30);
        let (wait, timeout) = (clock.sleep_until(deadline), clock.timer(deadline));

        let waited = tokio::time::timeout(std::time::Duration::from_secs(1), wait).await;
        let timed_out = tokio::time::timeout(std::time::Duration::from_secs(10), timeout).await;

        assert!(waited.is_ok(), "a 30 s wait at scale 0.01 lasts 0.3 s");
        assert!(timed_out.is_err(), "a 30 s timeout lasts 30 s whatever the scale");
    }

    #[test]
    fn a_time_scale_is_kept_and_nonsense_means_zero() {
        assert!((SystemClock::with_time_scale(0.01).time_scale() - 0.01).abs() < f64::EPSILON);
        assert!(SystemClock::with_time_scale(f64::NAN).time_scale().abs() < f64::EPSILON);
    }
}
