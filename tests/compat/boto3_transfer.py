#!/usr/bin/env python3
"""boto3 against the store: the transfer manager at its default settings.

Used by clients.sh. Endpoint and keys come from S3_ENDPOINT,
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.

    boto3_transfer.py [--no-checksums] make-bucket BUCKET
    boto3_transfer.py [--no-checksums] upload FILE BUCKET KEY
    boto3_transfer.py [--no-checksums] download BUCKET KEY FILE
    boto3_transfer.py [--no-checksums] upload-dir DIR BUCKET PREFIX
    boto3_transfer.py [--no-checksums] download-dir BUCKET PREFIX DIR
    boto3_transfer.py [--no-checksums] head BUCKET KEY      # prints "SIZE ETAG"
    boto3_transfer.py [--no-checksums] remove-bucket BUCKET # objects, then bucket

--no-checksums sets request_checksum_calculation="when_required", the
setting that turns off the CRC trailers newer botocore sends by default.
Any error is printed and exits non-zero.
"""

import os
import sys
from pathlib import Path

import boto3
import botocore
from botocore.config import Config


def client(no_checksums):
    kwargs = {}
    if no_checksums:
        kwargs["request_checksum_calculation"] = "when_required"
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(**kwargs),
    )


def main(argv):
    no_checksums = False
    if argv and argv[0] == "--no-checksums":
        no_checksums = True
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    s3 = client(no_checksums)
    cmd, args = argv[0], argv[1:]
    if cmd == "make-bucket":
        (bucket,) = args
        s3.create_bucket(Bucket=bucket)
    elif cmd == "upload":
        path, bucket, key = args
        # upload_file goes through s3transfer: multipart above 8 MiB, parts
        # sent concurrently, exactly as an application calling it would.
        s3.upload_file(path, bucket, key)
    elif cmd == "download":
        bucket, key, path = args
        s3.download_file(bucket, key, path)
    elif cmd == "upload-dir":
        # One client, one file after another in name order, so connections
        # are reused from one upload to the next as in any application.
        root, bucket, prefix = args
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            s3.upload_file(str(path), bucket, prefix + path.relative_to(root).as_posix())
    elif cmd == "download-dir":
        bucket, prefix, root = args
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                dest = Path(root) / obj["Key"][len(prefix):]
                dest.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(dest))
    elif cmd == "head":
        bucket, key = args
        head = s3.head_object(Bucket=bucket, Key=key)
        print(head["ContentLength"], head["ETag"])
    elif cmd == "remove-bucket":
        (bucket,) = args
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                out = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
                if out.get("Errors"):
                    print(f"delete_objects errors: {out['Errors']}", file=sys.stderr)
                    return 1
        s3.delete_bucket(Bucket=bucket)
    else:
        print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except botocore.exceptions.BotoCoreError as e:
        print(f"boto3 error: {e!r}", file=sys.stderr)
        sys.exit(1)
    except botocore.exceptions.ClientError as e:
        print(f"boto3 error: {e.response.get('Error')} "
              f"(HTTP {e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}): {e}",
              file=sys.stderr)
        sys.exit(1)
