"""The start guard: a Ray job cancelled while PENDING never runs its entrypoint.

Why: Ray's stop does not take a PENDING job off its queue. The stop is queued for the job's
supervisor actor; once the actor can start (CPUs free up, its runtime env is ready), Ray
runs the entrypoint and only then delivers the stop (measured 2/2: the entrypoint ran). A
stop sent before the supervisor exists is dropped (``{"stopped": false}``) and the job runs
to its end.

How: every entrypoint jobrelay submits starts with a short Python check (:data:`SOURCE`,
passed in the job's ``env_vars`` and run by the job's own ``python``) that asks the
cluster's GCS -- at ``RAY_ADDRESS``, which Ray gives every job on every node -- whether a
*cancel mark* for this submission exists.
:meth:`RayPlatform.cancel` writes that mark (a tiny GCS package, through the dashboard's
``PUT /api/packages/gcs/…``) before it asks Ray to stop a job that is still PENDING. So an
entrypoint that starts after the cancel sees the mark and exits with :data:`CANCELLED_EXIT`
without running; one that started before it was RUNNING when the cancel came, and Ray's
stop ends it as usual.

The mark is named after the submission id *and* the submit's nonce, so a later job that
reuses the id (after a delete) is not refused. Marks are never pinned, so Ray never
garbage-collects them: each cancel of a PENDING job leaves one key of ~80 bytes in the GCS
until the cluster restarts.

The check fails open: when it cannot ask the GCS (no ``python``, no ``grpc`` and no
``ray``, GCS unreachable) it prints one line and runs the entrypoint.
"""

from __future__ import annotations

import hashlib
import shlex

__all__ = [
    "CANCELLED_EXIT",
    "ENV",
    "MARK_BODY",
    "SOURCE",
    "guard_env",
    "guarded_entrypoint",
    "mark_name",
    "mark_uri",
]

CANCELLED_EXIT = 75
ENV = "JOBRELAY_RAY_GUARD"
MARK_PREFIX = "jobrelay_cancelled_"
MARK_BODY = b"cancelled by jobrelay before the entrypoint started\n"

# Runs as `python -c "$JOBRELAY_RAY_GUARD" <mark uri>`; its exit code 75 is CANCELLED_EXIT.
# Fast path: one raw gRPC call (InternalKVExists: key = field 1; reply exists = field 2,
# status = field 1, empty when OK) with grpcio, which ray[default] installs and which
# imports in ~0.1 s where `import ray` takes seconds. Anything unexpected (token auth,
# another reply shape, no grpc) falls back to Ray's own GCS client; an unreachable GCS
# does not (Ray's client would wait ~30 s more for it).
SOURCE = """import os,sys
k=sys.argv[1].encode();a=os.environ.get("RAY_ADDRESS","")
def fast():
 import grpc
 c=grpc.insecure_channel(a,options=[("grpc.enable_http_proxy",0)])
 try:r=c.unary_unary("/ray.rpc.InternalKVGcsService/InternalKVExists")(b"\\n"+bytes([len(k)])+k,timeout=10)
 finally:c.close()
 def v(i):
  n=s=0
  while 1:
   b=r[i];i+=1;n|=(b&127)<<s;s+=7
   if b<128:return n,i
 i=0;e=False
 while i<len(r):
  t,i=v(i);x,i=v(i)
  if t==16:e=x==1
  elif t==10 and x:raise ValueError("GCS status")
  elif t&7==2:i+=x
 return e
def slow():
 from ray._raylet import GcsClient
 return GcsClient(address=a).internal_kv_exists(k,None)
try:
 try:gone=fast()
 except Exception as x:
  if callable(getattr(x,"code",None)) and x.code().name in ("UNAVAILABLE","DEADLINE_EXCEEDED"):raise
  gone=slow()
except Exception as x:
 w=type(x).__name__;gone=False
 print("jobrelay: could not check for a cancel (%s); running the job"%w,file=sys.stderr)
if gone:
 print("jobrelay: this job was cancelled before its entrypoint started; not running it",
  file=sys.stderr);sys.exit(75)
"""


def mark_name(submission_id: str, nonce: str) -> str:
    """The GCS package name of one submission's cancel mark (URL- and URI-safe)."""
    digest = hashlib.sha256(f"{submission_id}\0{nonce}".encode()).hexdigest()[:32]
    return f"{MARK_PREFIX}{digest}.zip"


def mark_uri(submission_id: str, nonce: str) -> str:
    """The GCS key the guard looks up (Ray stores packages under their ``gcs://`` URI)."""
    return f"gcs://{mark_name(submission_id, nonce)}"


def guarded_entrypoint(entrypoint: str, uri: str) -> str:
    """``entrypoint`` behind the check; Ray runs it with ``/bin/sh -c``.

    The check's source comes from the job's environment (:data:`ENV`, see
    :func:`guard_env`), so the command Ray shows and logs stays one short line. The
    entrypoint is kept byte for byte after the check, so its shell syntax, quoting and
    exit code are unchanged; it runs in a child of that shell rather than replacing it.

    >>> guarded_entrypoint("echo hi", "gcs://m.zip")
    'python -c "$JOBRELAY_RAY_GUARD" gcs://m.zip; [ $? = 75 ] && exit 75; echo hi'
    """
    check = f'python -c "${ENV}" {shlex.quote(uri)}'
    return f"{check}; [ $? = {CANCELLED_EXIT} ] && exit {CANCELLED_EXIT}; {entrypoint}"


def guard_env() -> dict[str, str]:
    """The environment variable the guarded entrypoint runs (add it to ``env_vars``)."""
    return {ENV: SOURCE}
