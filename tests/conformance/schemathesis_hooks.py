"""Schemathesis hooks of tests/conformance/schemathesis.sh (SCHEMATHESIS_HOOKS).

The streamed load routes take bodies that schemathesis has no serializer for: NDJSON is
sent like plain text and Parquet like any binary body, so those routes are fuzzed too (a
random body must be refused with a documented 4xx, never a 5xx).
"""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
schemathesis.serializer.alias("application/vnd.apache.parquet", "application/octet-stream")
