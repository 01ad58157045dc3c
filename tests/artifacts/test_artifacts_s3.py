"""Model data from a real S3 API (moto's server): fetch, cache, prefixes, errors."""

from __future__ import annotations

import io
import tarfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from moorage.artifacts import (
    ArtifactCache,
    ArtifactError,
    ExtractLimits,
    FetchLimits,
    ModelSource,
    materialize,
    parse_location,
    release,
)
from moorage.artifacts.space import DiskSpace, FreeSpaceReserve
from support.moto_s3 import MotoS3


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class CountingFactory:
    """Makes S3 clients for moto that count the operations they call."""

    def __init__(self, moto: MotoS3) -> None:
        self.moto = moto
        self.calls: Counter[str] = Counter()

    def __call__(self) -> Any:
        client = botocore.session.Session().create_client(
            "s3",
            endpoint_url=self.moto.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.meta.events.register("before-call.s3", self._count)
        return client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


@pytest.fixture
def counting(moto_s3: MotoS3) -> CountingFactory:
    return CountingFactory(moto_s3)


@pytest.fixture
def cache(tmp_path: Path, counting: CountingFactory) -> ArtifactCache:
    return ArtifactCache(tmp_path / "artifacts", counting)


def put(moto: MotoS3, bucket: str, key: str, body: bytes) -> str:
    moto.client.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def test_fetch_object_then_cache_hit(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache, counting: CountingFactory
) -> None:
    url = put(moto_s3, s3_bucket, "m/model.tar.gz", tar_gz({"model.bin": b"weights"}))
    location = parse_location(url)
    first = cache.fetch(location, timeout_s=60)
    assert first.downloaded
    assert (
        first.path.read_bytes()
        == moto_s3.client.get_object(Bucket=s3_bucket, Key="m/model.tar.gz")["Body"].read()
    )
    stamp = first.path.stat().st_mtime_ns
    second = cache.fetch(location, timeout_s=60)
    assert not second.downloaded
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == stamp
    assert counting.calls["GetObject"] == 1
    assert counting.calls["HeadObject"] == 2


def test_materialize_shares_one_extraction(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache, counting: CountingFactory
) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"code/inference.py": b"x = 1\n"}))
    first = materialize(url, cache, timeout_s=60)
    assert (first / "code" / "inference.py").read_bytes() == b"x = 1\n"
    assert first.parent == cache.models
    again = materialize(url, cache, timeout_s=60)
    assert again == first
    assert counting.calls["GetObject"] == 1
    # A copy that does not cache downloads the artifact again and extracts its own.
    private = materialize(url, cache, timeout_s=60, use_cache=False)
    assert private != first and private.parent == cache.private
    assert (private / "code" / "inference.py").read_bytes() == b"x = 1\n"
    assert counting.calls["GetObject"] == 2
    assert [p.name for p in cache.private.iterdir()] == [private.name]  # no download left
    release(private, cache)
    assert not private.exists()
    release(first, cache)  # shared directories are never removed this way
    assert first.exists()


def test_changed_object_is_fetched_again(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache, counting: CountingFactory
) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"v": b"1"}))
    old = materialize(url, cache, timeout_s=60)
    put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"v": b"2"}))
    new = materialize(url, cache, timeout_s=60)
    assert new != old
    assert (new / "v").read_bytes() == b"2"
    assert (old / "v").read_bytes() == b"1"  # a running copy keeps its directory
    assert counting.calls["GetObject"] == 2
    # Only the newest download of a URL is kept.
    (folder,) = list(cache.downloads.iterdir())
    assert len(list(folder.glob("*.obj"))) == 1


def test_concurrent_fetches_download_once(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache, counting: CountingFactory
) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"big.bin": bytes(3_000_000)}))
    results: list[Path] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(materialize(url, cache, timeout_s=60))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert (results[0] / "big.bin").stat().st_size == 3_000_000
    assert counting.calls["GetObject"] == 1
    assert [p.name for p in cache.models.iterdir()] == [results[0].name]  # no partials


