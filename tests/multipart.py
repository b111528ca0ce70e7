"""POST files as multipart without the test client's spooled body (it leaves a temporary file unclosed
for bodies over 500 KB, which pytest's warnings-as-errors then reports)."""

import io

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart


def post_files(client, url: str, files: list[tuple[bytes, str]], field: str = "files", **form):
    """POST (bytes, filename) pairs in one multipart field, plus plain form fields; returns the response."""
    values = MultiDict([(field, FileStorage(io.BytesIO(body), filename=name)) for body, name in files])
    for key, value in form.items():
        values.add(key, value)
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")
