//! The admin API: token-protected JSON over HTTP for bucket properties, buckets and credentials.
