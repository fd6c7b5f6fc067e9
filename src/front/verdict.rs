//! Whether the front let a request in, as a positive signal recorded by s3s's own checks for
//! the parts of the front that act outside them: the CORS follow-up and the redaction of
//! anonymous answers (after s3s answered, on the HTTP layer), and the refusal of an unsigned
//! POST form (before s3s reads the form's file).
//!
//! s3s verifies a request's signature and access inside its service and hands the HTTP layer
//! only the answer. So the layer gives every request a fresh [`Verdict`], both as a request
//! extension — seen by s3s's access hooks (`S3Access::check`, `S3Route::check_access`), which
//! s3s runs after the signature check — and as a task-local — seen by the `S3Auth` key lookup,
//! which s3s calls only for a signed request, before it verifies that signature (s3s 0.14,
//! `src/ops/signature.rs`; a signature that does not match ends the request there).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

tokio::task_local! {
    static CURRENT: Arc<Verdict>;
}

/// Who a request was let in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// It carried a valid signature of a front user.
    Signed,
    /// It carried none, and the front lets anonymous requests through (`allow_anonymous`).
    Anonymous,
}

const SIGNED: u8 = 1;
const ANONYMOUS: u8 = 2;

/// What the front's checks recorded about one request.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The `S3Auth` lookup of a signing key ran (the request is signed; s3s refuses it if
    /// the signature then does not match).
    key_looked_up: AtomicBool,
    /// Set by an access check that let the request in.
    admitted: AtomicU8,
}

impl Verdict {
    /// Runs `fut` (the s3s service's call) with `self` as the current request's verdict.
    pub fn scope<F: Future>(self: Arc<Self>, fut: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, fut)
    }

    /// Notes, for the current request, that s3s asked for a signing key.
    pub(super) fn note_key_lookup() {
        let _ = CURRENT.try_with(|v| v.key_looked_up.store(true, Ordering::SeqCst));
    }

    /// Whether the current request is signed, as far as s3s has checked: true once its key
    /// was looked up. Read after s3s's signature check, it means the signature matched.
    pub(super) fn current_is_signed() -> bool {
        CURRENT
            .try_with(|v| v.key_looked_up.load(Ordering::SeqCst))
            .unwrap_or(false)
    }

    /// Records, on the verdict the request carries, that an access check let it in.
    pub(super) fn admit(extensions: &http::Extensions, signed: bool) {
        if let Some(v) = extensions.get::<Arc<Verdict>>() {
            let who = if signed { SIGNED } else { ANONYMOUS };
            v.admitted.store(who, Ordering::SeqCst);
        }
    }

    /// Who the request was let in as; `None` if no access check let it in (refused, or
    /// answered by s3s before any check).
    pub fn admitted(&self) -> Option<Caller> {
        match self.admitted.load(Ordering::SeqCst) {
            SIGNED => Some(Caller::Signed),
            ANONYMOUS => Some(Caller::Anonymous),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_is_admitted_only_by_a_check() {
        let v = Arc::new(Verdict::default());
        assert_eq!(v.admitted(), None);
        let mut ext = http::Extensions::new();
        Verdict::admit(&ext, true);
        assert_eq!(v.admitted(), None, "another request's extensions");
        ext.insert(v.clone());
        Verdict::admit(&ext, false);
        assert_eq!(v.admitted(), Some(Caller::Anonymous));
        Verdict::admit(&ext, true);
        assert_eq!(v.admitted(), Some(Caller::Signed));
    }

    #[tokio::test]
    async fn a_key_lookup_marks_only_its_own_request_signed() {
        let v = Arc::new(Verdict::default());
        assert!(!Verdict::current_is_signed());
        Verdict::note_key_lookup(); // outside any request: nothing to mark
        let signed = v
            .clone()
            .scope(async {
                let before = Verdict::current_is_signed();
                Verdict::note_key_lookup();
                (before, Verdict::current_is_signed())
            })
            .await;
        assert_eq!(signed, (false, true));
        let other = Arc::new(Verdict::default());
        assert!(
            !other
                .clone()
                .scope(async { Verdict::current_is_signed() })
                .await
        );
    }
}
