"""keyward_fuzzer: one libFuzzer target, built two ways (tests/fuzz/README)."""

load("@rules_cc//cc:defs.bzl", "cc_test")

def keyward_fuzzer(name, deps, corpus = None):
    """Makes cc_test `name` from `name`.cc.

    Normal build: linked with replay_main.cc, it replays corpus/<corpus>/
    (default: `name` without "_fuzzer") once, so `bazel test` catches
    regressions. With --config=fuzz (--define=fuzz=1): linked with
    libFuzzer's main under ASan+UBSan, for tools/fuzz.
    """
    corpus = corpus or name[:-len("_fuzzer")]
    cc_test(
        name = name,
        srcs = [name + ".cc"] + select({
            "//tests/fuzz:fuzzing": [],
            "//conditions:default": ["replay_main.cc"],
        }),
        linkopts = select({
            "//tests/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = native.glob(["corpus/" + corpus + "/**"]),
        args = ["tests/fuzz/corpus/" + corpus],
        deps = deps + ["//tests/fuzz:fuzz_util"],
    )
