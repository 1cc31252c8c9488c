"""stylegram.errors: every failure told in one line."""

from stylegram.errors import LIMIT, describe, one_line, summary


def test_our_messages_escape_control_characters():
    assert one_line("'a\nb.png': no such file") == "'a\\nb.png': no such file"
    assert one_line("tab\there, é stays") == "tab\\there, é stays"


def test_a_library_message_is_folded_cut_and_typed():
    torch_like = RuntimeError(
        "Given groups=1, weight of size [64, 32, 3, 3],\n  expected input[1, 3, 8, 8]\n\n"
        + "x" * 500
    )
    text = describe(torch_like)
    assert "\n" not in text and text.startswith(
        "RuntimeError: Given groups=1, weight of size [64, 32, 3, 3], expected"
    )
    assert len(summary(torch_like)) == LIMIT + 3 and summary(KeyError()) == "KeyError"
