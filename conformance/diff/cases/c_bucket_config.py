"""Bucket configuration subresources beyond the common ones (passthrough): request payment,
transfer acceleration, access logging, event notifications, metrics, replication."""
from .common import case


@case("bucketcfg.request-payment")
def _(t):
    b = t.bucket()
    t.call("get_bucket_request_payment", Bucket=b)
    t.call("put_bucket_request_payment", Bucket=b,
           RequestPaymentConfiguration={"Payer": "Requester"})
    t.call("get_bucket_request_payment", Bucket=b)


@case("bucketcfg.accelerate")
def _(t):
    b = t.bucket()
    t.call("get_bucket_accelerate_configuration", Bucket=b)
    t.call("put_bucket_accelerate_configuration", Bucket=b,
           AccelerateConfiguration={"Status": "Suspended"})
    t.call("get_bucket_accelerate_configuration", Bucket=b)


@case("bucketcfg.logging")
def _(t):
    b = t.bucket()
    logs = t.bucket("logs")
    t.call("get_bucket_logging", Bucket=b)
    t.call("put_bucket_logging", Bucket=b, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "access/"}})
    t.call("get_bucket_logging", Bucket=b)
    t.call("put_bucket_logging", Bucket=b, BucketLoggingStatus={})
    t.call("get_bucket_logging", Bucket=b)


@case("bucketcfg.notification-put-get")
def _(t):
    b = t.bucket()
    t.call("put_bucket_notification_configuration", Bucket=b, NotificationConfiguration={})
    t.call("get_bucket_notification_configuration", Bucket=b)


@case("bucketcfg.metrics")
def _(t):
    b = t.bucket()
    t.call("put_bucket_metrics_configuration", Bucket=b, Id="all",
           MetricsConfiguration={"Id": "all"})
    t.call("get_bucket_metrics_configuration", Bucket=b, Id="all")
    t.call("list_bucket_metrics_configurations", Bucket=b)
    t.call("delete_bucket_metrics_configuration", Bucket=b, Id="all")
    t.call("get_bucket_metrics_configuration", Bucket=b, Id="all", _expect_error=True)


@case("bucketcfg.replication-missing")
def _(t):
    b = t.bucket()
    t.call("get_bucket_replication", Bucket=b, _expect_error=True)
