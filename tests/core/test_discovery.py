"""``[discovery]``: GGUF files in folders, the Hugging Face hub cache and Ollama's store
become models, named by the documented rule, on real (tiny, generated) GGUF files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hoshikage_core.config import validate_config
from hoshikage_core.config.schema import HoshikageConfig
from hoshikage_core.discovery.naming import model_name, split_part
from hoshikage_core.errors import ConfigError
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf


def gguf(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, seed=seed)


def discover(tmp_path: Path, discovery: dict[str, Any], **tables: Any) -> HoshikageConfig:
    return validate_config({"discovery": discovery, **tables}, base_dir=tmp_path,
                           source=tmp_path / "hoshikage.toml")


@pytest.mark.parametrize(("filename", "name"), [
    ("qwen2.5-0.5b-instruct-q4_k_m.gguf", "qwen2.5-0.5b-instruct-q4_k_m"),
    ("Qwen2.5-7B-Instruct-Q4_K_M-00001-of-00002.gguf", "Qwen2.5-7B-Instruct-Q4_K_M"),
    ("My Model (v2).GGUF", "My-Model-v2"),
    ("llama 3 ☆ 8b.gguf", "llama-3-8b"),
])
def test_the_naming_rule(filename: str, name: str) -> None:
    assert model_name(filename) == name


def test_split_parts_are_read_from_the_name() -> None:
    part = split_part("big-00002-of-00003.gguf")
    assert part is not None and (part.base, part.index, part.total) == ("big", 2, 3)
    assert split_part("big.gguf") is None


def test_a_folder_of_models(tmp_path: Path) -> None:
    models = tmp_path / "models"
    gguf(models / "Tiny Chat.gguf")
    gguf(models / "sub" / "coder-q8_0.gguf")
    for i in (1, 2, 3):
        gguf(models / f"big-0000{i}-of-00003.gguf")
    gguf(models / "half-00001-of-00002.gguf")
    (models / "broken.gguf").write_text("not a model")
    (models / ".hidden").mkdir()
    gguf(models / ".hidden" / "secret.gguf")
    (models / "notes.txt").write_text("ignored")
    config = discover(tmp_path, {"dirs": ["models"]})
    assert set(config.models) == {"Tiny-Chat", "coder-q8_0", "big"}
    assert config.models["big"].path == models / "big-00001-of-00003.gguf"
    assert config.origin("big").parts == 3 and config.origin("big").kind == "dir"
    assert config.origin("coder-q8_0").root == str(models)
    assert config.models["Tiny-Chat"].backend == "llamacpp"
    not_served = {Path(n.path).name: n.reason for n in config.discovery_report.not_served}
    assert set(not_served) == {"half-00001-of-00002.gguf", "broken.gguf"}
    assert "parts 1 of 2" in not_served["half-00001-of-00002.gguf"]
    assert "not a GGUF file" in not_served["broken.gguf"]


def test_projectors_pair_with_their_models(tmp_path: Path) -> None:
    gguf(tmp_path / "vision" / "llava-v1.6.gguf")
    gguf(tmp_path / "vision" / "mmproj-model-f16.gguf")  # the folder's only model
    gguf(tmp_path / "two" / "gemma-3-4b-it-Q4_K_M.gguf")
    gguf(tmp_path / "two" / "qwen2-vl-2b-Q4_K_M.gguf")
    gguf(tmp_path / "two" / "mmproj-qwen2-vl-2b-f16.gguf")  # by the start of its name
    gguf(tmp_path / "two" / "mmproj-xyz.gguf")  # nobody's
    config = discover(tmp_path, {"dirs": ["vision", "two"]})
    assert config.origin("llava-v1.6").mmproj == str(tmp_path / "vision" / "mmproj-model-f16.gguf")
    assert config.origin("qwen2-vl-2b-Q4_K_M").mmproj.endswith("mmproj-qwen2-vl-2b-f16.gguf")
    assert config.origin("gemma-3-4b-it-Q4_K_M").mmproj is None
    assert not any(name.startswith("mmproj") for name in config.models)
    [unpaired] = config.discovery_report.not_served
    assert unpaired.path.endswith("mmproj-xyz.gguf") and "projector" in unpaired.reason


def test_two_files_with_one_name_are_both_served_by_their_folders(tmp_path: Path) -> None:
    gguf(tmp_path / "a" / "tiny.gguf", seed=1)
    gguf(tmp_path / "b" / "tiny.gguf", seed=2)
    config = discover(tmp_path, {"dirs": ["a", "b"]})
    assert set(config.models) == {"a/tiny", "b/tiny"}
    renamed = {(name, qualified) for name, qualified, _ in config.discovery_report.renamed}
    assert renamed == {("tiny", "a/tiny"), ("tiny", "b/tiny")}
    assert any("also named 'tiny'" in line for line in config.discovery_report.lines())


def test_configured_models_win_and_are_not_found_twice(tmp_path: Path) -> None:
    mine = gguf(tmp_path / "models" / "mine.gguf")
    gguf(tmp_path / "models" / "chat.gguf", seed=1)
    gguf(tmp_path / "models" / "other.gguf", seed=2)
    config = discover(tmp_path, {"dirs": ["models"]}, models={
        "chat": {"path": str(mine), "aliases": ["other"]}})
    # mine.gguf is the configured model "chat"; chat.gguf and other.gguf take names
    # that the configured model has, so they are served by their folder's name.
    assert set(config.models) == {"chat", "models/chat", "models/other"}
    assert config.models["chat"].path == mine and config.origin("chat").kind == "config"
    assert config.origin("models/chat").kind == "dir"


def test_overrides_and_defaults_apply_to_discovered_models(tmp_path: Path) -> None:
    gguf(tmp_path / "models" / "chat.gguf")
    gguf(tmp_path / "models" / "embedder.gguf")
    config = discover(tmp_path, {"dirs": ["models"], "models": {
        "chat": {"aliases": ["default"], "idle_timeout": "1m", "options": {"n_ctx": 256}},
        "gone": {"preload": True}}}, defaults={"idle_timeout": "10m", "parallel": 2})
    assert config.names()["default"] == "chat"
    assert config.effective("chat").idle_timeout == 60 and config.effective("chat").parallel == 2
    assert config.models["chat"].options == {"n_ctx": 256}
    assert config.effective("embedder").idle_timeout == 600
    assert config.discovery_report.unused_overrides == ("gone",)


def test_the_hugging_face_cache_current_snapshot(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct-GGUF"
    old, new = repo / "snapshots" / "aaa", repo / "snapshots" / "bbb"
    blob = gguf(repo / "blobs" / "0123abcd")
    for snapshot in (old, new):
        snapshot.mkdir(parents=True)
        (snapshot / "qwen2.5-0.5b-instruct-q4_k_m.gguf").symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("bbb")
    gguf(tmp_path / "models" / "qwen2.5-0.5b-instruct-q4_k_m.gguf", seed=3)  # the same name
    config = validate_config({"discovery": {"dirs": ["models"], "huggingface": True}},
                             base_dir=tmp_path,
                             environ={"HF_HOME": str(tmp_path)})
    name = "Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m"
    assert set(config.models) == {name, "models/qwen2.5-0.5b-instruct-q4_k_m"}
    # the snapshot's own file name, not the blob it links to: llama.cpp finds split
    # parts next to the first by their names
    assert config.models[name].path == new / "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    assert config.origin(name).kind == "huggingface"


def test_ollama_models_whose_weights_are_gguf(tmp_path: Path) -> None:
    store = tmp_path / "ollama"
    weights = gguf(store / "blobs" / "sha256-1111")
    projector = gguf(store / "blobs" / "sha256-2222")
    gguf(store / "blobs" / "sha256-4444", seed=4)
    (store / "blobs" / "sha256-3333").write_bytes(b"safetensors, not gguf")

    def manifest(where: str, *layers: tuple[str, str]) -> None:
        path = store / "manifests" / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"layers": [
            {"mediaType": f"application/vnd.ollama.image.{kind}", "digest": digest}
            for kind, digest in layers]}))

    manifest("registry.ollama.ai/library/qwen2.5/0.5b", ("model", "sha256:1111"),
             ("template", "sha256:9999"))
    manifest("registry.ollama.ai/library/qwen2.5/latest", ("model", "sha256:1111"))
    manifest("registry.ollama.ai/someone/llava/latest", ("model", "sha256:4444"),
             ("projector", "sha256:2222"))
    manifest("registry.ollama.ai/library/newengine/latest", ("model", "sha256:3333"))
    config = discover(tmp_path, {"ollama": "ollama"})
    assert set(config.models) == {"qwen2.5:0.5b", "someone/llava:latest"}
    assert config.models["qwen2.5:0.5b"].path == weights
    assert config.models["qwen2.5:0.5b"].aliases == ["qwen2.5:latest"]  # one blob, two tags
    assert config.origin("someone/llava:latest").mmproj == str(projector)
    [skipped] = config.discovery_report.not_served
    assert skipped.name == "newengine:latest" and "not a GGUF" in skipped.reason


def test_bad_discovery_settings_fail_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        discover(tmp_path, {"dirs": ["nowhere"]})
    assert "discovery.dirs" in str(missing.value) and "nowhere" in str(missing.value)
    with pytest.raises(ConfigError) as path_given:
        discover(tmp_path, {"models": {"x": {"path": str(gguf(tmp_path / "x.gguf"))}}})
    assert "discovery.models.x.path" in str(path_given.value)
    with pytest.raises(ConfigError) as misspelt:
        discover(tmp_path, {"dir": ["."]})
    assert "discovery.dir: unknown key (did you mean 'dirs'?)" in str(misspelt.value)
