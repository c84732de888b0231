"""The annotation scanner: grammar, block ranges, stacking, TOML annotations, tree walking."""

from pathlib import Path
from textwrap import dedent

import pytest

from annotate.annotations import (
    parse_target,
    scan_file,
    scan_source,
    scan_toml,
    scan_tree,
)

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://www.rfc-editor.org/rfc/rfc9990#section-3"


def scan(text: str):
    return scan_source(dedent(text).lstrip("\n"), "x.py")


def only(text: str):
    annotations, errors = scan(text)
    assert errors == []
    assert len(annotations) == 1
    return annotations[0]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2", (3261, "17.1.1.2")),
        ("https://www.rfc-editor.org/rfc/rfc3261#section-8", (3261, "8")),
        ("https://www.rfc-editor.org/rfc/rfc3261#appendix-A", (3261, "A")),
        ("https://www.rfc-editor.org/rfc/rfc4475#appendix-A.1", (4475, "A.1")),
        ("https://www.rfc-editor.org/rfc/rfc3261.html#section-9", (3261, "9")),
        ("https://www.rfc-editor.org/rfc/rfc3261", None),
        ("https://www.rfc-editor.org/rfc/rfc3261#section-", None),
        ("https://www.rfc-editor.org/rfc/rfc3261#page-12", None),
        ("https://tools.ietf.org/html/rfc3261#section-8", None),
        ("rfc3261#section-8", None),
        ("https://www.rfc-editor.org/rfc/rfc3261#section-8 trailing", None),
    ],
)
def test_parse_target(target, expected):
    assert parse_target(target) == expected


def test_annotation_fields():
    a = only(
        f"""
        import x

        ##= {URL}
        ##= type=test
        ##= tracking-issue=12
        ##% Every widget MUST
        ##%   carry a name.
        def f():
            pass
        """
    )
    assert (a.path, a.line, a.rfc, a.section, a.type) == ("x.py", 3, 9990, "3", "test")
    assert a.target == URL
    assert a.meta == {"tracking-issue": "12"}
    assert a.quote == "Every widget MUST\n  carry a name."
    assert a.block == (8, 9)
    assert a.origin == "code"
    assert a.anchor == "section-3"


def test_type_defaults_to_implementation():
    a = only(f"##= {URL}\n##% q\nx = 1\n")
    assert a.type == "implementation"
    assert a.meta == {}


def test_block_of_decorated_function_with_multiline_signature():
    a = only(
        f"""
        ##= {URL}
        ##% q
        @decorator(
            1,
        )
        @other
        def f(
            a,
        ) -> int:
            x = 1

            return x


        y = 2
        """
    )
    assert a.block == (3, 12)


def test_block_of_class_includes_its_methods():
    a = only(
        f"""
        ##= {URL}
        ##% q
        @dataclass
        class C:
            a: int

            def m(self):
                return 1
        z = 3
        """
    )
    assert a.block == (3, 8)


def test_block_of_statement_group_stops_at_blank_line():
    a = only(
        f"""
        ##= {URL}
        ##% q
        A = 1
        B = (
            2,
        )

        C = 3
        """
    )
    assert a.block == (3, 6)


def test_statement_group_stops_before_a_def():
    a = only(
        f"""
        class C:
            ##= {URL}
            ##% q
            a = 1
            b = 2
            def g(self):
                pass
        """
    )
    assert a.block == (4, 5)


def test_nested_statement_group_stops_at_dedent():
    a = only(
        f"""
        def f(x):
            if x:
                y = 1
                ##= {URL}
                ##% q
                z = 2
                w = 3
            return y
        """
    )
    assert a.block == (6, 7)


def test_nested_compound_statement_is_one_block():
    a = only(
        f"""
        def f(x):
            ##= {URL}
            ##% q
            for i in x:
                if i:
                    break

            return x
        """
    )
    assert a.block == (4, 6)


def test_block_inside_an_except_handler():
    a = only(
        f"""
        try:
            x = 1
        except ValueError:
            ##= {URL}
            ##% q
            x = 2
            y = 3

            z = 4
        """
    )
    assert a.block == (6, 7)


def test_block_of_else_clause_by_indentation():
    a = only(
        f"""
        def f(a):
            if a:
                b = 1
            ##= {URL}
            ##% q
            else:
                b = 2
                c = 3
            return b
        """
    )
    assert a.block == (6, 8)


