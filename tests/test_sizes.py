"""One grammar for every WIDTHxHEIGHT flag (livestyle.core.sizes), with its bound. Issue 24 made the
three drifted copies one: a comma is accepted everywhere (it was refused by livestyle.video's
--output-size and training.synth's --frame-size), and Stylizer(output_size=) is bounded like the
video command's --output-size (it took any positive size)."""
from __future__ import annotations

import numpy as np
import pytest

from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import MAX_SIDE, parse_output_size, parse_size, read_wxh
from livestyle.model.generator import Generator
from livestyle.runtime.stylizer import Stylizer
from training import synth


@pytest.mark.parametrize("text", ["640x360", "640×360", " 640 X 360 ", "640,360"])
def test_every_spelling_reads_the_same(text):
    assert read_wxh(text, "--size") == (640, 360)
    assert parse_size(text, "--size") == (640, 360)
    assert parse_output_size(text, "--output-size") == (640, 360)


@pytest.mark.parametrize("text, fragment", [("640", "write WIDTHxHEIGHT"), ("640x", "write WIDTHxHEIGHT"),
                                            ("1" + "0" * 400 + "x360", f"at most {MAX_SIDE}")])
def test_bad_spellings_are_one_line(text, fragment):
    with pytest.raises(LivestyleError, match=fragment):
        read_wxh(text, "--size")


def test_output_sizes_are_bounded_everywhere():
    for bad in ["9000x100", (9000, 100), "1x100", (100, 0)]:
        with pytest.raises(LivestyleError, match=f"2 to {MAX_SIDE} pixels a side"):
            parse_output_size(bad)
    with pytest.raises(LivestyleError, match="--output-size 'input': write WIDTHxHEIGHT"):
        parse_output_size("input", "--output-size")  # the video command's flag: a size, nothing else


def test_the_stylizer_takes_the_shared_output_size_rule():
    generator = Generator(features=4)
    with pytest.raises(LivestyleError, match=f"output size 9000x30: write WIDTHxHEIGHT, 2 to {MAX_SIDE}"):
        Stylizer(generator, "torch-cpu", size=(32, 32), threads=1, output_size=(9000, 30))
    stylizer = Stylizer(generator, "torch-cpu", size=(32, 32), threads=1, output_size="90,30")
    assert stylizer(np.zeros((40, 50, 3), np.uint8)).shape == (30, 90, 3)


def test_synth_frame_size_takes_a_comma(tmp_path):
    assert synth.main(["frames", "--out", str(tmp_path / "a"), "--count", "10", "--frame-size", "64,36"]) == 0
