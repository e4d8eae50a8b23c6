"""The command line's conventions (issue 26): list options take spaces and commas; every README
command can be pasted as written; errors are one sentence, no Python class names; exit 2 only
for usage errors, 1 for refusals; `xalign --help`, `tasks` and `models` import neither mteb nor
torch (nor scipy) once the listing is on disk, and the listing on disk is never stale."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from xalign_testing import REPO, VENV_BIN

from mteb_xalign.cli import build_parser, main
from mteb_xalign.cli_options import split_items

READMES = [REPO / "README.md", REPO / "plugins" / "README.md", *sorted((REPO / "plugins").glob("*/README.md"))]


def test_split_items():
    assert split_items(["ar", "de,zh", " , el ,"]) == ["ar", "de", "zh", "el"]
    assert split_items("en,zh") == ["en", "zh"] and split_items([]) == []


@pytest.mark.parametrize("argv", [["-l", "ar", "de", "zh"], ["-l", "ar,de,zh"], ["--languages", "ar,", "de", "-l", "zh"],
                                  ["-l", "ar", "de,zh"]])
def test_list_options_take_spaces_and_commas(argv):
    parser = build_parser()
    run = parser.parse_args(["run", "-t", "MultiRefCLIR,LAReQA", "-m", "a/b", "c/d", *argv])
    assert run.languages == ["ar", "de", "zh"] and run.task == ["MultiRefCLIR", "LAReQA"] and run.model == ["a/b", "c/d"]
    assert parser.parse_args(["run", "--subsets", "en-de,en-zh", "en-ar"]).subsets == ["en-de", "en-zh", "en-ar"]
    plot = parser.parse_args(["plot", "affinity", "-m", "x/y", "-o", "f.png", *argv])
    assert plot.languages == ["ar", "de", "zh"]
    fit = parser.parse_args(["align", "fit", "-m", "x/y", "--method", "center", "--out", "o", *argv,
                             "--roles", "query,document"])
    assert fit.languages == ["ar", "de", "zh"] and fit.roles == ["query", "document"]
    train = parser.parse_args(["align", "train", "-m", "x/y", "--out", "o", *argv, "--eval-languages", "ar", "de"])
    assert train.languages == ["ar", "de", "zh"] and train.eval_languages == ["ar", "de"]


def test_list_option_defaults_are_replaced_not_extended():
    parser = build_parser()
    # no default in the parser: the word list decides (en, zh, de on Swadesh-207, else all its languages)
    assert parser.parse_args(["plot", "affinity", "-m", "x", "-o", "f.png"]).languages is None
    assert parser.parse_args(["plot", "affinity", "-m", "x", "-o", "f.png", "-l", "ar"]).languages == ["ar"]
    fit = ["align", "fit", "-m", "x", "--method", "center", "--out", "o"]
    assert parser.parse_args(fit).roles == ["query", "document"]
    assert parser.parse_args([*fit, "--roles", "document"]).roles == ["document"]
    train = ["align", "train", "-m", "x", "--out", "o"]
    assert parser.parse_args(train).evaluate is None
    assert parser.parse_args([*train, "--evaluate"]).evaluate == ["MultiRefCLIR", "MultiRefCLIR-MonoSame"]
    assert parser.parse_args([*train, "--evaluate", "LAReQA,SemanticAffinity"]).evaluate == ["LAReQA", "SemanticAffinity"]
    report = parser.parse_args(["report", "-o", "r.html", "-m", "a,b", "-m", "c"])
    assert report.model == ["a", "b", "c"]
    assert parser.parse_args(["report", "-o", "r.html"]).model is None


def console_lines(path: Path) -> list[str]:
    """The `$ ` lines of a file's ```console blocks, continuation lines joined."""
    lines = []
    for block in re.findall(r"^```console\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [line[2:] for line in joined.splitlines() if line.startswith("$ ")]
    return lines


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at |, &&, ||, ;), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    out, current = [], []
    for token in lexer:
        if token in ("|", "&&", "||", ";", "&"):
            out.append(current)
            current = []
        elif token.startswith((">", "<")):
            break
        else:
            current.append(token)
    return [*out, current]