def test_block_at_end_of_file():
    a = only(f"x = 0\n\n##= {URL}\n##% q\ndef f():\n    return 1")
    assert a.block == (5, 6)


def test_blank_lines_and_comments_between_annotation_and_code_are_skipped():
    a = only(
        f"""
        ##= {URL}
        ##% q

        # why the code looks like this
        x = 1
        """
    )
    assert a.block == (5, 5)


def test_block_in_file_that_does_not_parse_uses_indentation():
    a = only(
        f"""
        ##= {URL}
        ##% q
        def f(:
            return 1
            return 2

        x = 1
        """
    )
    assert a.block == (3, 5)


def test_stacked_annotations_share_the_block():
    annotations, errors = scan(
        f"""
        ##= {URL}
        ##% Every widget MUST carry a name.
        ##= https://www.rfc-editor.org/rfc/rfc9990#section-3.1
        ##= type=exception
        ##= reason=Timer W stays constant.
        ##% and SHOULD double the value of timer W.
        ##= https://www.rfc-editor.org/rfc/rfc9991#section-2
        ##= type=test
        ##% A widget MAY ignore gadgets it does not know.
        def f():
            pass
        """
    )
    assert errors == []
    assert [(a.line, a.rfc, a.section, a.type) for a in annotations] == [
        (1, 9990, "3", "implementation"),
        (3, 9990, "3.1", "exception"),
        (7, 9991, "2", "test"),
    ]
    assert annotations[1].meta == {"reason": "Timer W stays constant."}
    assert {a.block for a in annotations} == {(10, 11)}


def test_a_plain_comment_splits_runs_but_not_the_block():
    annotations, errors = scan(
        f"""
        ##= {URL}
        ##% one
        # a remark
        ##= {URL}
        ##% two
        x = 1
        """
    )
    assert errors == []
    assert [a.block for a in annotations] == [(6, 6), (6, 6)]


def test_file_without_annotations_is_not_parsed():
    assert scan_source("def f(:\n  ## not an annotation\n", "x.py") == ([], [])
    assert scan_source("x = 1\n", "x.py") == ([], [])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("##% lonely\nx = 1\n", 1, "'##%' quote line not preceded by a '##=' target line"),
        ("##= type=test\nx = 1\n", 1, "meta line without a target URL line"),
        ("##= rfc3261#section-1\n##% q\nx = 1\n", 1, "malformed target"),
        (f"##= {URL}\nx = 1\n", 1, "annotation has no quote"),
        (f"##= {URL}\n##= colour=red\n##% q\nx = 1\n", 2, "unknown meta key 'colour'"),
        (f"##= {URL}\n##= type=impl\n##% q\nx = 1\n", 2, "unknown annotation type 'impl'"),
        (f"##= {URL}\n##= type=exception\n##% q\nx = 1\n", 1, "exception without a reason"),
        (f"##= {URL}\n##= level=OUGHT\n##% q\nx = 1\n", 2, "unknown level 'OUGHT'"),
        (f"##= {URL}\n##% q\n##= type=test\nx = 1\n", 3, "meta line 'type=' after the quote"),
        (f"##= {URL}\n##= reason=a\n##= reason=b\n##% q\nx=1\n", 3, "given twice"),
        (f"x = 1\n##= {URL}\n##% q\n", 2, "not followed by any code block"),
        (f"##= {URL}\n##= type=test\n##= type=todo\n##% q\nx = 1\n", 3, "'type' given twice"),
    ],
)
def test_grammar_errors_name_the_line(text, line, message):
    _, errors = scan_source(text, "pkg/mod.py")
    assert len(errors) == 1, errors
    assert errors[0].line == line
    assert message in errors[0].message
    assert str(errors[0]).startswith(f"pkg/mod.py:{line}: ")


TOML = """\
# skipped features

[[annotation]]
target = "https://www.rfc-editor.org/rfc/rfc9990#section-4"
type = "exception"
reason = "Out of scope."

[[annotation]]
target = "https://www.rfc-editor.org/rfc/rfc9990#appendix-A"
type = "todo"
tracking-issue = "7"
quote = '''Implementations MAY
log it.'''
"""


