//! Upstream S3 clients: what shapes one ([`UpstreamKey`]), the cache of them, region lookup and
//! the mapping of upstream failures to S3 errors.
