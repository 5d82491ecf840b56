"""The bundle as a format, read and written by archive, validate and publish alike: the
manifest (:mod:`.manifest`), SHA256SUMS and the byte-reproducible tarball (:mod:`.pack`),
safe unpacking (:mod:`.tarball`), writing in place (:mod:`.place`), what makes a bundle
intact (:mod:`.integrity`), and the stdlib-only ``verify.py`` each bundle carries.
"""
