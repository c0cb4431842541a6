"""What each data set is, where a copy of it lives, and how to fetch one.

Each data set's facts (file names, payload checksums, classes, mirrors, system copies) are data
on a `DatasetSpec`; variants change only the data (the torchvision pattern). Checksums are of the
*decompressed* file, because Debian recompressed the .gz files it ships: their bytes differ from
upstream while the payload is identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, DataError, DatasetNotFound

SPLITS = ("train", "test")
KINDS = ("images", "labels")


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a data set, by its upstream (gzip) name."""

    name: str
    sha256: str | None = None  # of the decompressed file, header included
    size: int | None = None  # decompressed bytes
    gz_md5: str | None = None  # of upstream's .gz, checked on download

    @property
    def raw_name(self) -> str:
        return self.name.removesuffix(".gz")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    classes: tuple[str, ...]
    files: dict[tuple[str, str], FileSpec]  # (split, kind) -> file
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    image_shape: tuple[int, int] | None = (28, 28)
    homepage: str = ""
    licence: str = ""
    checksummed: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checksummed", all(f.sha256 for f in self.files.values()))

    def file(self, split: str, kind: str) -> FileSpec:
        return self.files[(split, kind)]


def _idx_files(**checks: tuple[str | None, int | None, str | None]) -> dict:
    names = {
        ("train", "images"): "train-images-idx3-ubyte.gz",
        ("train", "labels"): "train-labels-idx1-ubyte.gz",
        ("test", "images"): "t10k-images-idx3-ubyte.gz",
        ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
    }
    out = {}
    for key, name in names.items():
        sha, size, md5 = checks.get(f"{key[0]}_{key[1]}", (None, None, None))
        out[key] = FileSpec(name, sha, size, md5)
    return out


FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    files=_idx_files(
        train_images=(
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            47040016,
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ),
        train_labels=(
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            60008,
            "25c81989df183df01b3e8a0aad5dffbe",
        ),
        test_images=(
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            7840016,
            "bef4ecab320f06d8554ea6380940ec79",
        ),
        test_labels=(
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            10008,
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    licence="MIT",
)

# MNIST's payload checksums are not recorded here (no verified copy was at hand); its files are
# checked against upstream's .gz md5 when downloaded and by size and structure otherwise.
MNIST = DatasetSpec(
    name="mnist",
    classes=tuple(str(d) for d in range(10)),
    files=_idx_files(
        train_images=(None, 47040016, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        train_labels=(None, 60008, "d53e105ee54ea40749a09fcbcd1e9432"),
        test_images=(None, 7840016, "9fb629c4189551a2d022fa330f9573f3"),
        test_labels=(None, 10008, "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    homepage="http://yann.lecun.com/exdb/mnist/",
)

# Any folder holding the four files in the same layout: classes come from classes.txt (or the
# labels), the image size from the files.
IDX = DatasetSpec(name="idx", classes=(), files=_idx_files(), image_shape=None)

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (FASHION_MNIST, MNIST, IDX)}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise ConfigError(
            f"{{name}}: unknown data set {name!r}; choose one of: {known}", "dataset"
        ) from None


def cache_root() -> Path:
    """Where fetched files and decoded arrays live: $SOFTMAXREG_CACHE or the user cache."""
    env = os.environ.get("SOFTMAXREG_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("softmaxreg"))


def download_dir(spec: DatasetSpec) -> Path:
    return cache_root() / "datasets" / spec.name


@dataclass(frozen=True)
class Location:
    """A folder that holds all four files of a data set, and how it was found."""

    folder: Path
    origin: str  # "--data-dir", "SOFTMAXREG_DATA", "cache", "system"
    paths: dict[tuple[str, str], Path]


def find_in(folder: Path, spec: DatasetSpec) -> dict[tuple[str, str], Path | None]:
    """Each file of `spec` in `folder`, gzip name first, then the decompressed name."""
    found: dict[tuple[str, str], Path | None] = {}
    for key, f in spec.files.items():
        found[key] = next((p for p in (folder / f.name, folder / f.raw_name) if p.exists()), None)
    return found


def locate(spec: DatasetSpec, data_dir: str | Path | None = None) -> Location | None:
    """The first folder holding the data set, in this order: `data_dir` or $SOFTMAXREG_DATA
    (explicit: an incomplete folder is an error), the user cache, the system copy."""
    explicit = (Path(data_dir), "--data-dir") if data_dir else None
    if explicit is None and os.environ.get("SOFTMAXREG_DATA"):
        explicit = (Path(os.environ["SOFTMAXREG_DATA"]), "SOFTMAXREG_DATA")
    if explicit is not None:
        folder, origin = explicit
        folder = folder.expanduser()
        if not folder.is_dir():
            what = "is not a directory" if folder.exists() else "does not exist"
            raise DataError(
                folder, f"{origin} {what}", "pass the folder that holds the four IDX files"
            )
        found = find_in(folder, spec)
        for key, p in found.items():
            if p is None:
                f = spec.file(*key)
                raise DataError(
                    folder / f.name,
                    f"missing file ({key[0]} {key[1]}; looked for {f.name} and {f.raw_name})",
                    f"put the file there or run `softmaxreg data --fetch --data-dir {folder}`"
                    if spec.mirrors
                    else "put the file there",
                )
        return Location(folder, origin, found)  # type: ignore[arg-type]
    if spec.name == "idx":
        raise ConfigError(
            "the idx data set needs {name} (or SOFTMAXREG_DATA) naming a folder with "
            "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]",
            "data_dir",
        )
    candidates = [(download_dir(spec), "cache")]
    candidates += [(Path(d), "system") for d in spec.system_dirs]
    for folder, origin in candidates:
        found = find_in(folder, spec)
        if all(found.values()):
            return Location(folder, origin, found)  # type: ignore[arg-type]
    return None


def not_found_error(spec: DatasetSpec, reason: str = "") -> DatasetNotFound:
    where = ", ".join([str(download_dir(spec)), *spec.system_dirs])
    steps = []
    if spec.system_dirs:
        steps.append(f"on Debian/Ubuntu run `sudo apt-get install dataset-{spec.name}`")
    steps.append(f"run `softmaxreg data --fetch --dataset {spec.name}` with network access")
    steps.append("or point SOFTMAXREG_DATA (or --data-dir) at a folder holding the four files")
    msg = f"{spec.name} not found (looked in {where})"
    if reason:
        msg += f"; download failed: {reason}"
    return DatasetNotFound(msg + "; " + ", ".join(steps))
