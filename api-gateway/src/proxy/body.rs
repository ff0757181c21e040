//! The client's request body on its way upstream, watched for the client's faults: too large,
//! stalled (no byte within the idle timeout, or not finished by the deadline), or broken off.
//! A body fault is the client's doing and must never count against the upstream.

use super::error::GatewayError;
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyState {
    /// The upstream has the last chunk and has not asked for more yet.
    Flowing,
    /// Waiting for the client to send more.
    WaitingOnClient,
    Done,
    TooLarge,
    Stalled,
    Broken,
}

/// Read limits for one body.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub idle: Duration,
    pub total: Duration,
}

/// Shared between the stream handed to the upstream client and the code that classifies a
/// failed send.
#[derive(Clone)]
pub struct BodyWatch(Rc<Cell<BodyState>>);

impl BodyWatch {
    pub fn new() -> Self {
        BodyWatch(Rc::new(Cell::new(BodyState::Flowing)))
    }

    /// The client's fault behind a failed send, if it was the client's. An upstream timeout
    /// while the gateway was still waiting for the client's bytes is the client's slowness.
    pub fn client_fault(
        &self,
        upstream_timed_out: bool,
        limits: &BodyLimits,
    ) -> Option<GatewayError> {
        match self.0.get() {
            BodyState::TooLarge => Some(GatewayError::PayloadTooLarge {
                limit: limits.max_bytes,
            }),
            BodyState::Stalled => Some(GatewayError::BodyTimeout),
            BodyState::WaitingOnClient if upstream_timed_out => Some(GatewayError::BodyTimeout),
            BodyState::Broken => Some(GatewayError::BodyIncomplete),
            _ => None,
        }
    }

    pub fn stream(&self, payload: Payload, limits: BodyLimits) -> ClientBody {
        let now = Instant::now();
        ClientBody {
            payload,
            limits,
            seen: 0,
            deadline: now + limits.total,
            timer: Box::pin(tokio::time::sleep_until(
                (now + limits.idle).min(now + limits.total),
            )),
            state: self.0.clone(),
        }
    }
}

impl Default for BodyWatch {
    fn default() -> Self {
        Self::new()
    }
}

pub struct ClientBody {
    payload: Payload,
    limits: BodyLimits,
    seen: usize,
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
    state: Rc<Cell<BodyState>>,
}

impl ClientBody {
    fn fail(
        &self,
        state: BodyState,
        err: PayloadError,
    ) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.state.set(state);
        Poll::Ready(Some(Err(err)))
    }
}

impl Stream for ClientBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.payload).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len();
                if this.seen > this.limits.max_bytes {
                    return this.fail(BodyState::TooLarge, PayloadError::Overflow);
                }
                this.state.set(BodyState::Flowing);
                let idle_until = (Instant::now() + this.limits.idle).min(this.deadline);
                this.timer.as_mut().reset(idle_until);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let state = match e {
                    PayloadError::Overflow => BodyState::TooLarge,
                    _ => BodyState::Broken,
                };
                this.fail(state, e)
            }
            Poll::Ready(None) => {
                this.state.set(BodyState::Done);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    let err = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "request body read timed out",
                    );
                    return this.fail(BodyState::Stalled, PayloadError::Io(err));
                }
                this.state.set(BodyState::WaitingOnClient);
                Poll::Pending
            }
        }
    }
}
