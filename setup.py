"""The compiled fused step (src/softmaxreg/_fused_step.c), built where a C compiler exists.

Everything else lives in pyproject.toml. The extension is optional: without a compiler the
install still succeeds and the fused engine runs its PyTorch form (softmaxreg/kernel.py says
which one is in use). It is a plain shared library loaded with ctypes, not a Python module.
"""

import sys

from setuptools import Extension, setup

UNIX_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-std=c99"]

setup(
    ext_modules=[
        Extension(
            "softmaxreg._fused_step",
            ["src/softmaxreg/_fused_step.c"],
            extra_compile_args=[] if sys.platform == "win32" else UNIX_FLAGS,
            optional=True,
        )
    ]
)
