"""keyward_proto: C++ messages + gRPC stubs and Python messages + stubs from
.proto files, with the system protoc and gRPC plugins (Debian's
protobuf-compiler and protobuf-compiler-grpc).

    keyward_proto(
        name = "keyward",
        srcs = glob(["keyward/v1/*.proto"]),
    )

makes `:keyward_cc` (a cc_library; include "keyward/v1/foo.pb.h" and
"keyward/v1/foo.grpc.pb.h") and `:keyward_py` (a filegroup of foo_pb2.py and
foo_pb2_grpc.py). Sources in another repository pass `root`, the directory
their import paths are relative to (e.g. "external/grpc_proto").
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

_PROTOC = "/usr/bin/protoc"
_CPP_PLUGIN = "/usr/bin/grpc_cpp_plugin"
_PY_PLUGIN = "/usr/bin/grpc_python_plugin"

def _import_path(src):
    # "keyward/v1/a.proto" or "@repo//:grpc/x/a.proto" -> the path protoc sees.
    return src.split(":")[-1] if src.startswith("@") else src

def keyward_proto(name, srcs, deps = [], root = None, visibility = None):
    paths = [_import_path(s) for s in srcs]
    stems = [p[:-len(".proto")] for p in paths]
    dep_srcs = [d + "_srcs" for d in deps]
    includes = "-I%s -I/usr/include" % (root or native.package_name())
    if root:
        includes += " -I" + native.package_name()

    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + dep_srcs,
        visibility = visibility,
    )

    cc_outs = []
    for s in stems:
        cc_outs += [s + ".pb.h", s + ".pb.cc", s + ".grpc.pb.h", s + ".grpc.pb.cc"]
    native.genrule(
        name = name + "_cc_gen",
        srcs = srcs + dep_srcs,
        outs = cc_outs,
        cmd = " ".join([
            _PROTOC,
            includes,
            "--cpp_out=$(GENDIR)/" + native.package_name(),
            "--grpc_out=$(GENDIR)/" + native.package_name(),
            "--plugin=protoc-gen-grpc=" + _CPP_PLUGIN,
        ] + ["$(location %s)" % s for s in srcs]),
    )
    cc_library(
        name = name + "_cc",
        srcs = [o for o in cc_outs if o.endswith(".cc")],
        hdrs = [o for o in cc_outs if o.endswith(".h")],
        includes = ["."],
        copts = ["-w"],
        # Register every descriptor, so reflection and the UNIMPLEMENTED
        # fallback know the whole contract even where no code names it.
        alwayslink = True,
        deps = [d + "_cc" for d in deps] + [
            "//third_party:grpc",
            "//third_party:protobuf",
        ],
        visibility = visibility,
    )

    py_outs = []
    for s in stems:
        py_outs += [s + "_pb2.py", s + "_pb2_grpc.py"]
    native.genrule(
        name = name + "_py_gen",
        srcs = srcs + dep_srcs,
        outs = py_outs,
        cmd = " ".join([
            _PROTOC,
            includes,
            "--python_out=$(GENDIR)/" + native.package_name(),
            "--grpc_python_out=$(GENDIR)/" + native.package_name(),
            "--plugin=protoc-gen-grpc_python=" + _PY_PLUGIN,
        ] + ["$(location %s)" % s for s in srcs]),
    )
    native.filegroup(
        name = name + "_py",
        srcs = py_outs,
        visibility = visibility,
    )
