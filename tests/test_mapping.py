"""The bundled import-name table, on names that naive tools get wrong."""

from __future__ import annotations

import pytest

from reprokit.scan.mapping import Mapper, bundled_table_about

TRICKY = {
    "sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml",
    "bs4": "beautifulsoup4", "skimage": "scikit-image", "Bio": "biopython",
    "dateutil": "python-dateutil", "jwt": "pyjwt", "OpenGL": "pyopengl", "serial": "pyserial",
    "attr": "attrs", "zmq": "pyzmq", "Crypto": "pycryptodome", "google.protobuf": "protobuf",
    "google.protobuf.json_format": "protobuf", "google.cloud.storage": "google-cloud-storage",
    "google.cloud.bigquery": "google-cloud-bigquery", "mpl_toolkits": "matplotlib",
    "mpl_toolkits.mplot3d": "matplotlib", "pkg_resources": "setuptools", "IPython": "ipython",
    "umap": "umap-learn", "faiss": "faiss-cpu", "docx": "python-docx", "magic": "python-magic",
    "git": "gitpython", "dotenv": "python-dotenv", "fitz": "pymupdf", "MySQLdb": "mysqlclient",
    "absl": "absl-py", "grpc": "grpcio", "dns": "dnspython", "gi": "pygobject",
    "Levenshtein": "levenshtein", "usb": "pyusb", "jose": "python-jose", "ldap": "python-ldap",
    "slugify": "python-slugify", "sentry_sdk": "sentry-sdk", "pptx": "python-pptx",
    "Xlib": "python-xlib", "kafka": "kafka-python", "telegram": "python-telegram-bot",
    "nacl": "pynacl", "OpenSSL": "pyopenssl", "jinja2": "jinja2", "markdown": "markdown",
    "ruamel.yaml": "ruamel-yaml", "azure.storage.blob": "azure-storage-blob",
    "tensorflow": "tensorflow", "torch": "torch", "_cffi_backend": "cffi", "typing_extensions": "typing-extensions",
    "websocket": "websocket-client", "lxml.etree": "lxml", "xgboost": "xgboost", "statsmodels.api": "statsmodels",
}


@pytest.fixture(scope="module")
def mapper() -> Mapper:
    return Mapper([])


@pytest.mark.parametrize(("module", "dist"), sorted(TRICKY.items()))
def test_tricky_import_names(mapper: Mapper, module: str, dist: str) -> None:
    match = mapper.lookup(module)
    assert match is not None and match.distribution == dist and match.how == "table"


def test_unknown_names_are_not_guessed(mapper: Mapper) -> None:
    for name in ("my_lab_helpers", "tests", "utils_private_xyz"):
        assert mapper.lookup(name) is None


def test_declared_requirements_win_over_the_table() -> None:
    # A paper that declares the headless build of OpenCV gets that, not the most popular.
    m = Mapper(["opencv-python-headless", "python-dateutil"])
    assert m.lookup("cv2").distribution == "opencv-python-headless"  # type: ignore[union-attr]
    assert m.lookup("dateutil.parser").how == "declared"  # type: ignore[union-attr]


def test_the_table_says_how_it_was_made() -> None:
    about = bundled_table_about()
    assert "build_import_table.py" in str(about["about"]) and about["generated"]
    assert int(about["distributions_examined"]) > 10000  # type: ignore[call-overload]