def test_prefix_download(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache, counting: CountingFactory
) -> None:
    files = {
        "config.json": b"{}",
        "weights/part-1.bin": b"a" * 1000,
        "weights/part-2.bin": b"b" * 1000,
        "code/inference.py": b"x = 2\n",
    }
    for name, body in files.items():
        put(moto_s3, s3_bucket, f"models/llm/{name}", body)
    put(moto_s3, s3_bucket, "models/llm-other/not-included", b"no")
    source = ModelSource.of(f"s3://{s3_bucket}/models/llm/", prefix=True, compressed=False)
    model = materialize(source, cache, timeout_s=60)
    found = {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    assert found == files
    assert counting.calls["GetObject"] == 4
    assert materialize(source, cache, timeout_s=60) == model
    assert counting.calls["GetObject"] == 4  # the listing's ETags are unchanged
    put(moto_s3, s3_bucket, "models/llm/config.json", b'{"v": 2}')
    changed = materialize(source, cache, timeout_s=60)
    assert changed != model
    assert (changed / "config.json").read_bytes() == b'{"v": 2}'


def test_uncompressed_object_keeps_its_name(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache
) -> None:
    url = put(moto_s3, s3_bucket, "dir/model.safetensors", b"tensor")
    model = materialize(ModelSource.of(url, compressed=False), cache, timeout_s=60)
    assert [p.name for p in model.iterdir()] == ["model.safetensors"]


def test_prefix_with_folder_marker_is_refused(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache
) -> None:
    put(moto_s3, s3_bucket, "p/sub/", b"")
    put(moto_s3, s3_bucket, "p/sub/file", b"x")
    source = ModelSource.of(f"s3://{s3_bucket}/p/", prefix=True, compressed=False)
    with pytest.raises(ArtifactError, match="object key 'p/sub/' has an empty"):
        materialize(source, cache, timeout_s=60)


def test_empty_prefix_is_an_error(s3_bucket: str, cache: ArtifactCache) -> None:
    source = ModelSource.of(f"s3://{s3_bucket}/nothing/", prefix=True, compressed=False)
    with pytest.raises(ArtifactError, match="there are no objects under prefix 'nothing/'"):
        materialize(source, cache, timeout_s=60)


def test_missing_object_and_bucket_messages(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache
) -> None:
    with pytest.raises(ArtifactError) as missing:
        materialize(f"s3://{s3_bucket}/nope.tar.gz", cache, timeout_s=60)
    assert missing.value.message == (
        f"model artifact s3://{s3_bucket}/nope.tar.gz could not be downloaded: "
        f"no object with key 'nope.tar.gz' in bucket '{s3_bucket}'"
    )
    with pytest.raises(ArtifactError) as no_bucket:
        materialize("s3://no-such-bucket-xyz/model.tar.gz", cache, timeout_s=60)
    assert no_bucket.value.message == (
        "model artifact s3://no-such-bucket-xyz/model.tar.gz could not be downloaded: "
        "bucket 'no-such-bucket-xyz' does not exist"
    )
    source = ModelSource.of("s3://no-such-bucket-xyz/p/", prefix=True, compressed=False)
    with pytest.raises(ArtifactError, match="could not be listed: bucket 'no-such-bucket-xyz'"):
        materialize(source, cache, timeout_s=60)
    put(moto_s3, s3_bucket, "folder/model.tar.gz", b"x")
    with pytest.raises(ArtifactError, match="use S3DataType S3Prefix"):
        materialize(f"s3://{s3_bucket}/folder", cache, timeout_s=60)
    assert not cache.models.exists() or list(cache.models.iterdir()) == []


def test_corrupt_archive_names_the_url(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache
) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", b"\x1f\x8b" + b"garbage" * 100)
    with pytest.raises(ArtifactError) as info:
        materialize(url, cache, timeout_s=60)
    assert info.value.message.startswith(
        f"model artifact {url} is not a valid gzip-compressed tar archive: "
    )
    assert list(cache.models.iterdir()) == []


def test_size_cap(moto_s3: MotoS3, s3_bucket: str, tmp_path: Path) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", bytes(5000))
    small = ArtifactCache(tmp_path / "c", CountingFactory(moto_s3), limits=FetchLimits(1000))
    with pytest.raises(ArtifactError, match="is 5000 bytes, more than the 1000-byte limit"):
        materialize(url, small, timeout_s=60)


def test_uncompressed_data_over_the_unpacked_cap_is_not_downloaded(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache, counting: CountingFactory
) -> None:
    url = put(moto_s3, s3_bucket, "big/weights.bin", bytes(5000))
    put(moto_s3, s3_bucket, "big/more.bin", bytes(5000))
    cap = ExtractLimits(max_bytes=8000)
    with pytest.raises(ArtifactError, match=r"it is more than 3.9 KiB \(4000 bytes\)"):
        materialize(
            ModelSource.of(url, compressed=False), cache, timeout_s=60, limits=ExtractLimits(4000)
        )
    prefix = ModelSource.of(f"s3://{s3_bucket}/big/", prefix=True, compressed=False)
    with pytest.raises(ArtifactError) as info:
        materialize(prefix, cache, timeout_s=60, limits=cap)
    assert info.value.message == (
        f"model artifact s3://{s3_bucket}/big/ was rejected: it is more than 7.8 KiB "
        "(8000 bytes), the limit on a model's unpacked data (moorage serve --max-unpacked-size)"
    )
    assert counting.calls["GetObject"] == 0
    assert not cache.downloads.exists() or not any(cache.downloads.rglob("*.dir"))


def test_a_gzip_bomb_from_s3_leaves_nothing_behind(
    moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 30 * 1024**2
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    url = put(moto_s3, s3_bucket, "bomb.tar.gz", buffer.getvalue())
    with pytest.raises(ArtifactError, match="unpacks to more than 10 MiB"):
        materialize(url, cache, timeout_s=60, limits=ExtractLimits(max_bytes=10 * 1024**2))
    assert list(cache.models.iterdir()) == []
    # The download of an archive that cannot be used is not kept either.
    assert [p.name for p in cache.downloads.rglob("*") if p.is_file()] == ["url.txt"]


def test_downloads_leave_the_free_space_reserve(
    moto_s3: MotoS3, s3_bucket: str, tmp_path: Path, counting: CountingFactory
) -> None:
    url = put(moto_s3, s3_bucket, "m.bin", bytes(5000))

    def nearly_full(path: Path) -> DiskSpace:
        return DiskSpace(free=1024**3 + 4000, total=100 * 1024**3)

    cache = ArtifactCache(tmp_path / "c", counting, reserve=FreeSpaceReserve(probe=nearly_full))
    with pytest.raises(ArtifactError) as info:
        materialize(ModelSource.of(url, compressed=False), cache, timeout_s=60)
    assert info.value.message.startswith(
        f"model artifact {url} could not be stored: not enough disk space on the disk holding "
    )
    assert "it needs 4.9 KiB and only 1 GiB (1073745824 bytes) are free" in info.value.message
    assert counting.calls["GetObject"] == 1  # asked, refused before a byte was stored
    assert not any(p.suffix == ".obj" for p in cache.downloads.rglob("*"))


def test_expected_etag_must_match(moto_s3: MotoS3, s3_bucket: str, cache: ArtifactCache) -> None:
    url = put(moto_s3, s3_bucket, "m.bin", b"data")
    etag = moto_s3.client.head_object(Bucket=s3_bucket, Key="m.bin")["ETag"]
    spec = {"S3Uri": url, "S3DataType": "S3Object", "CompressionType": "None"}
    good = ModelSource.from_model_data_source({"S3DataSource": {**spec, "ETag": etag}})
    assert (materialize(good, cache, timeout_s=60) / "m.bin").read_bytes() == b"data"
    stale = ModelSource.from_model_data_source({"S3DataSource": {**spec, "ETag": '"0000"'}})
    with pytest.raises(ArtifactError, match="has changed since the model was created"):
        materialize(stale, cache, timeout_s=60)


class TickingClock:
    """Each reading is ten seconds later than the previous one."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        self.t += 10.0
        return self.t

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
        self.t += seconds


def test_timeout_names_the_setting(moto_s3: MotoS3, s3_bucket: str, tmp_path: Path) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"f": bytes(5_000_000)}))
    slow = ArtifactCache(tmp_path / "c", CountingFactory(moto_s3), clock=TickingClock())
    with pytest.raises(ArtifactError) as info:
        materialize(url, slow, timeout_s=60, use_cache=False)
    assert "ModelDataDownloadTimeoutInSeconds (60 s)" in info.value.message
    assert url in info.value.message
    # Nothing is left: not the private download, not a partial file.
    assert list(slow.private.iterdir()) == []
    assert not slow.downloads.exists()


def test_default_client_honours_aws_endpoint_url_s3(
    moto_s3: MotoS3, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"hello.txt": b"hi"}))
    for name, value in moto_s3.env().items():
        monkeypatch.setenv(name, value)
    model = materialize(url, ArtifactCache(tmp_path / "c"), timeout_s=60)
    assert (model / "hello.txt").read_bytes() == b"hi"


def test_default_client_without_credentials_works_with_a_custom_endpoint(
    moto_s3: MotoS3, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = put(moto_s3, s3_bucket, "model.tar.gz", tar_gz({"hello.txt": b"hi"}))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3.endpoint_url)
    model = materialize(url, ArtifactCache(tmp_path / "c"), timeout_s=60)
    assert (model / "hello.txt").read_bytes() == b"hi"


def test_no_credentials_against_aws_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ArtifactError) as info:
        materialize("s3://some-bucket/model.tar.gz", ArtifactCache(tmp_path / "c"), timeout_s=60)
    assert info.value.message == (
        "model artifact s3://some-bucket/model.tar.gz could not be downloaded: no AWS "
        "credentials are configured (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or "
        "AWS_PROFILE, or point AWS_ENDPOINT_URL_S3 at an S3-compatible store)"
    )