def test_toml_annotations():
    annotations, errors = scan_toml(TOML, "skip.annotations.toml")
    assert errors == []
    first, second = annotations
    assert (first.line, first.rfc, first.section, first.type) == (3, 9990, "4", "exception")
    assert first.meta == {"reason": "Out of scope."}
    assert first.quote == ""
    assert first.block is None
    assert first.origin == "toml"
    assert (second.line, second.section, second.type) == (8, "A", "todo")
    assert second.quote == "Implementations MAY\nlog it."
    assert second.meta == {"tracking-issue": "7"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[[annotation]]\ntarget = "x"\ntype = todo\n', 3, "malformed TOML"),
        ('[[annotation]]\ntype = "todo"\n', 1, "annotation has no 'target'"),
        (f'\n[[annotation]]\ntarget = "{URL}"\n', 2, "TOML annotation has no 'type'"),
        (f'[[annotation]]\ntarget = "{URL}"\ntype = "test"\n', 1, "type 'test' needs code"),
        (f'[[annotation]]\ntarget = "{URL}"\ntype = "todo"\nx = "1"\n', 1, "unknown key 'x'"),
        (f'[[annotation]]\ntarget = "{URL}"\ntype = "todo"\nquote = 3\n', 1, "must be a string"),
        (f'[[annotation]]\ntarget = "{URL}"\ntype = "exception"\n', 1, "without a reason"),
        (f'[[annotation]]\ntarget = "{URL}"\ntype = "skip"\n', 1, "unknown annotation type"),
        ('[[annotation]]\ntarget = "rfc1#s"\ntype = "todo"\n', 1, "malformed target"),
        ('[[annotations]]\ntarget = "x"\n', 1, "unknown top-level key(s) annotations"),
    ],
)
def test_toml_errors_name_the_line(text, line, message):
    _, errors = scan_toml(text, "a.annotations.toml")
    assert len(errors) == 1, errors
    assert (errors[0].path, errors[0].line) == ("a.annotations.toml", line)
    assert message in errors[0].message


def test_scan_file_reports_unreadable_file(tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes(b"# caf\xe9\n")
    annotations, errors = scan_file(path, "latin1.py")
    assert annotations == []
    assert len(errors) == 1
    assert str(errors[0]).startswith("latin1.py:1: cannot read file")


def test_scan_tree_reads_roots_only_and_skips_caches(tmp_path):
    source = f"##= {URL}\n##% q\nx = 1\n"
    for rel in (
        "rfc3261/a.py",
        "rfc3261/sub/b.py",
        "extensions/c.py",
        "conformance/d.py",
        "rfc3261/__pycache__/e.py",
        "rfc3261/.pytest_cache/f.py",
        "docs/g.py",
        "annotate/h.py",
        "rfc3261/notes.txt",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(source)
    (tmp_path / "extensions" / "skip.annotations.toml").write_text(
        f'[[annotation]]\ntarget = "{URL}"\ntype = "todo"\n'
    )
    (tmp_path / "extensions" / "exceptions.toml").write_text(
        f'[[annotation]]\ntarget = "{URL}"\ntype = "exception"\nreason = "r"\n'
    )
    (tmp_path / "extensions" / "pyproject.toml").write_text("[x]\n")
    annotations, errors = scan_tree(tmp_path)
    assert errors == []
    assert [a.path for a in annotations] == [
        "rfc3261/a.py",
        "rfc3261/sub/b.py",
        "extensions/c.py",
        "extensions/exceptions.toml",
        "extensions/skip.annotations.toml",
        "conformance/d.py",
    ]


def test_scan_tree_on_the_good_fixture():
    annotations, errors = scan_tree(FIXTURES / "good")
    assert errors == []
    by_place = {(a.path, a.line): a for a in annotations}
    widget = by_place[("rfc3261/widgets.py", 8)]
    assert widget.block == (11, 18)  # @dataclass class Widget with its method
    todo = by_place[("rfc3261/widgets.py", 27)]
    assert todo.block == (31, 32)  # the statement group up to the blank line
    assert todo.meta == {"tracking-issue": "42"}
    nested = by_place[("rfc3261/widgets.py", 39)]
    assert nested.block == (42, 44)  # the if statement inside timer_w
    stacked = [a for a in annotations if a.path == "rfc3261/widgets.py" and a.line in (47, 50)]
    assert [a.type for a in stacked] == ["implementation", "exception"]
    assert {a.block for a in stacked} == {(54, 55)}
    toml = [a for a in annotations if a.origin == "toml"]
    assert [(a.line, a.type, a.section) for a in toml] == [(3, "exception", "4"), (8, "todo", "A")]
