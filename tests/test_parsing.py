"""virsh's command language: the tokenizer and option binding, without running anything."""

from __future__ import annotations

import pytest

from pyvirsh.parsing import ArgvTokenizer, ParseError, StringTokenizer, bind, split_for_completion
from pyvirsh.tree import TREE


def words(text):
    return [(b.name, b.values) for b in bind(StringTokenizer(text), TREE)]


def test_positional_and_named_bind_the_same():
    assert words("domstate test --reason") == words("domstate --domain test --reason") \
        == words("domstate --reason --domain=test") == [("domstate", {"domain": "test", "reason": True})]


def test_optional_options_bind_positionally_in_declaration_order():
    assert words("blockcommit dom vda 0 /base.img")[0][1] == {"domain": "dom", "path": "vda",
                                                              "bandwidth": "0", "base": "/base.img"}
    assert words("snapshot-create-as --print-xml test name vda vdb")[0][1]["description"] == "vda"
    assert words("snapshot-create-as D --diskspec a --diskspec=b c")[0][1] == {
        "domain": "D", "diskspec": ["a", "b"], "name": "c"}


def test_named_only_options_are_never_positional():
    with pytest.raises(ParseError, match="unexpected data '//x'"):
        words("dumpxml test //x")


@pytest.mark.parametrize("text,message", [
    ("domstate", "command 'domstate' requires <domain> option"),
    ("blockresize test vda", "command 'blockresize' requires --size option"),
    ("domstate test x", "unexpected data 'x'"),
    ("domstate --domain", "expected syntax: --domain <string>"),
    ("domstate --dom test", "command 'domstate' doesn't support option --dom"),
    ("domstate test --reason --reason", "option --reason already seen"),
    ("domstate test --reason=1", "invalid '=' after option --reason"),
    ("echo --hi=x", "invalid '=' after option --hi"),
    ("echo --help=x", "invalid '=' after option --help"),
    ('echo "x', 'missing "'),
    ("echo x\\", "dangling \\"),
    ("echo a; nosuch", "unknown command: 'nosuch'"),
])
def test_parse_errors(text, message):
    with pytest.raises(ParseError) as err:
        words(text)
    assert str(err.value) == message


def test_help_option_turns_into_help_command():
    assert words("dominfo --help") == [("help", {"command": "dominfo"})]
    assert words("help domstate extra words") == [("help", {"command": "domstate"})]


def test_comments_quotes_and_separators():
    assert [w for w, _ in words("echo a # b; echo c\necho d")] == ["echo", "echo"]
    assert words("echo 'a;b' \"c d\" e\\ f")[0][1]["string"] == ["a;b", "c d", "e f"]
    assert words(";;echo x;")[0][1]["string"] == ["x"]


def test_argv_words_are_taken_as_they_are():
    bound = bind(ArgvTokenizer(["echo", "a;b", "#c"]), TREE)
    assert bound[0].values["string"] == ["a;b", "#c"]


def test_split_for_completion():
    assert split_for_completion("list; domstate te") == (["domstate"], "te", 2)
    assert split_for_completion("domstate ") == (["domstate"], "", 0)
    assert split_for_completion("dom") == ([], "dom", 3)


def test_lenient_binding_skips_errors_and_reports_where_it_stands():
    """TAB completion binds a command still being typed with the same binder, leniently."""
    from pyvirsh.parsing import CommandBinding
    from pyvirsh.tree import command

    specs = command("blockcommit").specs
    strict = CommandBinding("blockcommit", specs)
    with pytest.raises(ParseError, match="doesn't support option --nosuch"):
        strict.feed("--nosuch")
    lenient = CommandBinding("blockcommit", specs, lenient=True)
    for word in ["dom", "--nosuch", "--verbose", "--verbose=1", "vda", "--base"]:
        lenient.feed(word)
    assert lenient.values == {"domain": "dom", "verbose": True, "path": "vda"}
    assert specs[lenient.pending].name == "base"
    assert [specs[i].name for i in lenient.need][:2] == ["bandwidth", "base"]
    lenient.feed("/b.img")
    assert lenient.pending is None and lenient.finish().values["base"] == "/b.img"
    # What strict binding refuses at the end, lenient binding shows as state too.
    with pytest.raises(ParseError, match="expected syntax: --base <string>"):
        binding = CommandBinding("blockcommit", specs)
        for word in ["dom", "vda", "--base"]:
            binding.feed(word)
        binding.finish()
