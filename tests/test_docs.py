"""What a newcomer reads and sees: the README, the docs, `similar-fields`,
the commands' usage lines and the demo's help."""

from __future__ import annotations

import re
from pathlib import Path

from beets import plugins

from beetsplug.similar import commands, demo, samples
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}

# Commands that take a beets query; the others take paths or nothing.
NO_QUERY = {"similar-import", "similar-fields", "similar-undo"}


def _plugin():
    return next(p for p in plugins.find_plugins() if p.name == "similar")


class TestFieldsAndUsage(SimilarHelper):
    def test_similar_fields_lists_stored_computed_and_flexible_fields(self, capsys):
        folder = self.photos_dir()
        samples.save_photo(samples.scene(1, (96, 64)), str(folder / "a.jpg"), seed=1)
        self.run_command("similar-import", str(folder))
        photo = photos(self.lib)[0]
        photo["duplicate_of"] = 7
        photo["trip_name"] = "Crete"  # a user's own attribute (`beet modify` style)
        photo.store()

        out = self.run_output(capsys, "similar-fields")
        sections = [line for line in out.splitlines() if not line.startswith(" ")]
        assert sections == ["Photo fields:", "Computed fields (templates; slower in queries):",
                            "Flexible attributes:"]
        rows = {line.split()[0]: line.split()[1] for line in out.splitlines()
                if line.startswith("  ")}
        assert rows["taken"] == "date" and rows["size"] == "integer"
        assert rows["quality"] == "float" and rows["path"] == "path"
        assert rows["camera"] == "text" and rows["origname"] == "text"
        assert rows["stem"] == "text" and rows["megapixels"] == "float"
        assert rows["duplicate_of"] == "integer" and rows["trip_name"] == "text"
        assert "data_source" not in rows  # beets' own attribute, never set on photos
        # Each listed field really works in a template.
        for name in ("taken", "size", "stem", "megapixels", "trip_name"):
            assert photo.evaluate_template(f"${name}") not in ("", f"${name}")

    def test_every_command_that_takes_a_query_says_so(self):
        cmds = {c.name: c for c in commands.build(_plugin())}
        assert {"similar-fields", "similar-ls", "similar-order"} <= set(cmds)
        for name, cmd in cmds.items():
            usage = cmd.parser.get_usage()
            if name in NO_QUERY:
                assert "[QUERY]" not in usage, name
            else:
                assert usage.rstrip().endswith("[QUERY]"), (name, usage)

    def test_readme_and_reference_name_every_command_and_setting(self):
        for cmd in commands.build(_plugin()):
            assert f"`{cmd.name}" in README, cmd.name
            assert f"`beet {cmd.name}" in DOCS["reference.md"], cmd.name
        for key in self.config["similar"].keys():
            if key != "false_positive_rate":  # replaced by false_matches
                assert re.search(rf"^\s+{key}:", DOCS["reference.md"], re.M), key

    def test_the_reference_gives_each_setting_its_default(self):
        import yaml

        block = re.search(r"```yaml\n(similar:\n.*?)```", DOCS["reference.md"], re.S).group(1)
        documented = yaml.safe_load(block)["similar"]
        defaults = _plugin().config.flatten()
        for key, value in documented.items():
            want = defaults[key]
            if key == "threshold" or not isinstance(want, (int, float)):
                assert value == want, key
            else:
                assert float(value) == float(want), key


def test_readme_is_for_users():
    lines = README.splitlines()
    assert len(lines) < 300
    opening = " ".join(lines[:6])
    assert "leaves them where they are" in opening and "copies nothing" in opening
    for word in (r"\bissue \d", r"#\d+\b", r"\bcommit\b", r"\brooms?\b",
                 r"hnswlib|pynndescent|recall@10",  # the library comparisons
                 r"\b[0-9a-f]{7,40}\b", r"\d\.\d+e[-+]\d"):
        assert not re.search(word, README), word
    # The install works today: from a clone, into beets' environment.
    assert "pip install beets-similar" not in README
    assert "pipx inject beets ./beets-similar" in README
    assert "plugins: [fetchart, lastgenre, similar]" in README
    # The renaming warning comes before the first command that renames.
    warning = README.index("renames the files in place")
    first_rename = min(m.start() for m in re.finditer(r"beet similar-order [^\n]*\n", README)
                       if "--dry-run" not in m.group() and "--no-rename" not in m.group())
    assert warning < README.index("--dry-run", warning) < first_rename
    # Quick start: the two commands, exact.
    assert ("python3 -m venv .venv && .venv/bin/pip install -e . && "
            ".venv/bin/python -m beetsplug.similar.demo") in README
    assert ("python3 -m venv .venv && .venv/bin/pip install -q --upgrade pip && "
            ".venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest -q") in README
    # The full tier is what CI runs.
    assert ".venv/bin/python -m pytest -q --full" in README
    assert re.search(r"^timeout \S+ \.venv/bin/python -m pytest --full ",
                     (ROOT / ".ci" / "run").read_text(), re.M)


def test_links_between_readme_and_docs_resolve():
    pages = {"README.md": (ROOT, README), **{f"docs/{n}": (ROOT / "docs", t)
                                              for n, t in DOCS.items()}}
    assert {"design.md", "benchmarks.md", "reference.md"} <= set(DOCS)
    for page, (folder, text) in pages.items():
        for target in re.findall(r"\]\(([^)#:]+\.(?:md|png))(?:#[^)]*)?\)", text):
            assert (folder / target).exists(), f"{page} links to a missing {target}"


def test_benchmark_tables_moved_to_docs_not_lost():
    text = DOCS["benchmarks.md"]
    for figure in ("faiss HNSW", "recall@10", "1,000,000 | 191 s", "9.2 images/s",
                   "34 of 37", "0.34 %"):
        assert figure in text, figure
    for command in ("benchmarks/ann.py", "benchmarks/featurize.py", "benchmarks/order.py",
                    "benchmarks/scale.py", "benchmarks/calibrate.py",
                    "benchmarks/quality.py"):
        assert command in text, command


def test_demo_help_counts_the_bad_files_it_makes(tmp_path):
    source = tmp_path / "a.jpg"
    samples.save_photo(samples.scene(1, (64, 48)), str(source), seed=1)
    made = len(samples.write_bad_files(str(tmp_path / "bad"), str(source)))
    words = {2: "two", 3: "three", 4: "four", 5: "five"}
    assert f"{words[made]} bad files" in " ".join(demo.__doc__.split())
    assert f"{words[made]} broken files" in README


def test_every_data_file_of_the_package_is_installed():
    """A non-editable install (``pip install ./beets-similar``, as the README
    says) takes only modules and what ``package_data`` names."""
    from setuptools.config.setupcfg import read_configuration

    data = read_configuration(str(ROOT / "setup.cfg"))["options"].get("package_data", {})
    for path in (ROOT / "beetsplug").rglob("*"):
        if path.is_file() and path.suffix not in (".py", ".pyc"):
            bases = {ROOT.joinpath(*name.split(".")): globs for name, globs in data.items()}
            assert any(path.match(str(base / g)) for base, globs in bases.items()
                       for g in globs), f"{path.relative_to(ROOT)} is not in package_data"
