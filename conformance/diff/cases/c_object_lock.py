"""Object Lock (passthrough): lock-enabled buckets, default retention, per-object retention
and legal hold, and deletes they refuse. GOVERNANCE mode only, so the buckets can be emptied
(`BypassGovernanceRetention`) when a case ends."""
import datetime

from .common import case, text

# Far enough ahead to still hold when the case's last step runs, and the same on both sides
# (compared values are normalized, dates are compared as given).
RETAIN_UNTIL = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)


def lock_bucket(t, logical="b"):
    b = t.name(logical)
    t.call("create_bucket", Bucket=b, ObjectLockEnabledForBucket=True)
    return b


@case("lock.bucket-configuration")
def _(t):
    b = lock_bucket(t)
    t.call("get_bucket_versioning", Bucket=b)
    t.call("get_object_lock_configuration", Bucket=b)
    t.call("put_object_lock_configuration", Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })
    t.call("get_object_lock_configuration", Bucket=b)


@case("lock.not-enabled")
def _(t):
    b = t.bucket()
    t.call("get_object_lock_configuration", Bucket=b, _expect_error=True)
    t.call("put_object", Bucket=b, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
           ObjectLockRetainUntilDate=RETAIN_UNTIL, _expect_error=True)
    t.call("put_object_legal_hold", Bucket=b, Key="k", LegalHold={"Status": "ON"},
           _expect_error=True)


@case("lock.put-with-retention-headers")
def _(t):
    b = lock_bucket(t)
    r = t.call("put_object", Bucket=b, Key="k", Body=text(10), ObjectLockMode="GOVERNANCE",
               ObjectLockRetainUntilDate=RETAIN_UNTIL, ObjectLockLegalHoldStatus="OFF")
    t.call("head_object", Bucket=b, Key="k",
           _fields=["ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus"])
    t.call("get_object_retention", Bucket=b, Key="k")
    if r:
        t.call("delete_object", Bucket=b, Key="k", VersionId=r["VersionId"], _expect_error=True)
        t.call("delete_object", Bucket=b, Key="k", VersionId=r["VersionId"],
               BypassGovernanceRetention=True)


@case("lock.retention-set-and-read")
def _(t):
    b = lock_bucket(t)
    r = t.call("put_object", Bucket=b, Key="k", Body=b"data")
    t.call("get_object_retention", Bucket=b, Key="k", _expect_error=True)
    t.call("put_object_retention", Bucket=b, Key="k",
           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": RETAIN_UNTIL})
    t.call("get_object_retention", Bucket=b, Key="k")
    if r:
        t.call("get_object_retention", Bucket=b, Key="k", VersionId=r["VersionId"])
        t.call("delete_object", Bucket=b, Key="k", VersionId=r["VersionId"], _expect_error=True)
    t.call("get_object", Bucket=b, Key="k")


@case("lock.legal-hold")
def _(t):
    b = lock_bucket(t)
    r = t.call("put_object", Bucket=b, Key="k", Body=b"held")
    t.call("put_object_legal_hold", Bucket=b, Key="k", LegalHold={"Status": "ON"})
    t.call("get_object_legal_hold", Bucket=b, Key="k")
    if r:
        t.call("delete_object", Bucket=b, Key="k", VersionId=r["VersionId"], _expect_error=True)
    t.call("put_object_legal_hold", Bucket=b, Key="k", LegalHold={"Status": "OFF"})
    t.call("get_object_legal_hold", Bucket=b, Key="k")
    if r:
        t.call("delete_object", Bucket=b, Key="k", VersionId=r["VersionId"])
    t.call("list_object_versions", Bucket=b)


@case("lock.delete-without-version-adds-marker")
def _(t):
    b = lock_bucket(t)
    t.call("put_object", Bucket=b, Key="k", Body=b"data", ObjectLockMode="GOVERNANCE",
           ObjectLockRetainUntilDate=RETAIN_UNTIL)
    t.call("delete_object", Bucket=b, Key="k")
    t.call("get_object", Bucket=b, Key="k", _expect_error=True)
    t.call("list_object_versions", Bucket=b)
