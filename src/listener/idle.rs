//! The idle clock of a body: time counts while the body's source has nothing to give (its poll
//! is pending) and stops as soon as it gives something. The S3 listener's request bodies
//! (`body.rs`) and the upstream's answer bodies (`upstream::bounds`) are cut off with it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

/// An idle clock over a body's polls.
pub struct IdleClock {
    idle: Duration,
    /// Armed while the reader waits for data.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleClock {
    pub fn new(idle: Duration) -> Self {
        Self { idle, sleep: None }
    }

    /// How long the source may give nothing.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Called when the source's poll was pending: ready once it has been pending for the idle
    /// time in a row (the clock then stops), else pending with a wake-up registered.
    pub fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let idle = self.idle;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.sleep = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Called when the source gave something: the clock stops.
    pub fn progressed(&mut self) {
        self.sleep = None;
    }
}
