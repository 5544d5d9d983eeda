"""Which artifact kinds a deployment accepts: one declaration (name, content types, maximum size, processor or
none) read by the handlers (setting ARTIFACT_KINDS), the CDK stack (`-c artifactKinds=<file>`) and the local
stack (`serve --artifact-kinds <file>`). Without one, `DEFAULT_KINDS` (the kinds this product always had).

The presigned upload pins the declared `contentType` (infra and local S3 serve the object back with it), so
the declaration is what keeps an `image` from being an HTML page or an SVG with script in it, served from our
bucket. A kind not declared is refused, naming the declared ones.

A kind's `processor` names what processes its uploads (a pipeline, a model): an upload of such a kind moves to
`processing` once stored, one of a kind without it to `completed` (session_runtime/uploads.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

KIND_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"  # a path segment of the object key
CONTENT_TYPE_PATTERN = r"^[a-z]+/[A-Za-z0-9.+\-]{1,100}$"
MAX_KINDS = 64
# Never declarable: served back from our bucket with these types, an object is a page or script in our origin.
ACTIVE_CONTENT_TYPES = frozenset({"text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript"})

KindName = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
DeclaredContentType = Annotated[str, StringConstraints(pattern=CONTENT_TYPE_PATTERN)]


class KindDeclaration(BaseModel):
    """One kind: what it may be uploaded as, how large (None: MAX_UPLOAD_BYTES), and its processor (None: none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: KindName
    contentTypes: tuple[DeclaredContentType, ...] = Field(min_length=1)
    maxBytes: int | None = Field(None, ge=1)
    processor: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _no_active_content(self) -> KindDeclaration:
        active = sorted(ACTIVE_CONTENT_TYPES.intersection(self.contentTypes))
        if active:
            raise ValueError(f"kind {self.name!r}: {', '.join(active)} may not be declared (active content)")
        return self


class ArtifactKinds(BaseModel):
    """A deployment's declared kinds, in declared order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: tuple[KindDeclaration, ...] = Field(min_length=1, max_length=MAX_KINDS)

    @model_validator(mode="after")
    def _unique_names(self) -> ArtifactKinds:
        names = [kind.name for kind in self.kinds]
        if len(set(names)) != len(names):
            raise ValueError(f"kind names must be unique: {names}")
        return self

    def __iter__(self) -> Iterator[KindDeclaration]:  # type: ignore[override]  # the kinds, not the fields
        return iter(self.kinds)

    @property
    def names(self) -> list[str]:
        return [kind.name for kind in self.kinds]

    def get(self, name: str) -> KindDeclaration | None:
        return next((kind for kind in self.kinds if kind.name == name), None)

    def kind_problem(self, kind: str) -> str | None:
        """Why `kind` may not be created here (a message naming the declared kinds), or None."""
        if self.get(kind) is not None:
            return None
        return f"{kind!r} is not an artifact kind of this deployment; kinds: {', '.join(self.names)}"

    def content_type_problem(self, kind: str, content_type: str) -> str | None:
        """Why `content_type` may not be uploaded as `kind` (a message naming what is allowed), or None."""
        declared = self.get(kind)
        if declared is None or content_type in declared.contentTypes:
            return None
        allowed = ", ".join(declared.contentTypes)
        return f"{content_type!r} is not an allowed content type for kind {kind!r}; allowed: {allowed}"

    def to_setting(self) -> str:
        """The ARTIFACT_KINDS value declaring these kinds (compact JSON: a function environment is 4 KB)."""
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True)["kinds"], separators=(",", ":"))


def parse_kinds(text: str) -> ArtifactKinds:
    """A declaration: a JSON list of kinds (or `{"kinds": [...]}`); empty text is the default declaration."""
    if not text.strip():
        return DEFAULT_KINDS
    value = json.loads(text)
    return ArtifactKinds.model_validate(value if isinstance(value, dict) else {"kinds": value})


def load_kinds_file(path: str | Path) -> ArtifactKinds:
    """The declaration in a JSON file (`-c artifactKinds=<file>`, `serve --artifact-kinds <file>`); ValueError
    naming the file when it is not one."""
    try:
        return parse_kinds(Path(path).read_text(encoding="utf-8"))
    except ValidationError as error:
        raise ValueError(f"artifact kinds file {str(path)!r}: {_problems(error)}") from error
    except (OSError, ValueError) as error:
        raise ValueError(f"artifact kinds file {str(path)!r}: {error}") from error


def _problems(error: ValidationError) -> str:
    """Each fault at its place in the file (`kinds.0.contentTypes`), without pydantic's links, and without the
    complaint an enclosing list makes about an item that already failed (its place is a prefix of the item's)."""
    found = error.errors(include_url=False)
    places = [tuple(problem["loc"]) for problem in found]
    own = [
        problem
        for problem, place in zip(found, places, strict=True)
        if not any(other[: len(place)] == place and other != place for other in places)
    ]
    return "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg'].removeprefix('Value error, ')}" for p in own)


_STILL_IMAGES = ("image/png", "image/jpeg", "image/webp", "image/gif")  # no image/svg+xml: it can carry script

DEFAULT_KINDS = ArtifactKinds(
    kinds=(
        KindDeclaration(name="image", contentTypes=_STILL_IMAGES),  # a slide, a photo
        KindDeclaration(name="frames", contentTypes=_STILL_IMAGES),  # captured frames of a video source
        KindDeclaration(
            name="recording",
            contentTypes=("audio/webm", "audio/ogg", "audio/mpeg", "audio/mp4", "audio/wav", "video/webm", "video/mp4"),
        ),
        KindDeclaration(name="transcript", contentTypes=("text/plain", "text/vtt", "application/json")),
    )
)
