"""Drives a live deployment through Python clients generated from openapi/*.json.

The control-plane client creates and lists graphs; the data-plane client, generated from
the flat (single-mode) document, talks to one graph of a multi-mode worker by taking
`<worker>/graphs/<graph_id>` as its base URL. Exits non-zero on any surprise.

usage: client_demo.py CONTROL_PLANE_URL DATA_PLANE_URL TOKEN STORAGE_DIR
"""

import json
import sys

from cp_client import AuthenticatedClient as CpClient
from cp_client.api.graphs import graphs_create, graphs_list
from cp_client.models import CreateGraphRequest, GraphInfo, GraphPolicySpec, SchemaSource
from dp_client import AuthenticatedClient as DpClient
from dp_client.api.graph import change, export, ingest, read, schema_get, snapshot_get
from dp_client.models import (
    ChangeRequest,
    ChangeRequestParamsType0,
    ChangeResponse,
    ErrorBody,
    ExportRequest,
    IngestMode,
    IngestRequest,
    IngestResponse,
    ReadRequest,
    ReadRequestParamsType0,
    ReadResponse,
    SchemaResponse,
    SnapshotResponse,
)

SCHEMA = """
node Person { name: String @key  age: I32? }
edge Knows: Person -> Person
"""
POLICY = "version: 1\nrules:\n  - id: all\n    allow: { actors: any, actions: [read, export, change, schema_apply, branch_create, branch_delete, branch_merge] }\n"
DATA = "\n".join(
    json.dumps(row)
    for row in [
        {"type": "Person", "data": {"name": "Ada", "age": 36}},
        {"type": "Person", "data": {"name": "Grace", "age": 45}},
        {"type": "Person", "data": {"name": "Linus", "age": 28}},
        {"edge": "Knows", "from": "Ada", "to": "Grace"},
        {"edge": "Knows", "from": "Ada", "to": "Linus"},
    ]
)
FRIENDS = (
    "query friends($name: String) { match { $p: Person { name: $name } $p knows $f } "
    "return { $f.name, $f.age } order { $f.name } }"
)
ADD = "query add($name: String, $age: I32) { insert Person { name: $name, age: $age } insert Knows { from: \"Ada\", to: $name } }"


def expect(value, kind, what):
    if not isinstance(value, kind):
        raise SystemExit(f"{what}: expected {kind.__name__}, got {value!r}")
    return value


def params(model, values):
    p = model()
    p.additional_properties = values
    return p


def main():
    cp_url, dp_url, token, storage = sys.argv[1:5]
    cp = CpClient(base_url=cp_url, token=token, raise_on_unexpected_status=True)

    created = graphs_create.sync(
        client=cp,
        body=CreateGraphRequest(
            graph_id="client-demo",
            uri=f"{storage}/client-demo.omni",
            schema=SchemaSource(source=SCHEMA),
            policy=GraphPolicySpec(content=POLICY),
        ),
    )
    expect(created, GraphInfo, "graphs_create")
    listed = graphs_list.sync(client=cp)
    ids = [g.graph_id for g in listed.graphs]
    assert "client-demo" in ids, ids
    print(f"control plane: created client-demo, graphs now {ids}")

    # A client for one graph of the multi-mode worker.
    dp = DpClient(base_url=f"{dp_url}/graphs/client-demo", token=token, raise_on_unexpected_status=True)
    loaded = expect(
        ingest.sync(client=dp, body=IngestRequest(data=DATA, mode=IngestMode.OVERWRITE)),
        IngestResponse,
        "ingest",
    )
    rows = {t.table_key: t.rows_loaded for t in loaded.tables}
    assert rows == {"node:Person": 3, "edge:Knows": 2}, rows

    answer = expect(
        read.sync(client=dp, body=ReadRequest(query_source=FRIENDS, params=params(ReadRequestParamsType0, {"name": "Ada"}))),
        ReadResponse,
        "read",
    )
    names = [r.additional_properties for r in answer.rows]
    assert [r["f.name"] for r in names] == ["Grace", "Linus"], names
    before = answer.target.manifest_version

    changed = expect(
        change.sync(client=dp, body=ChangeRequest(query_source=ADD, params=params(ChangeRequestParamsType0, {"name": "Barbara", "age": 52}))),
        ChangeResponse,
        "change",
    )
    assert (changed.affected_nodes, changed.affected_edges) == (1, 1), changed

    answer = read.sync(client=dp, body=ReadRequest(query_source=FRIENDS, params=params(ReadRequestParamsType0, {"name": "Ada"})))
    assert [r.additional_properties["f.name"] for r in answer.rows] == ["Barbara", "Grace", "Linus"], answer
    assert answer.target.manifest_version > before

    # Errors come back as the typed envelope.
    bad = read.sync(client=dp, body=ReadRequest(query_source="query q() { match { $x: Nope } return { $x } }"))
    expect(bad, ErrorBody, "read of an unknown type")
    assert bad.code.value == "bad_request", bad

    snap = expect(snapshot_get.sync(client=dp), SnapshotResponse, "snapshot_get")
    counts = {t.table_key: t.row_count for t in snap.tables}
    assert counts["node:Person"] == 4 and counts["edge:Knows"] == 3, counts
    schema = expect(schema_get.sync(client=dp), SchemaResponse, "schema_get")
    assert "node Person" in schema.schema_source

    exported = export.sync_detailed(client=dp, body=ExportRequest(types=["Person"]))
    assert exported.status_code == 200, exported
    lines = [json.loads(line) for line in exported.content.decode().splitlines() if line]
    assert sorted(l["data"]["name"] for l in lines) == ["Ada", "Barbara", "Grace", "Linus"], lines

    print(
        f"data plane: loaded {rows}, read {len(answer.rows)} friends of Ada at manifest "
        f"v{answer.target.manifest_version}, snapshot {counts}, exported {len(lines)} people"
    )
    print("generated client: ok")


if __name__ == "__main__":
    main()
