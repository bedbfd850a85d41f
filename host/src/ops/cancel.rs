//! A request to stop long work, sent by whoever started it (a pipeline
//! step's timeout, Ctrl-C during a run). Work that must not be cut off
//! mid-way (a deploy, which undoes what it did) looks at it between its own
//! steps; everything else is simply dropped.

use tokio::sync::watch;

/// What cancelled work says went wrong.
pub const CANCELLED: &str = "cancelled before it finished (a timeout or Ctrl-C)";

/// The side that asks: `cancel` reaches every clone of its [`Cancel`].
pub struct Canceller(watch::Sender<bool>);

/// The side that looks.
#[derive(Clone)]
pub struct Cancel(watch::Receiver<bool>);

/// A canceller and what it reaches.
pub fn pair() -> (Canceller, Cancel) {
    let (ask, look) = watch::channel(false);
    (Canceller(ask), Cancel(look))
}

impl Canceller {
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

impl Cancel {
    /// One nobody can send: for work started where nothing cancels it (the CLI verbs).
    pub fn never() -> Cancel {
        pair().1
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Err, saying so, once cancelled: for work to look at between its steps.
    pub fn check(&self) -> Result<(), String> {
        if self.is_cancelled() { Err(CANCELLED.to_string()) } else { Ok(()) }
    }

    /// Returns once cancelled; never, when the canceller is gone without asking.
    pub async fn cancelled(&self) {
        let mut look = self.0.clone();
        if look.wait_for(|asked| *asked).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test]
    async fn a_cancel_reaches_every_clone_and_never_never_fires() {
        let (canceller, cancel) = super::pair();
        let other = cancel.clone();
        assert!(!other.is_cancelled());
        canceller.cancel();
        other.cancelled().await;
        assert!(cancel.is_cancelled());
        let never = super::Cancel::never();
        assert!(tokio::time::timeout(Duration::from_millis(50), never.cancelled()).await.is_err());
    }
}
