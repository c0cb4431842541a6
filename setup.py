"""The compiled fused step (src/softmaxreg/kernel/_fused_step.c), built where a C compiler exists.

Everything else lives in pyproject.toml. The library is optional: without a compiler the
install still succeeds and the fused engine runs its PyTorch form (softmaxreg.kernel says which
one is in use). It is a plain shared library loaded with ctypes, not a Python extension: it
needs no Python headers, exports no PyInit function and is named _fused_step.so (.dylib, .dll)
without an interpreter tag, since it works with any Python.
"""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

GCC_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-std=c99", "-fvisibility=hidden"]
MSVC_FLAGS = ["/O2", "/fp:fast"]


class BuildPlainLibrary(build_ext):
    """build_ext for a library that Python does not import."""

    def get_ext_filename(self, fullname):
        suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
        return fullname.replace(".", "/") + suffix

    def get_export_symbols(self, ext):
        return ext.export_symbols  # not PyInit_<name>: the library exports its own functions

    def build_extension(self, ext):
        msvc = self.compiler.compiler_type == "msvc"
        ext.extra_compile_args = MSVC_FLAGS if msvc else GCC_FLAGS
        super().build_extension(ext)


setup(
    ext_modules=[
        Extension(
            "softmaxreg.kernel._fused_step",
            ["src/softmaxreg/kernel/_fused_step.c"],
            export_symbols=[
                "softmaxreg_fused_step",
                "softmaxreg_fused_step_f32",
                "softmaxreg_fused_step_abi",
                "softmaxreg_fused_step_workspace",
            ],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildPlainLibrary},
)
