#!/usr/bin/env python3
"""A minimal CRI client for rt's tests: speaks kubelet's protocol (runtime.v1) to a CRI socket.

    cri_client.py PROTO STUBS_DIR SOCKET

Generates the Python stubs for PROTO (k8s.io/cri-api's api.proto) into STUBS_DIR with grpcio-tools,
connects to the unix socket SOCKET, then answers one request per line on stdin with one line on
stdout, both JSON:

    {"method": "RunPodSandbox", "request": {...}}   (the request message in proto3's JSON mapping;
                                                     field names as in the .proto)
    {"response": {...}}  or  {"error": {"code": "NOT_FOUND", "details": "..."}}

Responses print every field (zero values too) under its .proto name; int64 values are strings, as
proto3's JSON mapping has them, and the bytes fields of a response (ExecSync's stdout and stderr)
are decoded as UTF-8 text. It ends at the end of its input.
"""
import json
import os
import sys


def main():
    proto, stubs, socket = sys.argv[1:4]
    from grpc_tools import protoc  # grpcio-tools

    os.makedirs(stubs, exist_ok=True)
    include = os.path.dirname(os.path.abspath(proto))
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(
        [
            "protoc",
            f"-I{include}",
            f"-I{well_known}",
            f"--python_out={stubs}",
            f"--grpc_python_out={stubs}",
            os.path.abspath(proto),
        ]
    )
    if rc != 0:
        sys.exit(f"cri_client: protoc failed on {proto} ({rc})")
    sys.path.insert(0, stubs)
    module = os.path.splitext(os.path.basename(proto))[0]
    pb2 = __import__(f"{module}_pb2")
    pb2_grpc = __import__(f"{module}_pb2_grpc")

    import grpc
    from google.protobuf import descriptor, json_format

    channel = grpc.insecure_channel(f"unix://{os.path.abspath(socket)}")
    methods = {}
    for name, service in pb2.DESCRIPTOR.services_by_name.items():
        stub = getattr(pb2_grpc, f"{name}Stub")(channel)
        for m in service.methods:
            methods[m.name] = (getattr(stub, m.name), getattr(pb2, m.input_type.name))

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        call, request_type = methods[req["method"]]
        request = json_format.ParseDict(req.get("request", {}), request_type())
        try:
            response = call(request, timeout=req.get("timeout", 60))
        except grpc.RpcError as e:
            out = {"error": {"code": e.code().name, "details": e.details()}}
        else:
            d = json_format.MessageToDict(
                response,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            for field, value in response.ListFields():
                if field.type == descriptor.FieldDescriptor.TYPE_BYTES:
                    d[field.name] = value.decode("utf-8", "replace")
            out = {"response": d}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
