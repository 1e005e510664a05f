//! Single-core async primitives: a FIFO [`Semaphore`] (with one permit, a
//! fair mutex: no task can barge past one already waiting) and a [`Notify`].
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
    waiters: VecDeque<(u64, Waker)>,
    next_id: u64,
}

impl SemState {
    fn wake_front(&mut self) {
        if self.permits > 0 {
            if let Some((_, waker)) = self.waiters.front() {
                waker.wake_by_ref();
            }
        }
    }
}

/// A permit of a [`Semaphore`]; released when dropped.
pub struct Permit {
    state: Rc<RefCell<SemState>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.state.borrow_mut();
        state.permits += 1;
        state.wake_front();
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits (at least one).
    pub fn new(permits: usize) -> Self {
        let state = SemState { permits: permits.max(1), waiters: VecDeque::new(), next_id: 0 };
        Semaphore { state: Rc::new(RefCell::new(state)) }
    }

    /// Waits for a permit.
    pub fn acquire(&self) -> Acquire {
        Acquire { state: self.state.clone(), id: None }
    }

    /// Permits available right now.
    pub fn available(&self) -> usize {
        self.state.borrow().permits
    }
}

/// Future of [`Semaphore::acquire`].
pub struct Acquire {
    state: Rc<RefCell<SemState>>,
    id: Option<u64>,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = &mut *self;
        let mut state = this.state.borrow_mut();
        let first = match this.id {
            None => state.waiters.is_empty(),
            Some(id) => state.waiters.front().is_some_and(|(front, _)| *front == id),
        };
        if first && state.permits > 0 {
            state.permits -= 1;
            if this.id.take().is_some() {
                state.waiters.pop_front();
            }
            // More permits may be free for the next waiter.
            state.wake_front();
            drop(state);
            return Poll::Ready(Permit { state: this.state.clone() });
        }
        match this.id {
            Some(id) => {
                if let Some(entry) = state.waiters.iter_mut().find(|(w, _)| *w == id) {
                    entry.1.clone_from(cx.waker());
                }
            }
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.waiters.push_back((id, cx.waker().clone()));
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
            state.waiters.retain(|(w, _)| *w != id);
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
    fn notify_keeps_one_notification() {
        let n = Notify::default();
        n.notify();
        n.notify();
        assert!(poll_once(&mut n.notified()).is_ready());
        assert!(poll_once(&mut n.notified()).is_pending());
    }
}
