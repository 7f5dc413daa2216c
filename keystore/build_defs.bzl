"""The keystore's one-header libraries and their gtest tests.

Most targets under keystore/ are one header with its .cc (STYLE.md: one small
cc_library per header) and one test source beside it. These macros spell that
shape once:

    keystore_library(
        name = "mac",
        public = True,
        deps = [":evp_util"],
    )

makes cc_library `mac` from mac.cc and mac.h (`srcs`/`hdrs` override them;
`srcs = []` for a header-only library), visible to KEYSTORE_MODULE_USERS when
`public`, and

    keystore_test(name = "mac_test", deps = [":mac"])

makes cc_test `mac_test` from mac_test.cc, linked with gtest_main. Both add
the dependencies every target of their package uses (_PACKAGE_DEPS).
"""

load("@rules_cc//cc:defs.bzl", "cc_library", "cc_test")

# The packages that may use the keystore's public modules (keystore/crypto,
# keystore/jose): the visibility of their public libraries.
KEYSTORE_MODULE_USERS = [
    "//daemon:__subpackages__",
    "//keystore:__subpackages__",
    "//tests:__subpackages__",
    "//tools:__subpackages__",
]

# What every library and test of a package uses.
_PACKAGE_DEPS = {
    "keystore/crypto": [
        "//third_party:crypto",
        "//third_party/absl:status",
    ],
    "keystore/jose": ["//third_party/absl:status"],
}

def _with_package_deps(deps):
    base = _PACKAGE_DEPS.get(native.package_name(), [])
    return deps + [d for d in base if d not in deps]

def keystore_library(name, deps = [], srcs = None, hdrs = None, public = False, **kwargs):
    if public:
        kwargs["visibility"] = KEYSTORE_MODULE_USERS
    cc_library(
        name = name,
        srcs = [name + ".cc"] if srcs == None else srcs,
        hdrs = [name + ".h"] if hdrs == None else hdrs,
        deps = _with_package_deps(deps),
        **kwargs
    )

def keystore_test(name, deps = [], srcs = None, **kwargs):
    cc_test(
        name = name,
        srcs = [name + ".cc"] if srcs == None else srcs,
        deps = _with_package_deps(deps) + ["//third_party:gtest_main"],
        **kwargs
    )
