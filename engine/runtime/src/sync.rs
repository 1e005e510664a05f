//! Single-core async primitives: a FIFO [`Semaphore`] (with one permit, a
//! fair mutex: no task can barge past one already waiting; with many and
//! weighted acquires, a byte budget) and a [`Notify`].
//!
//! Everything using them lives on one core (one executor), so they are built
//! on `Rc`/`RefCell` and wakers, without atomics or locks.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A counting semaphore whose waiters are served first come, first served.
#[derive(Clone)]
pub struct Semaphore {
    state: Rc<RefCell<SemState>>,
}

struct SemState {
    permits: usize,
    /// Permits the semaphore was made with: no acquire asks for more.
    capacity: usize,
    /// Waiting acquires in arrival order: (id, permits wanted, waker).
    waiters: VecDeque<(u64, usize, Waker)>,
    next_id: u64,
}

impl SemState {
    fn wake_front(&mut self) {
        if let Some((_, wanted, waker)) = self.waiters.front() {
            if self.permits >= *wanted {
                waker.wake_by_ref();
            }
        }
    }

    fn release(&mut self, permits: usize) {
        self.permits += permits;
        debug_assert!(self.permits <= self.capacity, "more permits released than taken");
        self.wake_front();
    }
}

/// Permits of a [`Semaphore`]; released when dropped.
pub struct Permit {
    state: Rc<RefCell<SemState>>,
    count: usize,
}

impl Permit {
    /// Permits held.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Gives back all but `keep` of the permits held (none if it holds fewer).
    pub fn shrink_to(&mut self, keep: usize) {
        if keep < self.count {
            let freed = self.count - keep;
            self.count = keep;
            self.state.borrow_mut().release(freed);
        }
    }

    /// Moves `count` of the permits held (at most all) into a new permit.
    pub fn split(&mut self, count: usize) -> Permit {
        let count = count.min(self.count);
        self.count -= count;
        Permit { state: self.state.clone(), count }
    }

    /// Takes over `other`'s permits (of the same semaphore).
    pub fn merge(&mut self, mut other: Permit) {
        debug_assert!(Rc::ptr_eq(&self.state, &other.state), "permits of another semaphore");
        self.count += std::mem::take(&mut other.count);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.count > 0 {
            self.state.borrow_mut().release(self.count);
        }
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits (at least one).
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        let state = SemState { permits, capacity: permits, waiters: VecDeque::new(), next_id: 0 };
        Semaphore { state: Rc::new(RefCell::new(state)) }
    }

    /// Waits for a permit.
    pub fn acquire(&self) -> Acquire {
        self.acquire_many(1)
    }

    /// Waits for `permits` permits at once (clamped to the semaphore's
    /// capacity, so it can always be granted); waiters are served in arrival
    /// order, so a large acquire is not starved by small ones.
    pub fn acquire_many(&self, permits: usize) -> Acquire {
        let wanted = permits.min(self.state.borrow().capacity);
        Acquire { state: self.state.clone(), id: None, wanted }
    }

    /// A permit holding nothing, to grow with [`Permit::merge`].
    pub fn empty_permit(&self) -> Permit {
        Permit { state: self.state.clone(), count: 0 }
    }

    /// Permits available right now.
    pub fn available(&self) -> usize {
        self.state.borrow().permits
    }
}

/// Future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
pub struct Acquire {
    state: Rc<RefCell<SemState>>,
    id: Option<u64>,
    wanted: usize,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = &mut *self;
        let mut state = this.state.borrow_mut();
        let first = match this.id {
            None => state.waiters.is_empty(),
            Some(id) => state.waiters.front().is_some_and(|(front, _, _)| *front == id),
        };
        if first && state.permits >= this.wanted {
            state.permits -= this.wanted;
            if this.id.take().is_some() {
                state.waiters.pop_front();
            }
            // More permits may be free for the next waiter.
            state.wake_front();
            drop(state);
            return Poll::Ready(Permit { state: this.state.clone(), count: this.wanted });
        }
        match this.id {
            Some(id) => {
                if let Some(entry) = state.waiters.iter_mut().find(|(w, _, _)| *w == id) {
                    entry.2.clone_from(cx.waker());
                }
            }
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.waiters.push_back((id, this.wanted, cx.waker().clone()));
                this.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            let mut state = self.state.borrow_mut();
            state.waiters.retain(|(w, _, _)| *w != id);
            // If we were woken for a permit we will never take, pass it on.
            state.wake_front();
        }
    }
}