ALL_LINES = [(path.relative_to(REPO), line) for path in READMES for line in console_lines(path)]


def test_readmes_have_console_lines():
    assert len(ALL_LINES) > 20 and any(line.startswith("xalign align") for _, line in ALL_LINES)


@pytest.mark.parametrize(("where", "line"), ALL_LINES, ids=[f"{w}:{i}" for i, (w, _) in enumerate(ALL_LINES)])
def test_every_readme_command_can_be_pasted(where, line):
    """Each program the line runs exists, and every `xalign ...` parses with xalign's own parser."""
    for words in commands(line):
        words = [w for w in words if not re.fullmatch(r"[A-Z_]+=.*", w)] or words  # VAR=value prefixes
        program = words[0]
        on_path = shutil.which(program, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        assert program in ("xalign", "mteb", "make", "cd") or on_path, \
            f"{where}: `{line}` runs {program!r}, which is no program (a `|` read by the shell?)"
        assert "..." not in words, f"{where}: `{line}` has a placeholder '...' the shell would pass on"
        if program == "xalign":
            try:
                build_parser().parse_args(words[1:])
            except SystemExit as exc:
                pytest.fail(f"{where}: `{line}` does not parse (exit {exc.code})")


def test_usage_errors_exit_2_and_refusals_exit_1(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--no-such-option"])
    assert exc.value.code == 2
    capsys.readouterr()
    assert main(["run", "-m", "a/b"]) == 2  # no task: options that do not fit together
    assert "name a task with -t" in capsys.readouterr().err


def test_unknown_task_is_one_sentence_with_a_suggestion(capsys):
    code = main(["run", "-t", "MultiRefCLIRR", "-m", "xalign/use-multilingual-v3", "--output", "unused"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err == ("xalign: error: unknown task 'MultiRefCLIRR'; did you mean MultiRefCLIR? "
                   "(see `xalign tasks`)\n"), err
    code = main(["run", "-t", "MultiRefCLIR", "-m", "xalign/use-multilingualv3", "--output", "unused"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "KeyError" not in err, err
    assert "unknown model 'xalign/use-multilingualv3'; did you mean xalign/use-multilingual-v3?" in err, err


# -- start-up and the listing on disk -------------------------------------------------------------------

PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from mteb_xalign.cli import main
    out = io.StringIO()
    code = None
    with contextlib.redirect_stdout(out):
        try:
            code = main(sys.argv[1:])
        except SystemExit as exc:
            code = exc.code
    heavy = sorted(m for m in ("mteb", "torch", "sentence_transformers", "transformers", "scipy")
                   if m in sys.modules)
    print(json.dumps({"code": code, "out": out.getvalue(), "heavy": heavy}))
""")


def probe(*args: str, env: dict) -> dict:
    proc = subprocess.run([str(VENV_BIN / "python"), "-c", PROBE, *args], env=env, capture_output=True, text=True,
                          timeout=900, cwd=env["HOME"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    result["err"] = proc.stderr
    return result


PLUGIN = textwrap.dedent('''
    from mteb_xalign import hookimpl

    @hookimpl
    def register_models(register):
        from mteb.models import ModelMeta
        register(ModelMeta(
            loader=None, name="listing-test/late-plugin", revision="1", release_date="2026-12-01",
            languages=["eng-Latn"], n_parameters=0, memory_usage_mb=0, max_tokens=None, embed_dim=8,
            license="mit", open_weights=True, public_training_code=None, public_training_data=None,
            framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False, training_datasets=set(),
        ))
''')


def test_help_tasks_models_skip_mteb_and_the_listing_is_never_stale(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": str(site), "XALIGN_MODELS_FILE": ""}
    env.pop("XALIGN_PLUGINS", None)
    env.pop("XALIGN_NO_LISTING_CACHE", None)

    shown = probe("--help", env=env)
    assert shown["code"] == 0 and "models" in shown["out"] and shown["heavy"] == [], shown

    first = probe("tasks", env=env)  # nothing on disk yet: computed through mteb, then stored
    assert "mteb" in first["heavy"] and "MultiRefCLIR" in first["out"]
    again = probe("tasks", env=env)
    assert again["heavy"] == [] and again["out"] == first["out"], again

    models = probe("models", env=env)
    assert "xalign/use-multilingual-v3" in models["out"] and "listing-test/mine" not in models["out"]
    assert probe("models", env=env)["heavy"] == []

    # A models file appears in the config folder: the very next listing shows its model.
    config = tmp_path / "config" / "mteb-xalign"
    config.mkdir(parents=True)
    (config / "models.toml").write_text('[[model]]\nname = "listing-test/mine"\nadapter = "openai"\n'
                                        'model = "text-embedding-3-small"\nembed_dim = 16\n', encoding="utf-8")
    with_file = probe("models", env=env)
    assert "listing-test/mine" in with_file["out"], with_file["out"] + with_file["err"]
    assert probe("models", env=env)["heavy"] == []

    # A plugin installed (a distribution with an entry point appears on sys.path): shown at once.
    dist = site / "xalign_late-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xalign-late\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[mteb_xalign]\nlate = xalign_late\n", encoding="utf-8")
    (site / "xalign_late.py").write_text(PLUGIN, encoding="utf-8")
    installed = probe("models", env=env)
    assert "listing-test/late-plugin" in installed["out"], installed["out"] + installed["err"]

    # ... and removed: gone at once.
    shutil.rmtree(dist)
    assert "listing-test/late-plugin" not in probe("models", env=env)["out"]


def test_a_stored_listing_is_refused_once_a_file_it_read_changes(tmp_path, monkeypatch):
    from mteb_xalign import listing

    monkeypatch.chdir(tmp_path)
    read, folder = tmp_path / "models.toml", tmp_path / "listed"
    read.write_text("a", encoding="utf-8")
    folder.mkdir()
    with listing._Recorder(exclude=()) as recorder:
        read.read_text(encoding="utf-8")  # opened
        os.listdir(folder)  # listed
        Path("art/card.json").is_file()  # stat'ed, absent, relative: checked again from the next folder
        (tmp_path / "exists-dir").mkdir()
        os.path.isdir(tmp_path / "exists-dir")  # a folder only stat'ed: its entries do not matter
    inputs = {path: how for path, how, _ in recorder.inputs()}
    assert inputs[str(read)] == "read" and inputs[str(folder)] == "read" and inputs["art/card.json"] == "stat"
    assert inputs[str(tmp_path / "exists-dir")] == "stat"
    stored = tmp_path / "stored.json"
    listing._write(stored, listing.Listing([("T", "p", "Retrieval", 1, "map")], [], {}, "", recorder.inputs()))
    assert listing._read(stored).tasks == [("T", "p", "Retrieval", 1, "map")]
    (tmp_path / "exists-dir" / "new").write_text("x", encoding="utf-8")
    assert listing._read(stored) is not None  # only stat'ed: its entries were never read

    (folder / "new-entry").write_text("x", encoding="utf-8")
    assert listing._read(stored) is None  # a listed folder changed
    listing._write(stored, listing.Listing([], [], {}, "", [(p, h, listing._state(p, h)) for p, h, _ in
                                                            recorder.inputs()]))
    assert listing._read(stored) is not None
    (tmp_path / "elsewhere" / "art").mkdir(parents=True)
    (tmp_path / "elsewhere" / "art" / "card.json").write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert listing._read(stored) is None  # ./art/card.json exists from here
    monkeypatch.chdir(tmp_path)
    stamp = read.stat().st_mtime_ns
    read.write_text("b", encoding="utf-8")  # the same size, mtime put back: its ctime and content tell
    os.utime(read, ns=(stamp, stamp))
    assert listing._read(stored) is None  # a file it read was written


def test_a_process_that_imported_mteb_or_registered_plugins_by_hand_computes_live(monkeypatch):
    import mteb  # noqa: F401

    from mteb_xalign import listing

    assert not listing._cacheable_process()


def test_unknown_benchmark_is_one_sentence_with_a_suggestion(capsys):
    assert main(["run", "-b", "XAlgn", "-m", "xalign/use-multilingual-v3", "--output", "unused"]) == 1
    assert capsys.readouterr().err == ("xalign: error: unknown benchmark 'XAlgn'; did you mean XAlign? "
                                       "(see `mteb available-benchmarks`)\n")