/// Wakes one waiting task; a notification sent while nobody waits is kept
/// (one at most) for the next wait, so none is lost between checks.
#[derive(Clone, Default)]
pub struct Notify {
    state: Rc<RefCell<NotifyState>>,
}

#[derive(Default)]
struct NotifyState {
    notified: bool,
    waker: Option<Waker>,
}

impl Notify {
    /// Wakes the waiter, or lets the next [`Notify::notified`] return at once.
    pub fn notify(&self) {
        let mut state = self.state.borrow_mut();
        state.notified = true;
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }

    /// Waits for a notification (consuming it).
    pub fn notified(&self) -> Notified<'_> {
        Notified { notify: self }
    }
}

/// Future of [`Notify::notified`].
pub struct Notified<'a> {
    notify: &'a Notify,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.notify.state.borrow_mut();
        if state.notified {
            state.notified = false;
            Poll::Ready(())
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        let waker = noop_waker();
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn semaphore_is_fifo_and_releases_on_drop() {
        let sem = Semaphore::new(1);
        let mut a = sem.acquire();
        let Poll::Ready(permit) = poll_once(&mut a) else { panic!("first acquire must succeed") };
        let mut b = sem.acquire();
        let mut c = sem.acquire();
        assert!(poll_once(&mut b).is_pending());
        assert!(poll_once(&mut c).is_pending());
        drop(permit);
        // c may not overtake b.
        assert!(poll_once(&mut c).is_pending());
        let Poll::Ready(pb) = poll_once(&mut b) else { panic!("b is first in line") };
        drop(pb);
        assert!(poll_once(&mut c).is_ready());
        assert_eq!(sem.available(), 1);
    }

    #[test]
    fn dropped_waiter_leaves_the_queue() {
        let sem = Semaphore::new(1);
        let Poll::Ready(permit) = poll_once(&mut sem.acquire()) else { panic!() };
        let mut b = sem.acquire();
        let mut c = sem.acquire();
        assert!(poll_once(&mut b).is_pending());
        assert!(poll_once(&mut c).is_pending());
        drop(b);
        drop(permit);
        assert!(poll_once(&mut c).is_ready());
    }

    #[test]
    fn weighted_acquires_are_fifo_and_partial_releases_wake_the_next() {
        let sem = Semaphore::new(100);
        let Poll::Ready(mut big) = poll_once(&mut sem.acquire_many(80)) else { panic!("fits") };
        let mut wants_50 = sem.acquire_many(50);
        let mut wants_10 = sem.acquire_many(10);
        assert!(poll_once(&mut wants_50).is_pending());
        // 20 are free, but the 10 may not overtake the 50 waiting before it.
        assert!(poll_once(&mut wants_10).is_pending());
        let part = big.split(30);
        assert_eq!((big.count(), part.count()), (50, 30));
        drop(part);
        let Poll::Ready(fifty) = poll_once(&mut wants_50) else { panic!("30 + 20 free") };
        assert!(poll_once(&mut wants_10).is_pending());
        big.shrink_to(40);
        let Poll::Ready(ten) = poll_once(&mut wants_10) else { panic!("40 + 10 free") };
        assert_eq!(sem.available(), 0);
        let mut empty = sem.empty_permit();
        empty.merge(fifty);
        assert_eq!(empty.count(), 50);
        drop((big, empty));
        assert_eq!(sem.available(), 90, "only the ten are still held");
        drop(ten);
        assert_eq!(sem.available(), 100);
    }

    #[test]
    fn an_acquire_larger_than_the_semaphore_is_clamped() {
        let sem = Semaphore::new(10);
        let Poll::Ready(p) = poll_once(&mut sem.acquire_many(1000)) else { panic!("clamped to 10") };
        assert_eq!(p.count(), 10);
    }

    #[test]
    fn notify_keeps_one_notification() {
        let n = Notify::default();
        n.notify();
        n.notify();
        assert!(poll_once(&mut n.notified()).is_ready());
        assert!(poll_once(&mut n.notified()).is_pending());
    }
}
